"""Every answer carries a request ID (`X-Request-ID`): the client's when it is a sane one, else a fresh one,
and every log line written for the request ends with it. uvicorn's own lines: tests/test_metrics.py."""

import json
import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from .conftest import PASSWORD

GENERATED = re.compile(r"[0-9a-f]{32}")


def test_a_sane_request_id_is_answered_back(client: TestClient) -> None:
    sent = "req-42_A.b:c/d=" + "x" * 113  # any printable ASCII without spaces, up to 128 characters
    response = client.get("/health", headers={"X-Request-ID": sent})
    assert response.headers["x-request-id"] == sent


@pytest.mark.parametrize(
    "sent",
    [b"", b"two words", b"x" * 129, "café".encode(), b"tab\there", b"\x7f"],
    ids=["empty", "space", "too-long", "not-ascii", "control", "delete"],
)
def test_any_other_is_replaced_by_a_fresh_one(client: TestClient, sent: bytes) -> None:
    response = client.get("/health", headers={b"X-Request-ID": sent})
    assert GENERATED.fullmatch(response.headers["x-request-id"]), response.headers["x-request-id"]


def test_each_request_without_one_gets_its_own(client: TestClient) -> None:
    ids = {client.get("/health").headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3 and all(GENERATED.fullmatch(request_id) for request_id in ids)


def test_refusals_at_the_edge_carry_one_too(client: TestClient) -> None:
    response = client.get("/health", headers={"Host": "elsewhere.example", "X-Request-ID": "edge-1"})
    assert (response.status_code, response.json()["code"]) == (400, "invalid_host")
    assert response.headers["x-request-id"] == "edge-1"


def test_every_log_line_of_a_request_ends_with_its_id(
    make_client: Callable[..., TestClient], user: dict[str, str], capfd: pytest.CaptureFixture[str]
) -> None:
    client = make_client()  # its log handler writes to the captured stderr
    capfd.readouterr()
    assert client.post("/login", json={"username": "alice", "password": PASSWORD}, headers={"X-Request-ID": "login-ok"}).status_code == 200
    client.post("/login", json={"username": "alice", "password": "wrong password"}, headers={"X-Request-ID": "login-bad"})
    lines = capfd.readouterr().err.splitlines()
    login = next(line for line in lines if "event=login " in line)
    failed = next(line for line in lines if "event=login_failed " in line)
    assert login.endswith(" request_id=login-ok"), login
    assert failed.endswith(" request_id=login-bad"), failed


def test_json_lines_carry_it_as_a_field(
    make_client: Callable[..., TestClient], user: dict[str, str], capfd: pytest.CaptureFixture[str]
) -> None:
    client = make_client(log_format="json")
    capfd.readouterr()
    client.post("/login", json={"username": "alice", "password": PASSWORD}, headers={"X-Request-ID": "json-login"})
    entries = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
    assert next(entry for entry in entries if entry.get("event") == "login")["request_id"] == "json-login"
