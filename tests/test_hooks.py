"""The generation hooks: bad answers stop generation naming the field; keys are generated fresh."""

import stat
from collections.abc import Callable
from pathlib import Path

import pyseto
import pytest

from .conftest import bake_cli, env_values

ENV_PREFIX = "PASETO_APP_"  # of the default package name


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
def test_choice_outside_the_list_is_refused_by_cookiecutter(tmp_path: Path, answer: str, field: str) -> None:
    result = bake_cli(tmp_path, answer)
    assert result.returncode != 0
    assert f"choice variable {field}" in result.stderr
    assert not any(tmp_path.iterdir())


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
