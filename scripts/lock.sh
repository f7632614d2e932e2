#!/usr/bin/env bash
# Regenerate the generated project's uv.lock from both database options (scripts/lock.py explains).
# `--upgrade` moves every package to its newest version within the pyproject's bounds; run the tests after.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv-template
.venv-template/bin/pip install --quiet --upgrade pip uv cookiecutter
export PATH="$PWD/.venv-template/bin:$PATH"
exec python3 scripts/lock.py "$@"
