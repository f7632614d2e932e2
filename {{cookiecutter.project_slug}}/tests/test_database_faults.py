"""A database that goes down: every route answers within its timeouts (503, never a 500 or a hang), and the
app recovers by itself when the database is back.

The test runs its own throwaway PostgreSQL cluster (initdb + pg_ctl on a spare port) so that it can
stop and start it; it never touches a shared server. It needs PostgreSQL's server programs
(Debian: `apt-get install postgresql`); without them it fails and says so.
"""

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.users import service as users_service

from .conftest import PASSWORD, bearer, create_tables, free_port, make_settings

CONNECT_TIMEOUT = 2  # seconds, the shortest libpq allows
MAX_STALENESS = 3.0
BOUND = 2 * CONNECT_TIMEOUT + 1  # a refusal that takes longer than this is a hang


def postgres_bin() -> Path:
    found = shutil.which("pg_ctl") or next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), reverse=True)), None)
    if not found:
        pytest.fail("these tests need PostgreSQL's server programs (initdb, pg_ctl): apt-get install -y postgresql", pytrace=False)
    return Path(found).parent


@dataclass
class Cluster:
    """A PostgreSQL server of the test's own, which the test may stop and start."""

    bin: Path
    data: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _pg(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.data} -c fsync=off"
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.data / "server.log"), "-o", options, "-w", "start")

    def stop(self) -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    base = Path(tempfile.mkdtemp(prefix="pg-faults-"))
    base.chmod(0o755)
    data = base / "data"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(data, "postgres")
    found = Cluster(postgres_bin(), data, free_port())
    found._pg("initdb", "-D", str(data), "-U", "postgres", "-A", "trust")
    found.start()
    yield found
    with contextlib.suppress(subprocess.CalledProcessError):  # stopped by the test already
        found.stop()
    shutil.rmtree(base, ignore_errors=True)


def timed(call: Callable[[], httpx2.Response]) -> tuple[int, str, float]:
    """Status, error code (if any) and seconds taken."""
    started = time.monotonic()
    response = call()
    return response.status_code, response.json().get("code", ""), time.monotonic() - started


def test_a_database_outage_is_answered_with_503_and_recovered_from(cluster: Cluster) -> None:
    create_tables(cluster.url)
    settings = make_settings(
        cluster.url,
        database_connect_timeout=CONNECT_TIMEOUT,
        database_pool_timeout=CONNECT_TIMEOUT,
        revocation_max_staleness_seconds=MAX_STALENESS,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
            users_service.create_user(session, settings, "alice", PASSWORD)
        tokens = client.post("/login", json={"username": "alice", "password": PASSWORD}).json()
        access, refresh = bearer(tokens["access_token"]), bearer(tokens["refresh_token"])
        routes = {
            "GET /health (no database)": lambda: client.get("/health"),
            "GET /ready (database)": lambda: client.get("/ready"),
            "GET /protected (token only)": lambda: client.get("/protected", headers=access),
            "GET /users/me (reads)": lambda: client.get("/users/me", headers=access),
            "POST /login (writes, hashes)": lambda: client.post("/login", json={"username": "alice", "password": PASSWORD}),
            "POST /refresh (writes)": lambda: client.post("/refresh", headers=refresh),
        }

        cluster.stop()
        down = {name: timed(call) for name, call in routes.items()}
        time.sleep(MAX_STALENESS)
        stale = timed(routes["GET /protected (token only)"])
        cluster.start()
        deadline = time.monotonic() + 30
        while client.get("/ready").status_code != 200:
            assert time.monotonic() < deadline, "the app did not recover within 30 s of the database's return"
            time.sleep(0.2)
        time.sleep(settings.revocation_sync_seconds * 2)
        back = {name: timed(call) for name, call in routes.items()}

    print("\nroute | while down | token check after the staleness bound | after recovery")
    for name in routes:
        print(f"{name} | {down[name][:2]} {down[name][2]:.3f}s | | {back[name][:2]} {back[name][2]:.3f}s")
    print(f"GET /protected after {MAX_STALENESS}s down | | {stale[:2]} {stale[2]:.3f}s |")

    assert down["GET /health (no database)"][:2] == (200, "")
    assert down["GET /protected (token only)"][:2] == (200, ""), "token checks go on from the last revocation set read"
    for name in ("GET /ready (database)", "GET /users/me (reads)", "POST /login (writes, hashes)", "POST /refresh (writes)"):
        assert down[name][:2] == (503, "database_unavailable"), name
    assert stale[:2] == (503, "database_unavailable"), "past the staleness bound, token checks fail closed"
    assert all(elapsed < BOUND for _, _, elapsed in [*down.values(), stale])
    assert {name: result[:2] for name, result in back.items()} == {
        "GET /health (no database)": (200, ""),
        "GET /ready (database)": (200, ""),
        "GET /protected (token only)": (200, ""),
        "GET /users/me (reads)": (200, ""),
        "POST /login (writes, hashes)": (200, ""),
        "POST /refresh (writes)": (200, ""),
    }
