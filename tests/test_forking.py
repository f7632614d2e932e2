"""A forker adds a resource the way the generated README says, and the project's checks pass as they are.

A `bookmarks` resource, copied from the example `notes/` package and its test file with the README's
commands (renamed, nothing else changed), the migration that autogenerate writes, and one router
included in `main.py`. Nothing else is edited: the table reaches Alembic, the drift test and the tests'
`create_all` by itself, and its routes' refusals reach the OpenAPI document (and so the fuzz test) from
what they depend on. On both databases: the fuzz test runs on the project's own, so a value PostgreSQL
refuses (a NUL, an id beyond the column) is found there.
"""

import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import PREFIX, postgres_server, run, uv
from .test_bake import interpreter
from .test_readme import shell_block

# The statuses each operation documents, as the fuzz test reads them.
DOCUMENTED = """
import json
from paseto_app.main import create_app
from tests.conftest import make_settings
paths = create_app(make_settings("sqlite://")).openapi()["paths"]
print(json.dumps({path: {method: sorted(op["responses"]) for method, op in ops.items()} for path, ops in paths.items()}))
"""


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_new_resource_copied_from_notes_needs_its_own_files_and_one_router_in_main(
    bake: Callable[..., Path], database: str, postgres_database: str
) -> None:
    project = bake(database=database)
    package = project / "src" / "paseto_app"
    env = dict(os.environ)
    if database == "postgresql":  # the README's `migrate` makes this database; the tests make their own on the server
        env |= {f"{PREFIX}DATABASE_URL": postgres_database, "TEST_DATABASE_URL": postgres_server()}
    run(project, shutil.which("uv") or "uv", "sync", "--locked", "--quiet", "--python", interpreter("3.11"))
    run(project, "git", "add", "--all")
    run(project, "git", "-c", "user.name=Test", "-c", "user.email=test@example.com", "commit", "--quiet", "-m", "as generated")

    # The README's steps, as written: copy the example and rename it, include its router, write its migration.
    for command in shell_block(project, "Change the schema", "cp -r"):
        run(project, "bash", "-c", command)
    main = (package / "main.py").read_text()
    main = main.replace(
        "    app.include_router(users_router)\n", "    app.include_router(users_router)\n    app.include_router(bookmarks_router)\n"
    )
    main = main.replace("from .config import", "from .bookmarks.router import router as bookmarks_router\nfrom .config import")
    (package / "main.py").write_text(main)
    for command in shell_block(project, "Change the schema", "alembic revision --autogenerate"):
        run(project, "bash", "-c", command, env=env)
    (revision,) = [path for path in (project / "migrations" / "versions").glob("*.py") if "add_bookmarks" in path.name]
    assert re.search(r'op\.create_table\(\s*"bookmark"', revision.read_text()), revision.read_text()
    assert revision.read_text().count("op.create_table(") == 1  # only the new table: nothing else drifted
    uv(project, "ruff", "check", str(revision))
    uv(project, "ruff", "format", "--check", str(revision))  # the post-write hooks ran

    changed = run(project, "git", "status", "--porcelain", "--untracked-files=all").stdout.splitlines()
    touched = sorted(line[3:] for line in changed if not line[3:].endswith(".db"))
    copied = [f"src/paseto_app/bookmarks/{name}.py" for name in ("__init__", "models", "schemas", "service", "router")]
    assert touched == sorted(["src/paseto_app/main.py", *copied, "tests/test_bookmarks.py", str(revision.relative_to(project))]), touched
    diff = run(project, "git", "diff", "--unified=0", "src/paseto_app/main.py").stdout
    assert len([line for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]) == 2  # an import, an include

    # The project's own checks, untouched: lint and types, the drift test, the fuzz test, the new tests.
    uv(project, "ruff", "check", ".")
    uv(project, "ruff", "format", "--check", ".")
    uv(project, "mypy")
    responses = json.loads(uv(project, "python", "-c", DOCUMENTED).stdout)
    assert set(responses["/bookmarks"]["post"]) == {"201", "400", "401", "403", "413", "422", "503"}, responses
    assert set(responses["/bookmarks/{bookmark_id}"]["get"]) == {"200", "401", "404", "422", "503"}, responses
    assert set(responses["/bookmarks/{bookmark_id}"]["delete"]) == {"204", "401", "403", "404", "422", "503"}, responses
    tests = ("tests/test_migrations.py", "tests/test_openapi.py", "tests/test_bookmarks.py")
    uv(project, "pytest", "-q", "-p", "no:cacheprovider", *tests, env=env)
