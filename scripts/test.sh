#!/usr/bin/env bash
# Run every test of the template on a fresh Debian/Ubuntu machine with Python >= 3.11:
# bakes every option combination and runs each generated project's suite, browser tests included.
# Installs what it needs: uv and the linters (pip), Chromium (apt) when no browser is present, Prometheus (apt),
# PostgreSQL (apt) when its server programs are missing, Node.js and npm (apt) for the federation tests, and
# starts a PostgreSQL server when none runs.
set -euo pipefail
cd "$(dirname "$0")/.."
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

python3 -m venv .venv-template
.venv-template/bin/pip install --quiet --upgrade pip uv
export PATH="$PWD/.venv-template/bin:$PATH"
uv pip install --quiet --python .venv-template/bin/python -r tests/requirements.txt

# Playwright cannot download its own browser without internet: use the OS's Chromium.
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null && ! ls ~/.cache/ms-playwright/chromium-* >/dev/null 2>&1; then
  echo "test.sh: installing Chromium from the OS packages"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
fi

# The generated projects' metrics test runs a real Prometheus server and promtool.
if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
  echo "test.sh: installing Prometheus from the OS packages"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q prometheus
fi

# The PostgreSQL projects' outage test starts a server of its own: it needs the server programs.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "test.sh: installing PostgreSQL from the OS packages"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql
fi

# The federation tests run a real OpenID Provider (oidc-provider, from npm) under Node: each baked
# project's fixture installs the package with npm; Node and npm come from the OS packages.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "test.sh: installing Node.js and npm from the OS packages"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm
fi

TEMPLATE_TEST_POSTGRES_URL=$(bash scripts/postgres.sh)
export TEMPLATE_TEST_POSTGRES_URL
exec .venv-template/bin/python -m pytest tests "$@"
