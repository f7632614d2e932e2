"""Accounts: registration rules, reading one's account, changing the password, hashing."""

import json
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from passlib.hash import bcrypt
from sqlmodel import Session

from {{ cookiecutter.package_name }}.users import service as users_service
from {{ cookiecutter.package_name }}.users.passwords import hasher_for

from .conftest import PASSWORD, all_at_once, bearer, login


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


def register(client: TestClient, username: str, email: str | None = None, password: str = "long enough") -> tuple[int, str]:
    response = client.post("/register", json={"username": username, "email": email, "password": password})
    return response.status_code, response.json().get("code", "created")


def test_concurrent_registrations_of_one_name_create_exactly_one_account(make_client: Callable[..., TestClient]) -> None:
    client = make_client(registration_free_attempts=100)
    results = all_at_once([lambda n=n: register(client, "popular", f"p{n}@example.com") for n in range(20)])  # type: ignore[misc]
    assert sorted(results) == [(201, "created")] + [(409, "username_taken")] * 19


def test_concurrent_registrations_of_one_email_create_exactly_one_account(make_client: Callable[..., TestClient]) -> None:
    client = make_client(registration_free_attempts=100)
    results = all_at_once([lambda n=n: register(client, f"person{n}", "shared@example.com") for n in range(20)])  # type: ignore[misc]
    assert sorted(results) == [(201, "created")] + [(409, "email_taken")] * 19


@pytest.mark.parametrize(
    "username",
    ["Alice", "ALICE", "\uff21\uff4c\uff49\uff43\uff45"],  # the last one full-width
    ids=["capitalised", "upper-case", "full-width"],
)
def test_names_that_differ_only_in_case_or_width_are_one_name(client: TestClient, user: dict[str, str], username: str) -> None:
    assert register(client, username) == (409, "username_taken")
    assert client.post("/login", json={"username": username, "password": PASSWORD}).status_code == 200


def test_names_are_stored_in_their_canonical_form(client: TestClient) -> None:
    assert register(client, "Bob.Smith", "Bob.Smith@Example.COM")[0] == 201
    me = client.get("/users/me", headers=bearer(login(client, "bob.smith", "long enough")["access_token"])).json()
    assert (me["username"], me["email"]) == ("bob.smith", "bob.smith@example.com")


def test_an_email_address_is_unique_whatever_its_case(client: TestClient, user: dict[str, str]) -> None:
    assert register(client, "alice2", "ALICE@example.com") == (409, "email_taken")


@pytest.mark.parametrize(
    "username",
    ["\u0430lice", "al\u200bice", "alice\u202e", "al ice", "a\u0301lice"],
    ids=["cyrillic-a", "zero-width-space", "right-to-left-override", "space", "combining-accent"],
)
def test_look_alike_and_invisible_characters_are_refused(client: TestClient, username: str) -> None:
    response = client.post("/register", json={"username": username, "password": "long enough"})
    assert (response.status_code, response.json()["code"]) == (422, "validation_error")
    assert "look-alike and invisible characters are refused" in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/register", {"username": "bob", "password": "long \ud800 enough"}),
        ("/register", {"username": "b\ud800ob", "password": "long enough"}),
        ("/register", {"username": "bob", "email": "b\ud800b@example.com", "password": "long enough"}),
        ("/login", {"username": "alice", "password": "pass\udfffword"}),
        ("/login", {"username": "ali\ud800ce", "password": "password"}),
    ],
)
def test_text_that_is_not_valid_unicode_is_a_422_not_a_500(client: TestClient, path: str, body: dict[str, str]) -> None:
    response = client.post(path, content=json.dumps(body), headers={"Content-Type": "application/json"})  # json.dumps keeps \ud800
    assert (response.status_code, response.json()["code"]) == (422, "validation_error"), response.text


def test_a_taken_name_costs_a_password_hash_like_a_new_one(
    client: TestClient, user: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    hasher = hasher_for(client.app.state.settings)  # type: ignore[attr-defined]
    hashed: list[str] = []
    original = hasher.hash

    def counting_hash(password: str) -> str:
        hashed.append(password)
        return original(password)

    monkeypatch.setattr(hasher, "hash", counting_hash)
    assert register(client, "alice") == (409, "username_taken")
    assert register(client, "newcomer") == (201, "created")
    assert hashed == ["long enough", "long enough"]
