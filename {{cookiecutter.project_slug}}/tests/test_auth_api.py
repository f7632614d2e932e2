"""The routes of the refresh-token pattern, and every header or token that must be refused."""

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from passlib.hash import bcrypt
from sqlalchemy import event
from sqlmodel import Session

from {{ cookiecutter.package_name }}.paseto.tokens import encode_token
from {{ cookiecutter.package_name }}.users import service as users_service

from .conftest import PASSWORD, bearer, login


def assert_refused(response: object, code: str, status: int = 401) -> None:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert response.json()["code"] == code  # type: ignore[attr-defined]
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")  # type: ignore[attr-defined]


def test_health(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}


def test_login_returns_a_fresh_access_token_and_a_refresh_token(client: TestClient, user: dict[str, str]) -> None:
    tokens = login(client)
    assert tokens["token_type"] == "bearer"
    assert client.get("/protected", headers=bearer(tokens["access_token"])).json() == {"user": "alice"}
    assert client.post("/fresh-only", headers=bearer(tokens["access_token"])).json() == {"user": "alice", "fresh": True}
    session = client.get("/session", headers=bearer(tokens["access_token"])).json()
    assert session["user"] == "alice"
    assert session["fresh"] is True


def test_login_accepts_the_oauth2_password_form(client: TestClient, user: dict[str, str]) -> None:
    response = client.post("/login/token", data={"username": "alice", "password": PASSWORD})
    assert response.status_code == 200, response.text
    assert client.get("/users/me", headers=bearer(response.json()["access_token"])).json()["username"] == "alice"


@pytest.mark.parametrize(
    ("username", "password"), [("alice", "wrong password"), ("nobody", PASSWORD)], ids=["wrong-password", "unknown-user"]
)
def test_bad_credentials_get_the_same_401(client: TestClient, user: dict[str, str], username: str, password: str) -> None:
    response = client.post("/login", json={"username": username, "password": password})
    assert_refused(response, "invalid_credentials")
    assert response.json()["detail"] == "Incorrect username or password"


@pytest.mark.parametrize("body", [{}, {"username": "alice"}, {"username": "", "password": "x"}, {"username": 1, "password": []}])
def test_malformed_login_body_is_a_422_without_echoing_the_password(client: TestClient, body: dict[str, object]) -> None:
    response = client.post("/login", json=body)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert "input" not in response.text


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/login", {"username": "alice", "password": "x" * 5000}),
        ("/login/token", {"username": "alice", "password": "x" * 5000}),
        ("/login", {"username": "al\x00ice", "password": PASSWORD}),
        ("/login/token", {"username": "a" * 5000, "password": PASSWORD}),
        ("/login/token", {"username": "alice"}),
    ],
)
def test_oversized_or_odd_credentials_are_a_422(client: TestClient, user: dict[str, str], path: str, form: dict[str, str]) -> None:
    response = client.post(path, json=form) if path == "/login" else client.post(path, data=form)
    assert (response.status_code, response.json()["code"]) == (422, "validation_error")


def test_long_password_against_a_legacy_bcrypt_hash_is_a_401(client: TestClient, user: dict[str, str]) -> None:
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        alice = users_service.get_by_username(session, "alice")
        assert alice is not None
        alice.hashed_password = bcrypt.using(rounds=4).hash("short")
        session.add(alice)
        session.commit()
    response = client.post("/login", json={"username": "alice", "password": "y" * 100})
    assert (response.status_code, response.json()["code"]) == (401, "invalid_credentials")


def test_refresh_returns_a_non_fresh_access_token_and_a_new_refresh_token(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.post("/refresh", headers=bearer(tokens["refresh_token"]))
    assert response.status_code == 200, response.text
    refreshed = response.json()
    assert refreshed["refresh_token"] != tokens["refresh_token"]
    assert client.get("/protected", headers=bearer(refreshed["access_token"])).json() == {"user": "alice"}
    assert client.get("/session", headers=bearer(refreshed["access_token"])).json()["fresh"] is False
    assert_refused(client.post("/fresh-only", headers=bearer(refreshed["access_token"])), "fresh_token_required")


def test_fresh_login_turns_a_refreshed_session_fresh_again(client: TestClient, tokens: dict[str, str]) -> None:
    refreshed = client.post("/refresh", headers=bearer(tokens["refresh_token"])).json()
    stale = bearer(refreshed["access_token"])
    assert_refused(client.post("/fresh-login", headers=stale, json={"password": "wrong"}), "invalid_credentials")
    response = client.post("/fresh-login", headers=stale, json={"password": PASSWORD})
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"access_token", "token_type", "expires_in"}  # no new refresh token
    assert client.post("/fresh-only", headers=bearer(response.json()["access_token"])).status_code == 200


def test_a_logged_out_token_is_told_it_was_revoked_before_it_is_asked_to_be_fresh(client: TestClient, tokens: dict[str, str]) -> None:
    refreshed = client.post("/refresh", headers=bearer(tokens["refresh_token"])).json()
    stale = bearer(refreshed["access_token"])
    assert client.post("/logout", headers=stale).status_code == 204
    # Asking for a password again would be pointless: the session has ended.
    assert_refused(client.post("/fresh-only", headers=stale), "token_revoked")
    assert_refused(client.post("/fresh-login", headers=stale, json={"password": PASSWORD}), "token_revoked")


def test_refresh_token_is_not_an_access_token_and_the_reverse(client: TestClient, tokens: dict[str, str]) -> None:
    assert_refused(client.get("/protected", headers=bearer(tokens["refresh_token"])), "wrong_token_type")
    assert_refused(client.post("/fresh-only", headers=bearer(tokens["refresh_token"])), "wrong_token_type")
    assert_refused(client.post("/refresh", headers=bearer(tokens["access_token"])), "wrong_token_type")


def test_expired_access_token_gets_token_expired(make_client: Callable[..., TestClient], user: dict[str, str]) -> None:
    client = make_client(access_token_minutes=1 / 60)
    auth_config = client.app.state.authpaseto  # type: ignore[attr-defined]
    expired = encode_token(auth_config, subject="alice", token_type="access", expires_in=timedelta(seconds=-1), claims={"fam": "x"})
    assert_refused(client.get("/protected", headers=bearer(expired)), "token_expired")


def test_token_of_another_app_is_refused(make_client: Callable[..., TestClient], client: TestClient, tokens: dict[str, str]) -> None:
    other = make_client()  # same database, its own freshly generated key
    assert_refused(other.get("/protected", headers=bearer(tokens["access_token"])), "unknown_key")


def test_audience_and_issuer_are_enforced(make_client: Callable[..., TestClient], client: TestClient, tokens: dict[str, str]) -> None:
    strict = make_client(paseto_key=client.app.state.settings.paseto_key, paseto_audience="billing", paseto_issuer="auth")  # type: ignore[attr-defined]
    assert_refused(strict.get("/protected", headers=bearer(tokens["access_token"])), "invalid_claims")


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Bearer",
        "Bearer ",
        "Bearer  {token}",
        "Bearer {token} extra",
        "Bearer\t{token}",
        "Basic {token}",
        "Token {token}",
        "xBearer {token}",
        "Bearerx {token}",
        "{token}",
        "Bearer {token}\u00e9",
        "Bearer " + "A" * 10_000,
    ],
)
def test_malformed_authorization_headers_are_refused(client: TestClient, tokens: dict[str, str], header: str) -> None:
    response = client.get("/protected", headers={b"Authorization": header.format(token=tokens["access_token"]).encode()})
    assert_refused(response, "invalid_header")


def test_bearer_scheme_is_case_insensitive(client: TestClient, tokens: dict[str, str]) -> None:
    for scheme in ("bearer", "BEARER", "BeArEr"):
        assert client.get("/protected", headers={"Authorization": f"{scheme} {tokens['access_token']}"}).status_code == 200


def test_two_authorization_headers_are_refused(client: TestClient, tokens: dict[str, str]) -> None:
    headers = [("Authorization", f"Bearer {tokens['access_token']}"), ("Authorization", "Bearer other")]
    assert_refused(client.get("/protected", headers=headers), "invalid_header")


def test_missing_token_gets_the_bare_bearer_challenge(client: TestClient) -> None:
    response = client.get("/protected")
    assert_refused(response, "missing_token")
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "v4.local.abc",
        "v4.public.abc",
        "v2.local.abc",
        "v3.public.abc",
        "v4.local.abc.e30",
        "v4.public.abc.eyJraWQiOiAiazQucGlkLngifQ",
        "v4.local.AAAA.eyJraWQiOiAiazQubGlkLngifQ",
        "v4.local." + "A" * 5000,
        "v1.local.%%%",
    ],
)
@pytest.mark.parametrize(("method", "path"), [("GET", "/protected"), ("POST", "/refresh"), ("POST", "/fresh-only"), ("GET", "/users/me")])
def test_crafted_tokens_never_reach_a_500(client: TestClient, token: str, method: str, path: str) -> None:
    response = client.request(method, path, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.text
    assert response.json()["code"] in {"invalid_header", "invalid_token", "unsupported_token", "unknown_key"}


def test_openapi_declares_one_security_scheme_for_every_token_route(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["PASETO"]["flows"]["password"]["tokenUrl"] == "login/token"
    for path, method in [("/protected", "get"), ("/refresh", "post"), ("/users/me", "get"), ("/logout", "post"), ("/fresh-only", "post")]:
        assert schema["paths"][path][method]["security"] == [{"PASETO": []}], path
    for path in ("/login", "/login/token", "/login/browser", "/register"):
        assert "security" not in schema["paths"][path]["post"], path


def test_a_login_is_two_transactions_beside_the_hash(client: TestClient, user: dict[str, str]) -> None:
    # One counts the attempt and reads the user (committed before the slow hash); one gives the attempt
    # back and starts the session. (The background read of revoked sessions never commits.)
    engine = client.app.state.engine  # type: ignore[attr-defined]
    commits: list[object] = []

    def count(connection: object) -> None:
        commits.append(connection)

    event.listen(engine, "commit", count)
    try:
        login(client)
    finally:
        event.remove(engine, "commit", count)
    assert len(commits) == 2
