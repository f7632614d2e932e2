#!/usr/bin/env bash
# Generate an app from this checkout with the default answers and serve it on http://127.0.0.1:8000,
# following the generated README: locked runtime dependencies, migrations, a demo user, uvicorn.
# The access token lives 30 s here, so the dashboard shows a refresh within a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv-template
.venv-template/bin/pip install --quiet --upgrade pip uv cookiecutter
export PATH="$PWD/.venv-template/bin:$PATH"

rm -rf demo
cookiecutter --no-input --output-dir demo .
cd demo/paseto-app
uv sync --locked --no-dev --quiet
uv run --no-dev paseto-app migrate
uv run --no-dev paseto-app create-user demo --email demo@example.com --random-password --exist-ok
echo "Open http://127.0.0.1:8000/login (user: demo, password above); API docs at http://127.0.0.1:8000/docs"
echo "A password reset for demo@example.com prints its mail here, the link on one line (console mail backend)"
export PASETO_APP_ACCESS_TOKEN_MINUTES=0.5
exec uv run --no-dev uvicorn paseto_app.main:create_app --factory --host 127.0.0.1 --port 8000
