"""A database that goes down: every route answers within its timeouts (503, never a 500 or a hang), and the
app recovers by itself when the database is back.

The test runs its own throwaway PostgreSQL cluster (initdb + pg_ctl on a spare port) so that it can
stop and start it; it never touches a shared server. It needs PostgreSQL's server programs
(Debian: `apt-get install postgresql`); without them it fails and says so.
"""

import contextlib
import os
import shutil
import signal
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

from .conftest import PASSWORD, all_at_once, bearer, create_tables, free_port, make_settings

CONNECT_TIMEOUT = 2  # seconds, the shortest libpq allows
QUERY_TIMEOUT = 2
MAX_STALENESS = 3.0
BOUND = 2 * max(CONNECT_TIMEOUT, QUERY_TIMEOUT) + 1  # an answer that takes longer than this is a hang


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

    def processes(self) -> list[int]:
        """The server and every process it started (one per connection, and its workers)."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = [int(stat.parent.name) for stat in Path("/proc").glob("[0-9]*/stat") if _parent(stat) == postmaster]
        return [postmaster, *children]

    def freeze(self) -> None:
        """Stop every process of the server, as a frozen machine would: the kernel still accepts data."""
        for pid in self.processes():
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self.processes():
            os.kill(pid, signal.SIGCONT)


def _parent(stat: Path) -> int | None:
    try:
        return int(stat.read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


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


def outage(cluster: Cluster, begin: Callable[[], None], end: Callable[[], None]) -> dict[str, dict[str, tuple[int, str, float]]]:
    """Every route class while the database is out (then past the staleness bound), and after it is back."""
    create_tables(cluster.url)
    settings = make_settings(
        cluster.url,
        database_connect_timeout=CONNECT_TIMEOUT,
        database_pool_timeout=CONNECT_TIMEOUT,
        database_query_timeout=QUERY_TIMEOUT,
        revocation_max_staleness_seconds=MAX_STALENESS,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
            users_service.create_user(session, settings, "alice", PASSWORD)
        tokens = client.post("/login", json={"username": "alice", "password": PASSWORD}).json()
        access, refresh = bearer(tokens["access_token"]), bearer(tokens["refresh_token"])
        routes = {
            "GET /health (no database)": lambda: client.get("/health"),
            "GET /protected (token only)": lambda: client.get("/protected", headers=access),
            "GET /ready (database)": lambda: client.get("/ready"),
            "GET /users/me (reads)": lambda: client.get("/users/me", headers=access),
            "POST /login (writes, hashes)": lambda: client.post("/login", json={"username": "alice", "password": PASSWORD}),
            "POST /refresh (writes)": lambda: client.post("/refresh", headers=refresh),
        }
        begin()
        try:
            out = {name: timed(call) for name, call in routes.items()}
            time.sleep(MAX_STALENESS)
            stale = {"GET /protected (token only)": timed(routes["GET /protected (token only)"])}
        finally:
            end()
        deadline = time.monotonic() + 30
        while client.get("/ready").status_code != 200:
            assert time.monotonic() < deadline, "the app did not recover within 30 s of the database's return"
            time.sleep(0.2)
        time.sleep(settings.revocation_sync_seconds * 2)
        back = {name: timed(call) for name, call in routes.items()}
    print("\nroute | while out | past the staleness bound | after recovery")
    for name in routes:
        past = f"{stale[name][:2]} {stale[name][2]:.3f}s" if name in stale else ""
        print(f"{name} | {out[name][:2]} {out[name][2]:.3f}s | {past} | {back[name][:2]} {back[name][2]:.3f}s")
    return {"out": out, "stale": stale, "back": back}


def assert_answered_and_recovered(figures: dict[str, dict[str, tuple[int, str, float]]]) -> None:
    out, stale, back = figures["out"], figures["stale"], figures["back"]
    assert out["GET /health (no database)"][:2] == (200, "")
    assert out["GET /protected (token only)"][:2] == (200, ""), "token checks go on from the last revocation set read"
    for name in ("GET /ready (database)", "GET /users/me (reads)", "POST /login (writes, hashes)", "POST /refresh (writes)"):
        assert out[name][:2] == (503, "database_unavailable"), name
    assert stale["GET /protected (token only)"][:2] == (503, "database_unavailable"), "past the staleness bound, checks fail closed"
    assert all(elapsed < BOUND for _, _, elapsed in [*out.values(), *stale.values()]), "an answer, not a hang"
    assert {name: result[:2] for name, result in back.items()} == dict.fromkeys(back, (200, ""))


def test_a_database_that_is_down_is_answered_with_503_and_recovered_from(cluster: Cluster) -> None:
    assert_answered_and_recovered(outage(cluster, cluster.stop, cluster.start))


def test_a_database_that_hangs_is_answered_with_503_and_recovered_from(cluster: Cluster) -> None:
    # Its processes stopped: connections are accepted by the kernel, and nothing answers them.
    assert_answered_and_recovered(outage(cluster, cluster.freeze, cluster.thaw))


def test_a_burst_at_a_hung_database_is_answered_within_the_documented_bound(cluster: Cluster) -> None:
    # More requests than the pool has connections: some wait for one (pool timeout), then open one (connect
    # timeout) or use one the guard must cut (query timeout + its one-second beat). The README states this sum.
    create_tables(cluster.url)
    settings = make_settings(
        cluster.url,
        database_pool_size=5,
        database_connect_timeout=CONNECT_TIMEOUT,
        database_pool_timeout=CONNECT_TIMEOUT,
        database_query_timeout=QUERY_TIMEOUT,
    )
    documented = settings.database_pool_timeout + max(settings.database_connect_timeout, settings.database_query_timeout + 1)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
            users_service.create_user(session, settings, "alice", PASSWORD)
        access = bearer(client.post("/login", json={"username": "alice", "password": PASSWORD}).json()["access_token"])
        burst = 3 * (settings.database_pool_size or 0)
        cluster.freeze()
        try:
            answers = all_at_once([lambda: timed(lambda: client.get("/users/me", headers=access))] * burst)
        finally:
            cluster.thaw()
    slowest = max(elapsed for _, _, elapsed in answers)
    print(f"\n{burst} requests at a hung database: slowest answer {slowest:.2f} s (documented bound {documented:.0f} s)")
    assert {answer[:2] for answer in answers} == {(503, "database_unavailable")}
    assert slowest < documented + 2, f"the slowest answer took {slowest:.1f} s, past the documented {documented:.0f} s"
