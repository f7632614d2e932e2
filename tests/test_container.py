"""The container and CI files of every combination: linted, and the Dockerfile's own commands run.

There is no Docker engine here (nor base images), so the Dockerfile is replayed outside a container
(tests/dockerfile.py): a fresh folder stands for /app, each stage copies what its COPY lines copy (owned
as their --chown says, root otherwise) and runs what its RUN lines run; then the final CMD starts the
app as the image's USER, with the environment compose gives the service, and it must answer /ready and
its HEALTHCHECK must pass.
"""

import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from . import dockerfile
from .conftest import PREFIX, free_port, run, start, stop, wait_for
from .test_bake import COMBINATIONS

APP = "/app"  # the image's WORKDIR, which a folder of the test stands for


@pytest.mark.parametrize("answers", COMBINATIONS)
def test_container_and_ci_files_lint_clean(bake: Callable[..., Path], answers: dict[str, str]) -> None:
    project = bake(**answers)
    run(project, "hadolint", "Dockerfile")
    run(project, "actionlint", ".github/workflows/ci.yml")  # with shellcheck on PATH: run: scripts are checked too
    run(project, "docker-compose", "config", "--quiet")
    ignored = (project / ".dockerignore").read_text().splitlines()
    assert ignored[ignored.index("*")] == "*", "the build context starts from nothing"
    assert not [line for line in ignored if line.startswith("!") and ".env" in line], "no .env in the image"
    assert "{{" not in (project / ".github" / "workflows" / "ci.yml").read_text().replace("${{", "")


def in_app(value: str, app: Path) -> str:
    return re.sub(r"(?<![\w.])/app(?=/|:|$)", str(app), value)


def chown_tree(path: Path, uid: int, gid: int) -> None:
    for item in [path, *path.rglob("*")]:
        os.chown(item, uid, gid, follow_symlinks=False)


def everyone_can_run(path: Path) -> bool:
    return all(folder.stat().st_mode & stat.S_IXOTH for folder in [path.resolve(), *path.resolve().parents])


def shared_python() -> str:
    """A Python for the builder's `uv sync`, standing for the image's /usr/local/bin/python.

    The venv links to the Python it was made with, and the image's user (not root) runs it: pyenv's
    Pythons under /root (mode 0700) would not do, so uv is told to use one every user can run.
    """
    for candidate in (Path("/usr/local/bin/python3"), Path("/usr/bin/python3")):
        if candidate.is_file() and everyone_can_run(candidate):
            return str(candidate)
    pytest.fail("no Python >= 3.11 that every user can run in /usr/local/bin or /usr/bin", pytrace=False)


@pytest.fixture
def image_root() -> Iterator[Path]:
    """A folder the image's user can reach, unlike pytest's tmp_path (under a 0700 folder)."""
    folder = Path(tempfile.mkdtemp(prefix="image-", dir="/tmp"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def replay_stage(stage: dockerfile.Stage, context: Path, app: Path, env: dict[str, str], built: dict[str, Path]) -> list[str] | None:
    """Do what `docker build` does for one stage, in `app`; return its CMD, if any."""
    command = None
    for step in stage.instructions:
        if step.keyword == "WORKDIR":
            assert step.args == APP, "the tests stand a folder in for /app only"
            app.mkdir(exist_ok=True)
            app.chmod(0o755)  # as Docker makes it: root's, readable by all
        elif step.keyword == "ENV":
            env.update(
                {name: in_app(value, app).replace("$PATH", env["PATH"]) for name, value in dockerfile.env_assignments(step.args).items()}
            )
        elif step.keyword == "COPY":
            source_stage = step.flag("from")
            if source_stage and source_stage not in built:
                assert "astral-sh/uv" in source_stage, f"only uv's own image may be copied from: {source_stage}"
                continue  # the uv binary: this machine has uv already
            root = built[source_stage] if source_stage else context
            *sources, destination = shlex.split(step.args)
            target = app / destination.removeprefix(APP + "/").removeprefix("./")
            for source in sources:
                origin = root / source.removeprefix(APP + "/")
                into = target / origin.name if destination.endswith("/") else target
                if origin.is_dir():
                    shutil.copytree(origin, into, symlinks=True)  # the venv's python stays a link, as in a layer
                else:
                    shutil.copy2(origin, into)
                if owner := step.flag("chown"):
                    chown_tree(into, *dockerfile.ids(owner))  # without --chown the copy stays root's
        elif step.keyword == "RUN":
            binds = [mount for mount in dockerfile.mounts(step) if mount["type"] == "bind"]
            for mount in binds:  # present for this command only, as a bind mount is
                shutil.copy2(context / mount["source"], app / mount["target"])
            run(app, "sh", "-c", step.args, env=env)
            for mount in binds:
                (app / mount["target"]).unlink()
        elif step.keyword == "CMD":
            command = dockerfile.exec_form(step.args)
    return command


def last(stage: dockerfile.Stage, keyword: str) -> str:
    steps = [step for step in stage.instructions if step.keyword == keyword]
    assert steps, f"the image has a {keyword}"
    return steps[-1].args


def compose_service(project: Path, env: dict[str, str]) -> dict[str, Any]:
    """The app service as `docker compose up` runs it: env_file and environment merged, variables filled in."""
    config = json.loads(run(project, "docker-compose", "config", "--format", "json", env=env).stdout)
    return dict(config["services"]["app"])


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_the_dockerfiles_commands_build_and_start_the_app(
    bake: Callable[..., Path], image_root: Path, database: str, postgres_database: str
) -> None:
    if os.geteuid() != 0:
        pytest.fail("this test needs root (CI runs it as root): it runs the image's CMD as the image's USER, uid 10001", pytrace=False)
    project = bake(database=database)
    port = free_port()
    assert port != 8000
    with (project / ".env").open("a") as dotenv:  # as someone moving the server off 8000 would: the HEALTHCHECK must follow
        dotenv.write(f"UVICORN_PORT={port}\n")
    builder, final = dockerfile.parse(project / "Dockerfile")
    assert final.name is None and builder.name, "a builder stage, then the image"
    healthcheck = dockerfile.healthcheck(last(final, "HEALTHCHECK"))
    assert "/health" in " ".join(healthcheck)
    uid, gid = dockerfile.ids(last(final, "USER"))
    assert uid != 0, "the app does not run as root"
    base_env = {name: value for name, value in os.environ.items() if not name.startswith((PREFIX, "VIRTUAL_ENV", "UV_", "UVICORN_"))}
    service = compose_service(project, base_env)
    app = image_root / "app"

    replay_stage(builder, project, app, base_env | {"UV_PYTHON": shared_python()}, {})
    built = app.rename(image_root / "built")  # the builder's /app; the image's starts empty at the same path
    env = base_env | {"HOME": "/"}  # Docker's HOME for a user without a passwd entry
    command = replay_stage(final, project, app, env, {builder.name or "": built})
    assert command, "the image has a CMD"
    assert not (app / ".env").exists() and not (app / "src").exists(), "no .env, no sources: the package is installed"

    # The container's environment: the image's ENV, overridden by what compose gives (.env, then environment:).
    env |= {name: in_app(value, app) for name, value in service["environment"].items()}
    if database == "postgresql":
        # compose points the app at its `db` service; the test's own server stands in for it: only the URL changes.
        env[f"{PREFIX}DATABASE_URL"] = postgres_database  # not created yet: the start command creates it
    # A named volume starts as a copy of the image's folder, owner included: here that folder is the volume.
    volumes = [app / volume["target"].removeprefix(APP + "/") for volume in service.get("volumes", [])]
    assert all(volume["type"] == "volume" for volume in service.get("volumes", [])), "named volumes only"
    for volume in volumes:
        assert volume.is_dir() and volume.stat().st_uid == uid, f"the image's {volume.name}/ belongs to its USER"
    server = start(command, app, env=env, user=uid, group=gid, extra_groups=[])
    try:
        wait_for(f"http://127.0.0.1:{port}/ready", server)
        wait_for(f"http://127.0.0.1:{port}/health", server)
        check = subprocess.run(
            healthcheck, cwd=app, env=env, user=uid, group=gid, extra_groups=[], capture_output=True, text=True, timeout=30, check=False
        )
        said = (check.stdout + check.stderr).strip().splitlines()[-1:]
        assert check.returncode == 0, f"the HEALTHCHECK fails with UVICORN_PORT={port}: {said}"
    finally:
        output = stop(server)
    assert "database schema at head" in output, output
    if database == "sqlite":
        database_file = app / env[f"{PREFIX}DATABASE_URL"].removeprefix("sqlite:///")
        assert database_file.is_file() and database_file.parent in volumes, f"the database is on the volume: {database_file}"
