"""The generation hooks: bad answers stop generation naming the field; keys are generated fresh; a git repository."""

import importlib.util
import os
import re
import shutil
import stat
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pyseto
import pytest
from cookiecutter.environment import StrictEnvironment

from .conftest import TEMPLATE, bake_cli, env_values

ENV_PREFIX = "PASETO_APP_"  # of the default package name

# Import names that are not the distribution's name with "-" as "_", with what an extra installs beside it.
# Checked against the hook independently of its own table, so a wrong entry there shows here.
IMPORT_NAMES = {
    "libpass": ["passlib"],
    "argon2-cffi": ["argon2"],
    "markdown-it-py": ["markdown_it"],
    "python-multipart": ["multipart", "python_multipart"],
    "pydantic[email]": ["pydantic", "email_validator"],
    "psycopg[binary]": ["psycopg", "psycopg_binary"],
    "uvicorn[standard]": ["uvicorn", "uvloop", "httptools"],
    "opentelemetry-sdk": ["opentelemetry"],  # one namespace package for every opentelemetry-* distribution
    "opentelemetry-exporter-otlp-proto-http": ["opentelemetry"],
    "opentelemetry-instrumentation-fastapi": ["opentelemetry"],
    "opentelemetry-instrumentation-sqlalchemy": ["opentelemetry"],
}


@pytest.mark.parametrize(
    ("answer", "field"),
    [
        ("project_slug=Bad Slug", "project_slug"),
        ("project_slug=-leading", "project_slug"),
        ("package_name=my-package", "package_name"),
        ("package_name=1package", "package_name"),
        ("package_name=paseto", "package_name"),
        ("author_email=not-an-email", "author_email"),
        ('project_name=Say "hi"', "project_name"),
    ],
)
def test_bad_answer_stops_generation_naming_the_field(tmp_path: Path, answer: str, field: str) -> None:
    result = bake_cli(tmp_path, answer)
    assert result.returncode != 0
    assert f"ERROR: {field}:" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr, "one line per field, no traceback"
    assert not any(tmp_path.iterdir()), "nothing may be left behind"


@pytest.mark.parametrize(
    ("name", "slug", "package"),
    [
        ("Bob's Café Service", "bobs-cafe-service", "bobs_cafe_service"),
        ("Crème brûlée API!", "creme-brulee-api", "creme_brulee_api"),
        ("billing_service v2", "billing-service-v2", "billing_service_v2"),
    ],
)
def test_slug_and_package_are_derived_without_punctuation_or_accents(tmp_path: Path, name: str, slug: str, package: str) -> None:
    result = bake_cli(tmp_path, f"project_name={name}")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / slug / "src" / package / "main.py").is_file()
    assert f"# {name}" in (tmp_path / slug / "README.md").read_text()


@pytest.mark.parametrize(("answer", "field"), [("paseto_purpose=v2", "paseto_purpose"), ("database=mysql", "database")])
def test_choice_not_offered_stops_generation_in_one_line_naming_the_field(tmp_path: Path, answer: str, field: str) -> None:
    result = bake_cli(tmp_path, answer)
    assert result.returncode != 0
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"ERROR: {field}: "), result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert not any(tmp_path.iterdir()), "nothing may be left behind"


@pytest.mark.parametrize(
    ("name", "clash"),
    [
        ("class", "is a Python keyword"),
        ("match", "is a Python soft keyword"),
        ("calendar", "is a standard-library module"),
        ("uvicorn", "is the import name of the dependency uvicorn[standard]"),
    ],
)
def test_package_name_that_clashes_stops_generation_in_one_line(tmp_path: Path, name: str, clash: str) -> None:
    result = bake_cli(tmp_path, f"package_name={name}")
    assert result.returncode != 0
    assert result.stderr.splitlines() == [f"ERROR: package_name: {name!r} {clash}; pick another name"]
    assert not any(tmp_path.iterdir()), "nothing may be left behind"


@pytest.fixture(scope="module")
def pre_gen_hook(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """hooks/pre_gen_project.py rendered with valid answers and imported (its checks do not run on import)."""
    source = (TEMPLATE / "hooks" / "pre_gen_project.py").read_text()
    answers = {
        "project_name": "App",
        "project_slug": "app",
        "package_name": "app",
        "author_email": "a@example.com",
        "paseto_purpose": "local",
        "database": "sqlite",
    }
    path = tmp_path_factory.mktemp("hook") / "pre_gen_project.py"
    path.write_text(StrictEnvironment(keep_trailing_newline=True).from_string(source).render(cookiecutter=answers))
    spec = importlib.util.spec_from_file_location("pre_gen_project", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def template_requirements() -> list[str]:
    """The generated pyproject.toml's direct dependencies, runtime and dev, of every option.

    The template file with its Jinja tags stripped: both branches of an `{% if %}` are kept.
    """
    text = (TEMPLATE / "{{cookiecutter.project_slug}}" / "pyproject.toml").read_text()
    text = re.sub(r"\{\{.*?\}\}", "placeholder", re.sub(r"\{%.*?%\}", "", text))
    pyproject = tomllib.loads(text)
    return [*pyproject["project"]["dependencies"], *pyproject["dependency-groups"]["dev"]]


def import_names(requirement: str) -> list[str]:
    """`pydantic[email]>=2.7,<3` -> pydantic, email_validator."""
    match = re.match(r"[A-Za-z0-9._-]+(\[[^\]]*\])?", requirement)
    assert match, requirement
    name = match[0].lower()
    return IMPORT_NAMES.get(name, [name.replace("-", "_").replace(".", "_")])


def test_every_dependency_import_name_is_refused_as_package_name(pre_gen_hook: ModuleType) -> None:
    requirements = template_requirements()
    assert any(requirement.startswith("psycopg[binary]") for requirement in requirements), "the postgresql-only ones too"
    free = [
        f"{name} (of {requirement})"
        for requirement in requirements
        for name in import_names(requirement)
        if pre_gen_hook.package_clash(name) is None
    ]
    assert not free, f"add these to DEPENDENCY_IMPORTS in hooks/pre_gen_project.py: {free}"


@pytest.mark.parametrize(
    "name",
    [
        *["paseto", "pyseto", "fastapi", "sqlmodel", "passlib", "jinja2", "test", "tests", "site"],  # refused before
        *["starlette", "sqlalchemy", "pydantic_core", "anyio", "httpx", "cryptography", "uvloop", "httptools", "mako"],
        *["class", "match", "case", "type", "calendar", "tomllib", "cgi", "distutils"],
    ],
)
def test_package_name_clash_is_found(pre_gen_hook: ModuleType, name: str) -> None:
    assert pre_gen_hook.package_clash(name)


@pytest.mark.parametrize("name", ["app", "my_service", "bobs_cafe_service", "billing_v2"])
def test_free_package_name_is_accepted(pre_gen_hook: ModuleType, name: str) -> None:
    assert pre_gen_hook.package_clash(name) is None


def test_local_key_is_generated_fresh_for_each_project(bake: Callable[..., Path]) -> None:
    first = env_values(bake(project_slug="first", package_name="paseto_app"))
    second = env_values(bake(project_slug="second", package_name="paseto_app"))
    key = first[f"{ENV_PREFIX}PASETO_KEY"]
    assert key.startswith("k4.local.")
    assert key != second[f"{ENV_PREFIX}PASETO_KEY"]
    local = pyseto.Key.from_paserk(key)
    assert pyseto.decode(local, pyseto.encode(local, b"hello")).payload == b"hello"


def test_public_keys_are_a_matching_pair(bake: Callable[..., Path]) -> None:
    values = env_values(bake(paseto_purpose="public"))
    secret = pyseto.Key.from_paserk(values[f"{ENV_PREFIX}PASETO_KEY"])
    public = pyseto.Key.from_paserk(values[f"{ENV_PREFIX}PASETO_PUBLIC_KEY"])
    assert values[f"{ENV_PREFIX}PASETO_KEY"].startswith("k4.secret.")
    assert pyseto.decode(public, pyseto.encode(secret, b"signed")).payload == b"signed"


def test_env_is_private_and_git_ignored_and_example_holds_no_key(bake: Callable[..., Path]) -> None:
    project = bake()
    assert stat.S_IMODE((project / ".env").stat().st_mode) == 0o600
    assert ".env\n" in (project / ".gitignore").read_text()
    example = (project / ".env.example").read_text()
    assert f"\n{ENV_PREFIX}PASETO_KEY=\n" in example, "the example holds no key"
    documented = {line.split("=", 1)[0] for line in example.splitlines() if line and not line.startswith("#")}
    assert documented <= env_values(project).keys(), "the .env keeps every documented setting"


def git(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=project, capture_output=True, text=True, check=False)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_project_is_a_git_repository_with_its_files_staged_but_no_commit_nor_secret(bake: Callable[..., Path]) -> None:
    project = bake()
    assert (project / ".git").is_dir(), "`uv run pre-commit install` needs a git repository"
    assert git(project, "rev-parse", "--verify", "--quiet", "HEAD").returncode != 0, "no commit: the first one is the author's"
    assert git(project, "log").stdout == ""
    ignored = [".env", ".coverage", ".coverage.host.123", "coverage.xml", "htmlcov/index.html"]
    assert git(project, "check-ignore", *ignored).stdout.split() == ignored
    # Staged, so that `pre-commit run --all-files` right after generation checks them: every file but the secrets.
    staged = set(git(project, "ls-files").stdout.split())
    on_disk = {str(path.relative_to(project)) for path in project.rglob("*") if path.is_file() and ".git" not in path.parts}
    assert ".env" not in staged and ".env" in on_disk
    assert {"README.md", "pyproject.toml", "uv.lock", ".env.example", "src/paseto_app/main.py"} <= staged
    assert staged == on_disk - {".env"}, on_disk ^ staged


def test_without_git_generation_succeeds_without_a_repository(tmp_path: Path) -> None:
    path = tmp_path / "bin"  # the only folder on PATH: a python, no git
    path.mkdir()
    (path / "python").symlink_to(sys.executable)
    output = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--no-input", "--output-dir", str(output), str(TEMPLATE)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PATH": str(path)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    project = output / "paseto-app"
    assert (project / ".env").is_file()
    assert not (project / ".git").exists()
