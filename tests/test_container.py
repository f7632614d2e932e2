"""The container and CI files of every combination: linted, and the Dockerfile's own commands run.

There is no Docker engine here (nor base images), so the Dockerfile is replayed outside a container
(tests/dockerfile.py): a fresh folder stands for /app, each stage copies what its COPY lines copy and
runs what its RUN lines run, and the final CMD starts the app, which must then answer /ready.
"""

import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from . import dockerfile
from .conftest import PREFIX, env_values, free_port, run, stop, wait_for
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


def replay_stage(stage: dockerfile.Stage, context: Path, app: Path, env: dict[str, str], built: dict[str, Path]) -> list[str] | None:
    """Do what `docker build` does for one stage, in `app`; return its CMD, if any."""
    command = None
    for step in stage.instructions:
        if step.keyword == "WORKDIR":
            assert step.args == APP, "the tests stand a folder in for /app only"
            app.mkdir(exist_ok=True)
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
                (shutil.copytree if origin.is_dir() else shutil.copy2)(origin, into)
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


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_the_dockerfiles_commands_build_and_start_the_app(
    bake: Callable[..., Path], tmp_path: Path, database: str, postgres_database: str
) -> None:
    project = bake(database=database)
    builder, final = dockerfile.parse(project / "Dockerfile")
    assert final.name is None and builder.name, "a builder stage, then the image"
    assert any(step.keyword == "HEALTHCHECK" and "/health" in step.args for step in final.instructions)
    assert any(step.keyword == "USER" and not step.args.startswith(("0", "root")) for step in final.instructions)
    base_env = {name: value for name, value in os.environ.items() if not name.startswith((PREFIX, "VIRTUAL_ENV", "UV_PROJECT"))}
    app = tmp_path / "app"

    replay_stage(builder, project, app, dict(base_env), {})
    built = app.rename(tmp_path / "built")  # the builder's /app; the image's starts empty at the same path
    env = dict(base_env)
    command = replay_stage(final, project, app, env, {builder.name or "": built})
    assert command, "the image has a CMD"
    assert not (app / ".env").exists() and not (app / "src").exists(), "no .env, no sources: the package is installed"

    # As `docker run -e ...` would: the keys from .env, and (PostgreSQL) where the database is.
    keys = {name: value for name, value in env_values(project).items() if name.startswith(f"{PREFIX}PASETO_")}
    port = free_port()
    env |= keys | {"UVICORN_HOST": "127.0.0.1", "UVICORN_PORT": str(port)}
    if database == "postgresql":
        env[f"{PREFIX}DATABASE_URL"] = postgres_database  # not created yet: the start command creates it
    server = subprocess.Popen(
        command, cwd=app, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/ready", server)
        wait_for(f"http://127.0.0.1:{port}/health", server)
    finally:
        output = stop(server)
    assert "database schema at head" in output, output
