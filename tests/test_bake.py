"""Bake every option combination, check what comes out, and run each project's own test suite.

A project's suite runs in its own virtual environment (uv), its browser tests included: the bake
fails if any of its tests fails, if any is skipped, or if no browser test ran.
"""

import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

COMBINATIONS = [
    pytest.param({}, id="defaults-local-sqlite"),
    pytest.param({"paseto_purpose": "public"}, id="public-sqlite"),
    pytest.param({"database": "postgresql"}, id="local-postgresql"),
    pytest.param({"paseto_purpose": "public", "database": "postgresql"}, id="public-postgresql"),
]


def run(project: Path, *command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, cwd=project, capture_output=True, text=True, check=False, env=env)
    assert result.returncode == 0, f"{' '.join(command)} failed in {project.name}:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    return result


def uv(project: Path, *command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run(project, shutil.which("uv") or "uv", "run", "--quiet", *command, env=env)


def rendered_files(project: Path) -> list[Path]:
    return [path for path in project.rglob("*") if path.is_file() and ".venv" not in path.parts]


def test_renders_names_everywhere(bake: Callable[..., Path]) -> None:
    project = bake(project_name="Billing Service", author_email="ops@example.com")
    assert project.name == "billing-service"
    assert (project / "src" / "billing_service" / "paseto" / "auth.py").is_file()
    assert 'billing-service = "billing_service.cli:main"' in (project / "pyproject.toml").read_text()
    assert "BILLING_SERVICE_PASETO_KEY=k4.local." in (project / ".env").read_text()


@pytest.mark.parametrize("answers", COMBINATIONS)
def test_bake_lint_and_run_the_project_suite(bake: Callable[..., Path], answers: dict[str, str], tmp_path: Path) -> None:
    project = bake(**answers)
    leftovers = [str(path) for path in rendered_files(project) if "cookiecutter." in path.read_text(errors="replace")]
    assert not leftovers, f"unrendered template text in {leftovers}"
    postgres = answers.get("database") == "postgresql"
    pyproject = (project / "pyproject.toml").read_text()
    assert ("psycopg" in pyproject) is postgres
    run(project, "uv", "sync", "--quiet")
    uv(project, "ruff", "check", ".")
    uv(project, "ruff", "format", "--check", ".")
    uv(project, "mypy", "src", "tests")
    env = dict(os.environ)
    if postgres:
        if "TEMPLATE_TEST_POSTGRES_URL" not in os.environ:
            pytest.fail("a PostgreSQL server is needed: run scripts/test.sh (it finds or starts one) or set TEMPLATE_TEST_POSTGRES_URL")
        env["TEST_DATABASE_URL"] = os.environ["TEMPLATE_TEST_POSTGRES_URL"]
    report = tmp_path / "junit.xml"
    uv(project, "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}", env=env)
    cases = ET.parse(report).getroot().iter("testcase")
    outcomes = [(case.get("classname", ""), [child.tag for child in case]) for case in cases]
    e2e = [name for name, _ in outcomes if ".e2e." in name]
    not_passed = [(name, tags) for name, tags in outcomes if tags and set(tags) - {"system-out", "system-err", "properties"}]
    assert len(outcomes) > 100, f"only {len(outcomes)} tests ran"
    assert not not_passed, f"tests did not pass (skipped or failed): {not_passed}"
    assert len(e2e) >= 6, f"only {len(e2e)} browser tests ran"
    assert (project / "test-results" / "dashboard.png").stat().st_size > 10_000
