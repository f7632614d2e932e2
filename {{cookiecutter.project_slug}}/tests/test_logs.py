"""Security events are logged, one line each with a stable name; tokens and passwords never are."""

import json
import logging
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.database import describe_failure

from .conftest import PASSWORD, bearer, login

SECURITY_LOGGER = "{{ cookiecutter.package_name }}.security"


def events(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [record.fields for record in caplog.records if record.name == SECURITY_LOGGER]  # type: ignore[attr-defined]


def names(caplog: pytest.LogCaptureFixture) -> list[object]:
    return [event["event"] for event in events(caplog)]


def test_the_refresh_token_pattern_leaves_a_trail(client: TestClient, user: dict[str, str], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=SECURITY_LOGGER)
    tokens = login(client)
    stolen = tokens["refresh_token"]
    client.post("/refresh", headers=bearer(stolen))
    client.post("/refresh", headers=bearer(stolen))  # replayed: theft
    assert names(caplog) == ["login", "refresh", "refresh_token_reused"]
    login_event, _, reuse = events(caplog)
    assert (login_event["user"], login_event["client"]) == ("alice", "testclient")
    assert reuse["family"] == login_event["family"]
    assert next(r for r in caplog.records if r.name == SECURITY_LOGGER and "reused" in r.getMessage()).levelno == logging.WARNING


def test_throttling_and_logout_everywhere_are_logged(
    make_client: Callable[..., TestClient], user: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(login_free_failures=1)
    caplog.set_level(logging.INFO, logger=SECURITY_LOGGER)
    client.post("/login", json={"username": "alice", "password": "wrong"})
    client.post("/login", json={"username": "alice", "password": "wrong"})
    assert names(caplog) == ["login_failed", "throttled"]
    assert events(caplog)[1]["limit"] == "pair:alice|testclient"
    other = TestClient(client.app, client=("192.0.2.1", 1000))
    access = login(other)["access_token"]
    other.post("/logout/all", headers=bearer(access))
    assert names(caplog)[-1] == "logout_all"
    assert events(caplog)[-1]["sessions_ended"] == 1


def test_no_token_or_password_reaches_the_log(
    client: TestClient, user: dict[str, str], caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    tokens = login(client)
    refreshed = client.post("/refresh", headers=bearer(tokens["refresh_token"])).json()
    client.post("/refresh", headers=bearer(tokens["refresh_token"]))
    client.post("/login", json={"username": "alice", "password": "a wrong guess"})
    client.post("/logout", headers=bearer(refreshed["access_token"]))
    logged = caplog.text + capfd.readouterr().err
    assert "event=login" in logged
    for secret in (tokens["access_token"], tokens["refresh_token"], refreshed["access_token"], PASSWORD, "a wrong guess", "v4."):
        assert secret not in logged


def test_json_logs_carry_the_event_fields(
    make_client: Callable[..., TestClient], user: dict[str, str], capfd: pytest.CaptureFixture[str]
) -> None:
    client = make_client(log_format="json")
    capfd.readouterr()
    login(client)
    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
    entry = next(line for line in lines if line.get("event") == "login")
    assert (entry["logger"], entry["level"], entry["user"], entry["client"]) == (SECURITY_LOGGER, "INFO", "alice", "testclient")


def test_a_database_failure_is_described_without_its_passwords() -> None:
    url = "postgresql+psycopg://app:first-secret@db.example/app?sslpassword=second-secret&password=third-secret"
    line = describe_failure(url, ConnectionRefusedError("connection refused"))
    assert "secret" not in line, line
    assert line.endswith("@db.example/app?password=xxxxx&sslpassword=xxxxx: connection refused"), line
