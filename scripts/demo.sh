#!/usr/bin/env bash
# Generate an app from this checkout with the default answers and serve it on http://127.0.0.1:8000.
# It creates a demo user with a random password (through the app's CLI) and prints the login.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv-template
.venv-template/bin/pip install --quiet --upgrade pip uv cookiecutter
export PATH="$PWD/.venv-template/bin:$PATH"

rm -rf demo
cookiecutter --no-input --output-dir demo .
cd demo/paseto-app
uv run --quiet paseto-app create-user demo --random-password
echo "Open http://127.0.0.1:8000/login (user: demo, password above); API docs at http://127.0.0.1:8000/docs"
exec uv run --quiet uvicorn paseto_app.main:create_app --factory --host 127.0.0.1 --port 8000
