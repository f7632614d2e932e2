"""A forker adds a resource the way the generated README says, and the project's checks pass as they are.

A `notes` resource: its table in `notes/models.py`, its routes in `notes/router.py`, the migration that
autogenerate writes, a test file, and one router included in `main.py`. Nothing else is edited: the
table reaches Alembic, the drift test and the tests' `create_all` by itself, and its routes' refusals
reach the OpenAPI document (and so the fuzz test) from what they depend on.
"""

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

from .conftest import run, uv
from .test_bake import interpreter
from .test_readme import shell_block

MODELS = '''\
"""A user's notes."""

from sqlmodel import Field, SQLModel


class Note(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="user.id", ondelete="CASCADE", index=True)
    text: str = Field(max_length=500)
'''

ROUTER = '''\
"""Notes: each user reads and writes their own."""

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field
from sqlmodel import select

from ..database import SessionDep
from ..errors import refusals
from ..users.dependencies import CurrentUser
from .models import Note

router = APIRouter(tags=["notes"])


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=500)


@router.post("/notes", status_code=status.HTTP_201_CREATED)
def add_note(body: NoteIn, user: CurrentUser, session: SessionDep) -> Note:
    """Keep a note."""
    assert user.id is not None
    note = Note(owner_id=user.id, text=body.text)
    session.add(note)
    session.commit()
    return note


@router.get("/notes/{note_id}", responses=refusals(404))
def read_note(note_id: int, user: CurrentUser, session: SessionDep) -> Note:
    """One of your notes."""
    note = session.exec(select(Note).where(Note.id == note_id, Note.owner_id == user.id)).first()
    if note is None:
        raise HTTPException(404, "No such note")
    return note
'''

TEST = '''\
"""Notes belong to their owner."""

from fastapi.testclient import TestClient

from .conftest import bearer


def test_a_note_is_kept_for_its_owner(client: TestClient, tokens: dict[str, str]) -> None:
    added = client.post("/notes", json={"text": "buy milk"}, headers=bearer(tokens["access_token"]))
    assert added.status_code == 201, added.text
    read = client.get(f"/notes/{added.json()['id']}", headers=bearer(tokens["access_token"]))
    assert read.json()["text"] == "buy milk"
    assert client.get("/notes/999", headers=bearer(tokens["access_token"])).json()["code"] == "not_found"
    assert client.post("/notes", json={"text": "x"}).json()["code"] == "missing_token"
'''


# The statuses each operation documents, as the fuzz test reads them.
DOCUMENTED = """
import json
from paseto_app.main import create_app
from tests.conftest import make_settings
paths = create_app(make_settings("sqlite://")).openapi()["paths"]
print(json.dumps({path: {method: sorted(op["responses"]) for method, op in ops.items()} for path, ops in paths.items()}))
"""


def test_a_new_resource_needs_its_own_files_and_one_router_in_main(bake: Callable[..., Path]) -> None:
    project = bake()
    package = project / "src" / "paseto_app"
    run(project, shutil.which("uv") or "uv", "sync", "--locked", "--quiet", "--python", interpreter("3.11"))
    run(project, "git", "add", "--all")
    run(project, "git", "-c", "user.name=Test", "-c", "user.email=test@example.com", "commit", "--quiet", "-m", "as generated")

    (package / "notes").mkdir()
    (package / "notes" / "models.py").write_text(MODELS)
    (package / "notes" / "router.py").write_text(ROUTER)
    (project / "tests" / "test_notes.py").write_text(TEST)
    main = (package / "main.py").read_text()
    main = main.replace(
        "    app.include_router(users_router)\n", "    app.include_router(users_router)\n    app.include_router(notes_router)\n"
    )
    main = main.replace("from .paseto import", "from .notes.router import router as notes_router\nfrom .paseto import")
    (package / "main.py").write_text(main)

    # The README's steps, as written.
    for command in shell_block(project, "Change the schema", "alembic revision --autogenerate"):
        run(project, "bash", "-c", command)
    (revision,) = [path for path in (project / "migrations" / "versions").glob("*.py") if "add_notes" in path.name]
    assert re.search(r'op\.create_table\(\s*"note"', revision.read_text()), revision.read_text()
    uv(project, "ruff", "check", str(revision))
    uv(project, "ruff", "format", "--check", str(revision))  # the post-write hooks ran

    changed = run(project, "git", "status", "--porcelain", "--untracked-files=all").stdout.splitlines()
    touched = sorted(line[3:] for line in changed if not line[3:].endswith(".db"))
    assert touched == sorted(
        [
            "src/paseto_app/main.py",
            "src/paseto_app/notes/models.py",
            "src/paseto_app/notes/router.py",
            "tests/test_notes.py",
            str(revision.relative_to(project)),
        ]
    ), touched
    diff = run(project, "git", "diff", "--unified=0", "src/paseto_app/main.py").stdout
    assert len([line for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]) == 2  # an import, an include

    # The project's own checks, untouched: lint and types, the drift test, the fuzz test, the new test.
    uv(project, "ruff", "check", ".")
    uv(project, "mypy")
    responses = json.loads(uv(project, "python", "-c", DOCUMENTED).stdout)
    assert set(responses["/notes"]["post"]) == {"201", "400", "401", "403", "413", "422", "503"}, responses
    assert set(responses["/notes/{note_id}"]["get"]) == {"200", "401", "404", "422", "503"}, responses
    uv(project, "pytest", "-q", "-p", "no:cacheprovider", "tests/test_migrations.py", "tests/test_openapi.py", "tests/test_notes.py")
