"""The docs name every setting as a user sets it: with the prefix (`{{ cookiecutter.package_name | upper }}_ACCESS_TOKEN_MINUTES`).

A bare `ACCESS_TOKEN_MINUTES` copied into `.env` does nothing (pydantic-settings reads only prefixed
names), and nothing says so: this test fails naming each bare one and where it is.
"""

import re
from pathlib import Path

from {{ cookiecutter.package_name }}.config import ENV_PREFIX, Settings
from {{ cookiecutter.package_name }}.web.markdown import heading_id

PROJECT = Path(__file__).resolve().parents[1]
UPPER_NAME = re.compile(r"\b[A-Z][A-Z0-9_]*[A-Z0-9]\b")  # a whole name: the prefix makes it a longer one


def documents() -> dict[str, str]:
    """What a user reads to configure the app: README.md, docs/*.md and the comments of .env.example."""
    texts = {path.name: path.read_text() for path in [PROJECT / "README.md", *sorted((PROJECT / "docs").glob("*.md"))]}
    example = (PROJECT / ".env.example").read_text().splitlines()
    texts[".env.example"] = "\n".join(line if line.startswith("#") else "" for line in example)
    return texts


def bare_settings(text: str) -> list[str]:
    """Each setting named without the prefix, as `NAME (line N)`."""
    # A setting read under a standard name of its own (OTEL_EXPORTER_OTLP_ENDPOINT) is written as it is read.
    settings = {name.upper() for name, field in Settings.model_fields.items() if field.validation_alias is None}
    return [f"{found[0]} (line {text.count(chr(10), 0, found.start()) + 1})" for found in UPPER_NAME.finditer(text) if found[0] in settings]


def test_the_docs_name_every_setting_with_its_prefix() -> None:
    bare = {name: found for name, text in documents().items() if (found := bare_settings(text))}
    assert not bare, f"write these as {ENV_PREFIX}NAME, as they go in .env: {bare}"


def test_a_bare_setting_is_found() -> None:
    assert bare_settings(f"set REFRESH_TOKEN_DAYS or\n`DATABASE_POOL_SIZE=5`, not {ENV_PREFIX}SESSION_MAX_DAYS") == [
        "REFRESH_TOKEN_DAYS (line 1)",
        "DATABASE_POOL_SIZE (line 2)",
    ]


def test_the_guide_summary_links_lead_to_its_sections() -> None:
    guide = (PROJECT / "docs" / "refresh-tokens.md").read_text()
    summary = guide.split("\n\nThis guide walks", 1)[0]  # the list between the title and the introduction
    items = re.findall(r"^\d+\. ", summary, flags=re.M)
    assert len(items) == 10, "the guide opens with its ten-line summary"
    headings = {heading_id(line.lstrip("#")) for line in guide.splitlines() if line.startswith("#")}
    linked = re.findall(r"\]\(#([\w-]+)\)", summary)
    assert len(linked) >= 10 and not set(linked) - headings, set(linked) - headings
