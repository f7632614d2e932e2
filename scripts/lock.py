"""Regenerate the generated project's uv.lock (a Jinja template) from fresh locks of both database options.

    bash scripts/lock.sh [--upgrade]

Bakes the SQLite and the PostgreSQL project with the default answers, locks each with uv, and merges
the two files package by package: what both share is written once, what only one needs is wrapped in
`{% if cookiecutter.database ... %}`, and the project's own name becomes `{{ cookiecutter.project_slug }}`.
uv accepts the merged file as up to date for every answer (tests/test_bake.py checks it with
`uv lock --check` and `uv sync --locked`); the template's tests then run on exactly these versions.
"""

import re
import subprocess
import sys
import tempfile
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[1]
TARGET = TEMPLATE / "{{cookiecutter.project_slug}}" / "uv.lock"
SLUG = "paseto-app"  # the default answer, replaced by the placeholder
# `{%-` eats the blank line before a tag: uv does not mind, and leaves such a file as it is.
POSTGRES, SQLITE, ENDIF = (
    '{%- if cookiecutter.database == "postgresql" %}',
    '{%- if cookiecutter.database != "postgresql" %}',
    "{%- endif %}\n",
)


def lock(database: str, work: Path, upgrade: bool) -> str:
    """Bake with this answer (its uv.lock is today's, rendered) and lock it: versions move only if they must."""
    subprocess.run(["cookiecutter", "--no-input", "-o", str(work / database), str(TEMPLATE), f"database={database}"], check=True)
    project = work / database / SLUG
    subprocess.run(["uv", "lock", *(["--upgrade"] if upgrade else [])], cwd=project, check=True)
    return (project / "uv.lock").read_text()


def blocks(lock_text: str) -> tuple[str, dict[str, str]]:
    """The header, and each `[[package]]` block by name."""
    header, *packages = re.split(r"(?m)^(?=\[\[package\]\]\n)", lock_text)
    return header, {re.search(r'^name = "([^"]+)"', block, re.M)[1]: block for block in packages}  # type: ignore[index]


def merge(sqlite_lock: str, postgres_lock: str) -> str:
    header, sqlite_blocks = blocks(sqlite_lock)
    postgres_header, postgres_blocks = blocks(postgres_lock)
    if header != postgres_header:
        sys.exit("lock.py: the two locks disagree on their header (requires-python or resolution markers); cannot merge")
    merged = [header]
    for name in sorted(sqlite_blocks.keys() | postgres_blocks.keys()):
        sqlite_block, postgres_block = sqlite_blocks.get(name), postgres_blocks.get(name)
        if sqlite_block == postgres_block:
            merged.append(sqlite_block or "")
        elif sqlite_block is None:
            merged.append(f"{POSTGRES}\n{postgres_block}{ENDIF}")
        elif postgres_block is None:
            merged.append(f"{SQLITE}\n{sqlite_block}{ENDIF}")
        else:
            merged.append(f"{POSTGRES}\n{postgres_block}{{%- else %}}\n{sqlite_block}{ENDIF}")
    return "".join(merged).replace(f'name = "{SLUG}"', 'name = "{{ cookiecutter.project_slug }}"')


def main() -> None:
    upgrade = "--upgrade" in sys.argv[1:]
    with tempfile.TemporaryDirectory() as work:
        merged = merge(lock("sqlite", Path(work), upgrade), lock("postgresql", Path(work), upgrade))
    TARGET.write_text(merged)
    print(f"lock.py: wrote {TARGET.relative_to(TEMPLATE)}")


if __name__ == "__main__":
    main()
