"""A forker adds a field to the user the way the generated README says ("Add a field to the user"), on
PostgreSQL: the column, the snapshot and the public view, the migration autogenerate writes, a route that
changes it through `users_service.change_account`; then the project's own checks pass, and the change is
seen at once by the next request (no stale snapshot), with no existing test edited."""

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

from .conftest import PREFIX, postgres_server, run, uv
from .test_bake import interpreter
from .test_readme import shell_block

SECTION = "Add a field to the user"
ROUTE_IMPORTS = """\
from typing import Annotated

from pydantic import BaseModel, Field

from ..database import SessionDep
from . import service as users_service
from .schemas import Text
"""
TEST = '''\
"""The display name a forker added: set through the users service, seen at once."""

from fastapi.testclient import TestClient

from .conftest import bearer


def test_a_display_name_is_set_and_seen_at_once(client: TestClient, tokens: dict[str, str]) -> None:
    headers = bearer(tokens["access_token"])
    assert client.get("/users/me", headers=headers).json()["display_name"] is None  # remembered now
    changed = client.put("/users/me/display-name", json={"display_name": "Alice A."}, headers=headers)
    assert changed.status_code == 200, changed.text
    assert client.get("/users/me", headers=headers).json()["display_name"] == "Alice A."
    assert client.put("/users/me/display-name", json={"display_name": "a\\u0000b"}, headers=headers).status_code == 422
'''


def python_blocks(project: Path) -> list[str]:
    text = (project / "README.md").read_text().split(f"## {SECTION}", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", text, re.DOTALL)


def add_fields(package: Path, block: str) -> None:
    """Each `# <file>, in class <Name>` line of the README is followed by the field to put into that class."""
    lines = block.splitlines()
    for comment, field in zip(lines[::2], lines[1::2], strict=True):
        where = re.fullmatch(r"# (\S+), in class (\w+).*", comment)
        assert where, comment
        module = package / where[1]
        source = module.read_text()
        body = re.compile(rf"^class {where[2]}\b", re.M).search(source)
        assert body, f"no class {where[2]} in {module}"
        first_field = re.compile(r"^    \w+: ", re.M).search(source, body.end())
        assert first_field, f"no field in {where[2]}"
        module.write_text(source[: first_field.start()] + f"    {field}\n" + source[first_field.start() :])


def test_a_field_added_to_the_user_the_readmes_way(bake: Callable[..., Path], postgres_database: str) -> None:
    project = bake(database="postgresql")
    package = project / "src" / "paseto_app"
    env_file = project / ".env"
    database = f"{PREFIX}DATABASE_URL={postgres_database}"
    env_file.write_text(re.sub(rf"^{PREFIX}DATABASE_URL=.*$", database, env_file.read_text(), flags=re.M))
    run(project, shutil.which("uv") or "uv", "sync", "--locked", "--quiet", "--python", interpreter("3.11"))
    uv(project, "paseto-app", "migrate")  # the database at the current head first

    fields, route = python_blocks(project)
    add_fields(package, fields)
    router = package / "users" / "router.py"
    source = router.read_text().replace("from fastapi import APIRouter\n", f"from fastapi import APIRouter\n{ROUTE_IMPORTS}")
    router.write_text(source + "\n\n" + route)
    uv(project, "ruff", "check", "--fix", "--quiet", str(router))  # what the forker's pre-commit does: sort the imports
    (project / "tests" / "test_display_name.py").write_text(TEST)
    for command in shell_block(project, SECTION, "alembic revision --autogenerate"):
        run(project, "bash", "-c", command)
    (revision,) = [path for path in (project / "migrations" / "versions").glob("*.py") if "display_name" in path.name]
    assert re.search(r'add_column\(\s*"user",\s*sa\.Column\(\s*"display_name"', revision.read_text()), revision.read_text()

    uv(project, "ruff", "check", ".")
    uv(project, "ruff", "format", "--check", ".")
    uv(project, "mypy")
    env = {**os.environ, "TEST_DATABASE_URL": postgres_server()}
    checks = ["tests/test_migrations.py", "tests/test_user_snapshots.py", "tests/test_users_api.py", "tests/test_display_name.py"]
    uv(project, "pytest", "-q", "-p", "no:cacheprovider", *checks, "tests/test_openapi.py", env=env)
