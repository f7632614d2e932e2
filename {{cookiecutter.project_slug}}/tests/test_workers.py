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
LOGIN_LINE = re.compile(r"\[(\d+)\] \S+: event=login user=(\S+)")


@pytest.fixture
def two_workers(database_url: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    create_tables(database_url)
    settings = make_settings(database_url, revocation_sync_seconds=SYNC_SECONDS, trusted_hosts=["127.0.0.1"])
    engine = make_engine(settings)
    with Session(engine) as session:
        for n in range(8):
            users_service.create_user(session, settings, f"user{n}", PASSWORD)
    engine.dispose()
    variables = {f"{ENV_PREFIX}{name.upper()}": _env_value(value) for name, value in settings.model_dump().items() if value is not None}
    env = {**os.environ, **variables}
    port, log = free_port(), tmp_path / "server.log"
    command = [sys.executable, "-m", "uvicorn", "{{ cookiecutter.package_name }}.main:create_app", "--factory", "--workers", "2"]
    with log.open("w") as output:
        server = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(port)], env=env, cwd=tmp_path, stdout=output, stderr=output
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(url, server, log)
        yield url, log
    finally:
        server.terminate()
        server.wait(timeout=15)


def _env_value(value: object) -> str:
    if hasattr(value, "get_secret_value"):
        return str(value.get_secret_value())
    if isinstance(value, list):
        return json.dumps([item.get_secret_value() if hasattr(item, "get_secret_value") else item for item in value])
    return str(value).lower() if isinstance(value, bool) else str(value)


def _wait_until_serving(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
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


def clients_on_two_workers(url: str, log: Path) -> tuple[httpx2.Client, httpx2.Client]:
    """Two kept-alive connections, each to another worker (found by logging in through each and reading the log)."""
    by_worker: dict[str, httpx2.Client] = {}
    for n in range(8):
        connection = httpx2.Client(base_url=url, limits=httpx2.Limits(max_connections=1))
        assert connection.post("/login", json={"username": f"user{n}", "password": PASSWORD}).status_code == 200
        time.sleep(0.05)
        worker = next(pid for pid, user in LOGIN_LINE.findall(log.read_text()) if user == f"user{n}")
        by_worker.setdefault(worker, connection)
        if len(by_worker) == 2:
            first, second = by_worker.values()
            return first, second
    pytest.fail(f"eight connections all reached one worker:\n{log.read_text()}", pytrace=False)


def test_a_session_moves_between_workers_and_a_logout_reaches_both(two_workers: tuple[str, Path]) -> None:
    url, log = two_workers
    here, there = clients_on_two_workers(url, log)
    tokens = here.post("/login", json={"username": "user0", "password": PASSWORD}).json()
    refreshed = there.post("/refresh", headers=bearer(tokens["refresh_token"]))  # refreshed on the other worker
    assert refreshed.status_code == 200, refreshed.text
    assert here.get("/protected", headers=bearer(refreshed.json()["access_token"])).json() == {"user": "user0"}
    replay = here.post("/refresh", headers=bearer(tokens["refresh_token"]))  # the spent token, on the first worker
    assert replay.json()["code"] == "token_reused"

    tokens = here.post("/login", json={"username": "user1", "password": PASSWORD}).json()
    assert there.get("/protected", headers=bearer(tokens["access_token"])).status_code == 200
    assert here.post("/logout", headers=bearer(tokens["access_token"])).status_code == 204
    logged_out = time.monotonic()
    while (response := there.get("/protected", headers=bearer(tokens["access_token"]))).status_code == 200:
        assert time.monotonic() - logged_out < SYNC_SECONDS + 2, "the other worker still accepts the logged-out token"
        time.sleep(0.02)
    assert response.json()["code"] == "token_revoked"
    assert there.post("/refresh", headers=bearer(tokens["refresh_token"])).json()["code"] == "token_revoked"
