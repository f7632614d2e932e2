#!/usr/bin/env bash
# Benchmark a generated app against the published library and a bare FastAPI app, in one run:
# bakes default projects (SQLite and PostgreSQL), serves each with uvicorn and drives it with wrk.
# Installs what it needs: uv and cookiecutter (.venv-template), wrk (apt), PostgreSQL (scripts/postgres.sh).
# `bash scripts/bench.sh --help` lists the options; figures go to bench-results.json and a printed table.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
invocation="bash scripts/bench.sh"; if [ $# -gt 0 ]; then invocation+=$(printf ' %q' "$@"); fi
case " $* " in *" -h "* | *" --help "*) exec python3 "$repo/scripts/bench/bench.py" --help ;; esac

python3 -m venv "$repo/.venv-template"
"$repo/.venv-template/bin/pip" install --quiet --upgrade pip uv cookiecutter
export PATH="$repo/.venv-template/bin:$PATH"

if ! command -v wrk >/dev/null; then
  echo "bench.sh: installing wrk from the OS packages" >&2
  as_root apt-get update -q >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >&2
fi

BENCH_POSTGRES_URL=$(bash "$repo/scripts/postgres.sh")
BENCH_COMMAND="$invocation" BENCH_POSTGRES_URL="$BENCH_POSTGRES_URL" exec "$repo/.venv-template/bin/python" "$repo/scripts/bench/bench.py" "$@"
