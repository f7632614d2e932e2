"""Accounts: registration rules, reading one's account, changing the password, hashing."""

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from passlib.hash import bcrypt
from sqlmodel import Session

from {{ cookiecutter.package_name }}.users import service as users_service
from {{ cookiecutter.package_name }}.users.passwords import hasher_for

from .conftest import PASSWORD, bearer, login


def test_register_then_log_in(client: TestClient) -> None:
    response = client.post("/register", json={"username": "bob", "email": "bob@example.com", "password": "long enough"})
    assert response.status_code == 201, response.text
    assert response.json()["username"] == "bob"
    assert "password" not in response.text
    tokens = login(client, "bob", "long enough")
    me = client.get("/users/me", headers=bearer(tokens["access_token"])).json()
    assert (me["username"], me["email"], me["is_active"]) == ("bob", "bob@example.com", True)


@pytest.mark.parametrize(
    ("password", "code"),
    [("short", "validation_error"), ("x" * 11, "password_too_short"), ("x" * 129, "password_too_long"), ("x" * 1025, "validation_error")],
    ids=["below-any-minimum", "below-the-configured-minimum", "above-the-configured-maximum", "above-any-maximum"],
)
def test_password_length_rules(make_client: Callable[..., TestClient], password: str, code: str) -> None:
    client = make_client(password_min_length=12)
    response = client.post("/register", json={"username": "bob", "password": password})
    assert response.status_code == 422
    assert response.json()["code"] == code


def test_no_composition_rules(client: TestClient) -> None:
    assert client.post("/register", json={"username": "bob", "password": "all lowercase words"}).status_code == 201


def test_duplicate_username_and_email_are_refused(client: TestClient, user: dict[str, str]) -> None:
    taken_name = client.post("/register", json={"username": "alice", "password": "long enough"})
    assert (taken_name.status_code, taken_name.json()["code"]) == (409, "username_taken")
    taken_email = client.post("/register", json={"username": "alice2", "email": "alice@example.com", "password": "long enough"})
    assert (taken_email.status_code, taken_email.json()["code"]) == (409, "email_taken")


@pytest.mark.parametrize(
    "body",
    [
        {"username": "a", "password": "long enough"},
        {"username": "bad name!", "password": "long enough"},
        {"username": "bob", "email": "not-an-email", "password": "long enough"},
    ],
)
def test_bad_registration_fields_are_a_422(client: TestClient, body: dict[str, str]) -> None:
    response = client.post("/register", json=body)
    assert (response.status_code, response.json()["code"]) == (422, "validation_error")


def test_registration_can_be_closed(make_client: Callable[..., TestClient]) -> None:
    closed = make_client(registration_open=False)
    response = closed.post("/register", json={"username": "bob", "password": "long enough"})
    assert (response.status_code, response.json()["code"]) == (403, "registration_closed")


def test_users_me_needs_a_token(client: TestClient) -> None:
    assert client.get("/users/me").json()["code"] == "missing_token"


def test_change_password_checks_the_current_one_and_the_rules(client: TestClient, tokens: dict[str, str]) -> None:
    headers = bearer(tokens["access_token"])
    wrong = client.post("/users/me/password", headers=headers, json={"current_password": "nope", "new_password": "another long one"})
    assert (wrong.status_code, wrong.json()["code"]) == (401, "invalid_credentials")
    short = client.post("/users/me/password", headers=headers, json={"current_password": PASSWORD, "new_password": "short"})
    assert (short.status_code, short.json()["code"]) == (422, "validation_error")


def test_change_password_needs_a_fresh_token(client: TestClient, tokens: dict[str, str]) -> None:
    refreshed = client.post("/refresh", headers=bearer(tokens["refresh_token"])).json()
    body = {"current_password": PASSWORD, "new_password": "another long one"}
    response = client.post("/users/me/password", headers=bearer(refreshed["access_token"]), json=body)
    assert (response.status_code, response.json()["code"]) == (401, "fresh_token_required")


def test_new_hashes_are_argon2id(client: TestClient, user: dict[str, str]) -> None:
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        alice = users_service.get_by_username(session, "alice")
        assert alice is not None
        assert alice.hashed_password.startswith("$argon2id$")


def test_bcrypt_hash_still_verifies_and_is_upgraded_on_login(client: TestClient, user: dict[str, str]) -> None:
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        alice = users_service.get_by_username(session, "alice")
        assert alice is not None
        alice.hashed_password = bcrypt.using(rounds=4).hash(PASSWORD)
        session.add(alice)
        session.commit()
    login(client)
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        alice = users_service.get_by_username(session, "alice")
        assert alice is not None
        assert alice.hashed_password.startswith("$argon2id$")
        assert hasher_for(client.app.state.settings).verify(PASSWORD, alice.hashed_password)[0]  # type: ignore[attr-defined]


def test_unknown_user_costs_a_password_hash_too(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    verified: list[str] = []
    context = hasher_for(client.app.state.settings).context  # type: ignore[attr-defined]
    original = context.verify

    def spy(secret: str, hashed: str) -> bool:
        verified.append(hashed)
        return bool(original(secret, hashed))

    monkeypatch.setattr(context, "verify", spy)
    assert client.post("/login", json={"username": "nobody", "password": "whatever"}).status_code == 401
    assert len(verified) == 1
    assert verified[0].startswith("$argon2id$")
