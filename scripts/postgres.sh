#!/usr/bin/env bash
# Print the URL of a PostgreSQL server the tests may create databases on, starting one if needed.
#   1. $TEMPLATE_TEST_POSTGRES_URL if set;
#   2. a server already on 127.0.0.1:5432 that lets `postgres` in without a password;
#   3. otherwise a throwaway cluster (trust auth, loopback only) on port 54329, installed from apt if missing.
set -euo pipefail
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
log() { echo "postgres.sh: $*" >&2; }

if [ -n "${TEMPLATE_TEST_POSTGRES_URL:-}" ]; then echo "$TEMPLATE_TEST_POSTGRES_URL"; exit 0; fi

if command -v psql >/dev/null && psql -h 127.0.0.1 -p 5432 -U postgres -d postgres -tAc 'select 1' >/dev/null 2>&1 </dev/null; then
  echo "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"; exit 0
fi

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bindir" ]; then
  log "installing PostgreSQL from the OS packages"
  as_root apt-get update -q >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2
  bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi

data=/tmp/paseto-app-test-pg
port=54329
owner=$(id -un)
[ "$owner" = root ] && owner=postgres  # initdb refuses to run as root
run_as() { if [ "$(id -un)" = "$owner" ]; then "$@"; else as_root runuser -u "$owner" -- "$@"; fi; }
if ! run_as "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
  if [ ! -f "$data/PG_VERSION" ]; then
    as_root rm -rf "$data"; as_root mkdir -p "$data"; as_root chown "$owner" "$data"
    run_as "$bindir/initdb" -D "$data" -U postgres -A trust >&2
  fi
  log "starting a throwaway server on 127.0.0.1:$port"
  run_as "$bindir/pg_ctl" -D "$data" -l "$data/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$data -c fsync=off" start >&2
fi
echo "postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
