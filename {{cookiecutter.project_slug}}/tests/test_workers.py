"""Several worker processes share one database: a session started, refreshed and ended on different workers
stays correct, and a logout on one worker is honoured by the other within the revocation read interval.

Runs `uvicorn --workers 2` as a user would. Each HTTP connection stays with one worker; the security
log lines carry the worker's process id, which tells which connection reached which worker.
"""

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from sqlmodel import Session

from {{ cookiecutter.package_name }}.config import ENV_PREFIX
from {{ cookiecutter.package_name }}.database import make_engine
from {{ cookiecutter.package_name }}.users import service as users_service

from .conftest import PASSWORD, bearer, create_tables, free_port, make_settings

SYNC_SECONDS = 0.2
DEADLINE_SECONDS = 60  # for anything that waits on the server: generous, for a busy machine
KEEP_ALIVE_SECONDS = 600  # a kept connection stays with its worker for the whole test, however slow
USERS = 8


@pytest.fixture
def two_workers(database_url: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    create_tables(database_url)
    settings = make_settings(database_url, revocation_sync_seconds=SYNC_SECONDS, trusted_hosts=["127.0.0.1"])
    engine = make_engine(settings)
    with Session(engine) as session:
        for n in range(USERS):
            users_service.create_user(session, settings, f"user{n}", PASSWORD)
    engine.dispose()
    variables = {f"{ENV_PREFIX}{name.upper()}": _env_value(value) for name, value in settings.model_dump().items() if value is not None}
    env = {**os.environ, **variables}
    port, log = free_port(), tmp_path / "server.log"
    command = [sys.executable, "-m", "uvicorn", "{{ cookiecutter.package_name }}.main:create_app", "--factory", "--workers", "2"]
    options = ["--host", "127.0.0.1", "--port", str(port), "--timeout-keep-alive", str(KEEP_ALIVE_SECONDS)]
    with log.open("w") as output:
        server = subprocess.Popen([*command, *options], env=env, cwd=tmp_path, stdout=output, stderr=output)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(url, server, log)
        yield url, log
    finally:
        server.terminate()
        try:
            server.wait(timeout=DEADLINE_SECONDS)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _env_value(value: object) -> str:
    if hasattr(value, "get_secret_value"):
        return str(value.get_secret_value())
    if isinstance(value, list):
        return json.dumps([item.get_secret_value() if hasattr(item, "get_secret_value") else item for item in value])
    return str(value).lower() if isinstance(value, bool) else str(value)


def _wait_until_serving(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"uvicorn exited:\n{log.read_text()}", pytrace=False)
        try:
            if httpx2.get(f"{url}/health").status_code == 200:
                return
        except httpx2.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"uvicorn did not start:\n{log.read_text()}", pytrace=False)


def connect(url: str) -> httpx2.Client:
    """One kept-alive connection: every request made through it reaches the same worker."""
    limits = httpx2.Limits(max_connections=1, keepalive_expiry=KEEP_ALIVE_SECONDS)
    return httpx2.Client(base_url=url, limits=limits, timeout=DEADLINE_SECONDS)


def log_in(connection: httpx2.Client, username: str) -> dict[str, str]:
    response = connection.post("/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    tokens: dict[str, str] = response.json()
    return tokens


def family_of(connection: httpx2.Client, tokens: dict[str, str]) -> str:
    return str(connection.get("/session", headers=bearer(tokens["access_token"])).json()["family"])


def worker_that_logged(log: Path, event: str, family: str) -> str:
    """The process id of the worker that logged this event of this session, once the line is written."""
    line = re.compile(rf"\[(\d+)\] \S+: event={event} user=\S+ family={family}\b")
    deadline = time.monotonic() + DEADLINE_SECONDS
    while (found := line.search(log.read_text())) is None:
        if time.monotonic() > deadline:
            pytest.fail(f"no event={event} family={family} in the log:\n{log.read_text()}", pytrace=False)
        time.sleep(0.02)
    return found.group(1)


def clients_on_two_workers(url: str, log: Path) -> dict[str, httpx2.Client]:
    """Two kept-alive connections, by the process id of the worker each reached.

    Connections are opened until both workers have answered one (a login, found in the log by its
    session): the second worker may still be starting, and the kernel may hand it none of the first few.
    """
    by_worker: dict[str, httpx2.Client] = {}
    deadline = time.monotonic() + DEADLINE_SECONDS
    attempts = 0
    while len(by_worker) < 2:
        if time.monotonic() > deadline:
            pytest.fail(f"{attempts} connections in {DEADLINE_SECONDS} s all reached one worker:\n{log.read_text()}", pytrace=False)
        connection = connect(url)
        tokens = log_in(connection, f"user{attempts % USERS}")
        worker = worker_that_logged(log, "login", family_of(connection, tokens))
        attempts += 1
        if worker in by_worker:
            connection.close()
            time.sleep(0.05)  # give the other worker a moment to start
        else:
            by_worker[worker] = connection
    return by_worker


def test_a_session_moves_between_workers_and_a_logout_reaches_both(two_workers: tuple[str, Path]) -> None:
    url, log = two_workers
    connections = clients_on_two_workers(url, log)
    try:
        (here_worker, here), (there_worker, there) = connections.items()
        tokens = log_in(here, "user0")
        family = family_of(here, tokens)
        refreshed = there.post("/refresh", headers=bearer(tokens["refresh_token"]))  # refreshed on the other worker
        assert refreshed.status_code == 200, refreshed.text
        assert worker_that_logged(log, "refresh", family) == there_worker
        assert here.get("/protected", headers=bearer(refreshed.json()["access_token"])).json() == {"user": "user0"}
        replay = here.post("/refresh", headers=bearer(tokens["refresh_token"]))  # the spent token, on the first worker
        assert replay.json()["code"] == "token_reused"
        assert worker_that_logged(log, "refresh_token_reused", family) == here_worker

        tokens = log_in(here, "user1")
        family = family_of(here, tokens)
        assert there.get("/protected", headers=bearer(tokens["access_token"])).status_code == 200
        assert here.post("/logout", headers=bearer(tokens["access_token"])).status_code == 204
        assert worker_that_logged(log, "logout", family) == here_worker
        # The other worker learns of it at its next read of the revoked sessions (every SYNC_SECONDS).
        deadline = time.monotonic() + SYNC_SECONDS + 10
        while (response := there.get("/protected", headers=bearer(tokens["access_token"]))).status_code == 200:
            assert time.monotonic() < deadline, "the other worker still accepts the logged-out token"
            time.sleep(0.02)
        assert response.json()["code"] == "token_revoked"
        assert there.post("/refresh", headers=bearer(tokens["refresh_token"])).json()["code"] == "token_revoked"
    finally:
        for connection in connections.values():
            connection.close()
