"""A user's sessions (one per device): listed, ended one by one, bounded twice (idle and absolute), and
revocable with the refresh token a client still holds (RFC 7009)."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session

from {{ cookiecutter.package_name }}.auth.models import TokenFamily
from {{ cookiecutter.package_name }}.paseto.tokens import decode_token

from .conftest import PASSWORD, Clock, bearer, login

DAY = 86400.0


def log_in_from(client: TestClient, agent: str) -> dict[str, str]:
    response = client.post("/login", json={"username": "alice", "password": PASSWORD}, headers={"User-Agent": agent})
    assert response.status_code == 200, response.text
    tokens: dict[str, str] = response.json()
    return tokens


def sessions(client: TestClient, tokens: dict[str, str]) -> list[dict[str, object]]:
    response = client.get("/sessions", headers=bearer(tokens["access_token"]))
    assert response.status_code == 200, response.text
    listed: list[dict[str, object]] = response.json()
    return listed


def test_each_login_is_a_session_listed_with_its_device_the_latest_first(client: TestClient, user: dict[str, str]) -> None:
    laptop = log_in_from(client, "Laptop Firefox")
    phone = log_in_from(client, "Phone Safari " + "x" * 500)
    client.post("/refresh", headers={**bearer(laptop["refresh_token"]), "User-Agent": "Laptop Firefox 2"})
    listed = sessions(client, phone)
    assert [item["user_agent"] for item in listed] == ["Laptop Firefox 2", ("Phone Safari " + "x" * 500)[:200]]
    assert [item["current"] for item in listed] == [False, True]
    assert {item["client_address"] for item in listed} == {"testclient"}


def test_a_session_is_named_by_its_browser_and_system(client: TestClient, user: dict[str, str]) -> None:
    tokens = log_in_from(client, "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0")
    assert [item["device"] for item in sessions(client, tokens)] == ["Firefox on Linux"]


def test_a_user_ends_one_of_their_sessions(make_client: Callable[..., TestClient], client: TestClient, user: dict[str, str]) -> None:
    laptop, phone = log_in_from(client, "Laptop"), log_in_from(client, "Phone")
    other_instance = make_client(paseto_key=client.app.state.settings.paseto_key)  # type: ignore[attr-defined]
    laptop_session = next(item["id"] for item in sessions(client, phone) if item["user_agent"] == "Laptop")
    assert client.delete(f"/sessions/{laptop_session}", headers=bearer(phone["access_token"])).status_code == 204
    assert client.get("/protected", headers=bearer(laptop["access_token"])).json()["code"] == "token_revoked"
    assert client.post("/refresh", headers=bearer(laptop["refresh_token"])).json()["code"] == "token_revoked"
    assert other_instance.post("/refresh", headers=bearer(laptop["refresh_token"])).json()["code"] == "token_revoked"
    assert [item["user_agent"] for item in sessions(client, phone)] == ["Phone"]


def test_no_one_ends_a_session_that_is_not_theirs(client: TestClient, user: dict[str, str]) -> None:
    alice = login(client)
    client.post("/register", json={"username": "mallory", "password": PASSWORD})
    mallory = login(client, "mallory")
    alice_session = sessions(client, alice)[0]["id"]
    for family_id in (alice_session, "0" * 32):
        refused = client.delete(f"/sessions/{family_id}", headers=bearer(mallory["access_token"]))
        assert (refused.status_code, refused.json()["code"]) == (404, "not_found")
    assert client.get("/protected", headers=bearer(alice["access_token"])).status_code == 200


def test_a_session_that_keeps_refreshing_ends_at_its_maximum_age(
    make_client: Callable[..., TestClient], user: dict[str, str], clock: Clock
) -> None:
    client = make_client(refresh_token_days=14, session_max_days=30, access_token_minutes=60 * 24 * 30)
    tokens = login(client)
    logged_in = clock.now()
    for _ in range(2):  # every 10 days: each refresh moves the idle bound on...
        clock.move(seconds=10 * DAY)
        tokens = client.post("/refresh", headers=bearer(tokens["refresh_token"])).json()
    clock.move(seconds=9 * DAY)  # day 29: still within the absolute bound
    tokens = client.post("/refresh", headers=bearer(tokens["refresh_token"])).json()
    # ... but never past the login plus SESSION_MAX_DAYS: this refresh token ends with the session, and says so.
    expires = datetime.fromisoformat(decode_token(client.app.state.authpaseto, tokens["refresh_token"])["exp"])  # type: ignore[attr-defined]
    assert expires <= logged_in + timedelta(days=30, seconds=1)
    assert abs(int(tokens["refresh_token_expires_in"]) - (expires - clock.now()).total_seconds()) <= 1
    clock.move(seconds=2 * DAY)  # day 31
    refused = client.post("/refresh", headers=bearer(tokens["refresh_token"]))
    assert (refused.status_code, refused.json()["code"]) == (401, "token_expired")


def test_no_access_token_outlives_its_session(make_client: Callable[..., TestClient], user: dict[str, str]) -> None:
    client = make_client(session_max_days=60 / DAY, access_token_minutes=15)  # a session of a minute, tokens of 15
    tokens = login(client)
    config = client.app.state.authpaseto  # type: ignore[attr-defined]
    session_end = datetime.fromisoformat(decode_token(config, tokens["refresh_token"])["end"])
    refreshed = client.post("/refresh", headers=bearer(tokens["refresh_token"])).json()
    fresh = client.post("/fresh-login", json={"password": PASSWORD}, headers=bearer(refreshed["access_token"])).json()
    for access_token in (tokens["access_token"], refreshed["access_token"], fresh["access_token"]):
        assert datetime.fromisoformat(decode_token(config, access_token)["exp"]) <= session_end


def test_an_account_keeps_a_bounded_number_of_sessions_the_one_used_longest_ago_ends(
    make_client: Callable[..., TestClient], user: dict[str, str]
) -> None:
    client = make_client(max_sessions_per_account=3)
    logins = [log_in_from(client, f"device {n}") for n in range(5)]
    assert len(sessions(client, logins[-1])) == 3
    for ended in logins[:2]:
        assert client.post("/refresh", headers=bearer(ended["refresh_token"])).json()["code"] == "token_revoked"
    for kept in logins[2:]:
        assert client.post("/refresh", headers=bearer(kept["refresh_token"])).status_code == 200


def test_a_spent_refresh_token_revoked_by_rfc_7009_counts_as_reuse(client: TestClient, tokens: dict[str, str]) -> None:
    client.post("/refresh", headers=bearer(tokens["refresh_token"]))
    assert client.post("/revoke", data={"token": tokens["refresh_token"]}).status_code == 200
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        family = session.get(TokenFamily, decode_token(client.app.state.authpaseto, tokens["access_token"])["fam"])  # type: ignore[attr-defined]
        assert family is not None and family.revoked_reason == "reuse"


def test_the_database_holds_the_absolute_bound_too(client: TestClient, tokens: dict[str, str]) -> None:
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        session.exec(update(TokenFamily).values(ends_at=datetime.now(UTC) - timedelta(seconds=1)))
        session.commit()
    refused = client.post("/refresh", headers=bearer(tokens["refresh_token"]))
    assert (refused.status_code, refused.json()["code"]) == (401, "session_expired")


def test_revoke_ends_the_session_of_a_refresh_token_and_answers_200_for_anything(client: TestClient, tokens: dict[str, str]) -> None:
    # A client whose access token has expired logs out with what it still holds (RFC 7009).
    assert client.post("/revoke", data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"}).status_code == 200
    assert client.post("/refresh", headers=bearer(tokens["refresh_token"])).json()["code"] == "token_revoked"
    assert client.get("/protected", headers=bearer(tokens["access_token"])).json()["code"] == "token_revoked"
    for junk in ("v4.local.junk", tokens["refresh_token"], "x"):
        answer = client.post("/revoke", data={"token": junk})
        assert (answer.status_code, answer.content) == (200, b"")
