"""Bake every option combination, check what comes out, and run each project's own test suite.

A project's suite runs in its own virtual environment (uv, from the shipped uv.lock), its browser
tests included: the bake fails if any of its tests fails, if any is skipped, or if too few browser
tests ran. The default combination also runs on every Python the project declares, with coverage.
"""

import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import postgres_server, run, uv

COMBINATIONS = [
    pytest.param({}, id="defaults-local-sqlite"),
    pytest.param({"paseto_purpose": "public"}, id="public-sqlite"),
    pytest.param({"database": "postgresql"}, id="local-postgresql"),
    pytest.param({"paseto_purpose": "public", "database": "postgresql"}, id="public-postgresql"),
]
SUITES = [
    *(pytest.param(param.values[0], "3.11", id=f"{param.id}-py3.11") for param in COMBINATIONS),
    pytest.param({}, "3.12", id="defaults-local-sqlite-py3.12"),
    pytest.param({}, "3.13", id="defaults-local-sqlite-py3.13"),
]
SCREENSHOTS = ["dashboard-before-refresh.png", "dashboard-after-refresh.png", "login-logged-out.png"]


def interpreter(version: str) -> str:
    """A Python of this version on this machine: uv must not download one (there may be no internet)."""
    candidates = [
        *sorted(Path.home().glob(f".pyenv/versions/{version}.*/bin/python{version}"), reverse=True),
        Path(f"/usr/bin/python{version}"),
        Path(f"/usr/local/bin/python{version}"),
    ]
    for candidate in candidates:
        if candidate.is_file() and subprocess.run([str(candidate), "--version"], capture_output=True, check=False).returncode == 0:
            return str(candidate)
    pytest.fail(f"no Python {version} here: install it (e.g. `pyenv install {version}`) to test the projects on it", pytrace=False)


def rendered_files(project: Path) -> list[Path]:
    return [path for path in project.rglob("*") if path.is_file() and ".venv" not in path.parts and ".git" not in path.parts]


def test_renders_names_everywhere(bake: Callable[..., Path]) -> None:
    project = bake(project_name="Billing Service", author_email="ops@example.com")
    assert project.name == "billing-service"
    assert (project / "src" / "billing_service" / "paseto" / "auth.py").is_file()
    assert 'billing-service = "billing_service.cli:main"' in (project / "pyproject.toml").read_text()
    assert 'name = "billing-service"' in (project / "uv.lock").read_text()
    assert "BILLING_SERVICE_PASETO_KEY=k4.local." in (project / ".env").read_text()


@pytest.mark.parametrize(("answers", "python"), SUITES)
def test_bake_lint_and_run_the_project_suite(bake: Callable[..., Path], answers: dict[str, str], python: str, tmp_path: Path) -> None:
    project = bake(**answers)
    leftovers = [str(path) for path in rendered_files(project) if "cookiecutter." in path.read_text(errors="replace")]
    assert not leftovers, f"unrendered template text in {leftovers}"
    postgres = answers.get("database") == "postgresql"
    assert ("psycopg" in (project / "pyproject.toml").read_text()) is postgres
    assert (project / "tests" / "test_database_faults.py").exists() is postgres

    uv_command = shutil.which("uv") or "uv"
    run(project, uv_command, "lock", "--check")  # the shipped lock matches the pyproject
    run(project, uv_command, "sync", "--locked", "--quiet", "--python", interpreter(python))
    # The project's own pre-commit hooks: ruff, ruff format, mypy and file hygiene, all clean on a fresh bake,
    # run as the README says, right after generation: the post-generation hook staged the files. Once per
    # answers, as the project's CI lints once: the other Pythons' bakes are the same files (mypy checks for 3.11).
    if python == "3.11":
        uv(project, "pre-commit", "run", "--all-files")

    env = dict(os.environ)
    if postgres:
        env["TEST_DATABASE_URL"] = postgres_server()
    report = tmp_path / "junit.xml"
    coverage = ["--cov"] if not answers and python == "3.11" else []  # fails under the project's fail_under
    # A time limit against a hang, not a speed test: on a busy machine, four suites at once each took over 15 minutes.
    uv(project, "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}", *coverage, env=env, timeout=2400)
    cases = ET.parse(report).getroot().iter("testcase")
    outcomes = [(case.get("classname", ""), [child.tag for child in case]) for case in cases]
    e2e = [name for name, _ in outcomes if ".e2e." in name]
    not_passed = [(name, tags) for name, tags in outcomes if tags and set(tags) - {"system-out", "system-err", "properties"}]
    print(f"{project.name} on Python {python}: {len(outcomes)} tests passed, {len(e2e)} of them in Chromium")
    assert len(outcomes) > 250, f"only {len(outcomes)} tests ran"
    assert not not_passed, f"tests did not pass (skipped or failed): {not_passed}"
    assert len(e2e) >= 10, f"only {len(e2e)} browser tests ran"
    for screenshot in SCREENSHOTS:
        assert (project / "test-results" / screenshot).stat().st_size > 10_000, screenshot
