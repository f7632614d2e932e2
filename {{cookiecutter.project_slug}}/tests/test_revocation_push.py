"""PostgreSQL pushes revocations: an instance that reads revocations once an hour still refuses a logged-out
session at once, because the revoking commit notifies every listener; and when it cannot listen, or its
listening connection is cut, the periodic read carries on and the listener reconnects. A URL that is not
PostgreSQL's is not listened to."""

import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from .conftest import bearer, free_port, login

HOUR = 3600.0


def until(condition: Callable[[], bool], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {seconds:.0f} s"
        time.sleep(0.02)


def listening(client: TestClient, connections: int = 1) -> Callable[[], bool]:
    listener = client.app.state.revocation_listener  # type: ignore[attr-defined]
    return lambda: bool(listener.listening and listener.connections >= connections)


def test_a_logout_is_pushed_to_an_instance_that_reads_once_an_hour(
    make_client: Callable[..., TestClient], client: TestClient, user: dict[str, str]
) -> None:
    other = make_client(paseto_key=client.app.state.settings.paseto_key, revocation_sync_seconds=HOUR)  # type: ignore[attr-defined]
    until(listening(other), "the other instance listens")
    tokens = login(client)
    assert other.get("/protected", headers=bearer(tokens["access_token"])).status_code == 200
    assert client.post("/logout", headers=bearer(tokens["access_token"])).status_code == 204
    logged_out = time.monotonic()
    until(lambda: other.get("/protected", headers=bearer(tokens["access_token"])).status_code == 401, "the push arrives", 10)
    print(f"\npushed in {1000 * (time.monotonic() - logged_out):.0f} ms (its periodic read is an hour away)")


def test_without_a_listener_the_periodic_read_carries_on(
    make_client: Callable[..., TestClient], client: TestClient, user: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    unreachable = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/postgres"
    other = make_client(paseto_key=client.app.state.settings.paseto_key, revocation_listen_url=unreachable, database_connect_timeout=2)  # type: ignore[attr-defined]
    until(lambda: any("cannot listen for revocations" in record.getMessage() for record in caplog.records), "the failure is logged")
    tokens = login(client)
    assert client.post("/logout", headers=bearer(tokens["access_token"])).status_code == 204
    until(lambda: other.get("/protected", headers=bearer(tokens["access_token"])).status_code == 401, "the periodic read sees it")
    assert "postgres@" in caplog.text and ":" + unreachable.rsplit(":", 1)[1] in caplog.text


def test_a_cut_listening_connection_is_made_again(
    make_client: Callable[..., TestClient], client: TestClient, user: dict[str, str], database_url: str
) -> None:
    other = make_client(paseto_key=client.app.state.settings.paseto_key, revocation_sync_seconds=HOUR)  # type: ignore[attr-defined]
    until(listening(other), "the other instance listens")
    admin = create_engine(database_url)
    with admin.connect() as connection:  # as a server restart or a network cut would
        connection.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'paseto-revocations'"))
    admin.dispose()
    until(listening(other, connections=2), "the listener reconnects")
    tokens = login(client)
    assert client.post("/logout", headers=bearer(tokens["access_token"])).status_code == 204
    until(lambda: other.get("/protected", headers=bearer(tokens["access_token"])).status_code == 401, "the push arrives", 10)


def test_a_url_that_is_not_postgresql_is_not_listened_to_and_the_log_says_why(
    make_client: Callable[..., TestClient], caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.INFO)
    sqlite = f"sqlite:///{tmp_path / 'x.db'}"  # as a PostgreSQL bake whose DATABASE_URL is SQLite would listen to
    other = make_client(revocation_listen_url=sqlite)
    assert other.app.state.revocation_listener is None  # type: ignore[attr-defined]
    said = [record.getMessage() for record in caplog.records if "revocations" in record.getMessage()]
    setting = "{{ cookiecutter.package_name | upper }}_REVOCATION_LISTEN_URL"
    assert said == [f"revocations are not pushed: {sqlite} is not a PostgreSQL URL (set {setting} to one); the periodic read carries them"]
