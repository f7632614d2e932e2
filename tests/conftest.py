"""Baking helpers for the template's tests: generate projects, run their commands, give them a database."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parents[1]
PREFIX = "PASETO_APP_"  # of the default package name

# What a test costs, roughly (minutes of one core): the longest start first, so that the last ones to
# finish are short. A project's full suite, then the tests that sync a project and run some of its checks.
COSTS = {
    "tests/test_bake.py::test_bake_lint_and_run_the_project_suite": 6,
    "tests/test_cruft.py::": 2,
    "tests/test_user_field.py::": 2,
    "tests/test_forking.py::": 2,
    "tests/test_container.py::test_the_dockerfiles_commands_build_and_start_the_app": 1,
    "tests/test_readme.py::": 1,
}


def cost(item: pytest.Item) -> float:
    found = [minutes for prefix, minutes in COSTS.items() if item.nodeid.startswith(prefix)]
    coverage = "[defaults-local-sqlite-py3.11]" in item.nodeid  # the suite under coverage runs longer still
    return (found[0] if found else 0) + coverage


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Longest first: xdist's `load` scheduling (pyproject.toml) hands tests out in this order."""
    items.sort(key=cost, reverse=True)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """One bake more than cores: a project's suite spends part of its time waiting (its browser's timers,
    servers and worker processes starting, PostgreSQL), which a third bake fills on two cores. Not two per
    core: beside the other work of a busy machine, four suites at once took each past its time limit."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return int(os.environ["PYTEST_XDIST_AUTO_NUM_WORKERS"])
    return len(os.sched_getaffinity(0)) + 1


@pytest.fixture
def bake(tmp_path: Path) -> Callable[..., Path]:
    """Generate a project with the given answers (defaults for the rest); return its folder."""

    def run(**answers: Any) -> Path:
        output = tmp_path / "out"
        return Path(cookiecutter(str(TEMPLATE), no_input=True, extra_context=answers, output_dir=str(output)))

    return run


def bake_cli(tmp_path: Path, *answers: str) -> subprocess.CompletedProcess[str]:
    """Run cookiecutter as a user would, answers as key=value."""
    return subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--no-input", "--output-dir", str(tmp_path), str(TEMPLATE), *answers],
        capture_output=True,
        text=True,
        check=False,
    )


def run(folder: Path, *command: str, env: dict[str, str] | None = None, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """Run a command in a folder; fail the test with its output if it fails."""
    result = subprocess.run(command, cwd=folder, capture_output=True, text=True, check=False, env=env, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(command)} failed in {folder}:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    return result


def uv(project: Path, *command: str, env: dict[str, str] | None = None, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return run(project, shutil.which("uv") or "uv", "run", "--frozen", "--quiet", *command, env=env, timeout=timeout)


def env_values(project: Path) -> dict[str, str]:
    lines = (project / ".env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def postgres_server() -> str:
    url = os.environ.get("TEMPLATE_TEST_POSTGRES_URL")
    if not url:
        pytest.fail("a PostgreSQL server is needed: run scripts/test.sh (it finds or starts one) or set TEMPLATE_TEST_POSTGRES_URL")
    return url


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """The URL of a database that does not exist yet on the test server (dropped afterwards if made)."""
    server = postgres_server()
    name = f"template_{uuid.uuid4().hex[:12]}"
    yield server.rsplit("/", 1)[0] + f"/{name}"
    subprocess.run(["psql", server.replace("+psycopg", ""), "-qc", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], check=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(url: str, process: subprocess.Popen[str], seconds: float = 60) -> None:
    """Poll until the URL answers 200; fail with the process's output if it exits or never answers."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited ({process.returncode}):\n{process.stdout.read() if process.stdout else ''}", pytrace=False)
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own loopback server
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    pytest.fail(f"{url} did not answer within {seconds:.0f} s", pytrace=False)


def start(command: list[str], cwd: Path, **options: Any) -> subprocess.Popen[str]:
    """Start a server in a process group of its own (`stop` ends it and its children), its output kept."""
    output = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}
    return subprocess.Popen(command, cwd=cwd, start_new_session=True, **output, **options)


def stop(process: subprocess.Popen[str]) -> str:
    """Stop a server started in its own process group; return what it printed."""
    if process.poll() is None:
        os.killpg(process.pid, 15)
    output, _ = process.communicate(timeout=30)
    return output or ""
