"""The GitHub preset, tested against a LOCAL STAND-IN, not GitHub: a small server speaking the shape of GitHub's
OAuth endpoints and API as GitHub documents them (`/login/oauth/authorize`, `/login/oauth/access_token`
answering 200 with `bad_verification_code` for a spent code, `GET /user`, `GET /user/emails`). It checks
what GitHub checks that matters here (client, secret, redirect URI, PKCE S256) and approves every login
at once as the person the test sets: the real GitHub's pages and its behaviour beyond these shapes are not tested.
"""

import base64
import hashlib
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2
import pytest
from fastapi import FastAPI, Form, Header, HTTPException
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.testclient import TestClient
from sqlmodel import Session

from {{ cookiecutter.package_name }}.federation.exceptions import FederationError
from {{ cookiecutter.package_name }}.federation.service import find_identity
from {{ cookiecutter.package_name }}.users import service as users_service

from .conftest import run_server

CLIENT_ID, CLIENT_SECRET = "Iv1.stand-in", "stand-in-secret"
REDIRECT_URI = "http://testserver/login/oidc/github/callback"


@dataclass
class StandIn:
    """The person signed in at the stand-in, and what it has issued."""

    user: dict[str, Any] = field(default_factory=lambda: {"id": 583231, "login": "octocat", "name": "The Octocat"})
    emails: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {"email": "octocat@github.test", "primary": True, "verified": True, "visibility": "public"},
            {"email": "other@github.test", "primary": False, "verified": True, "visibility": None},
        ]
    )
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)


def stand_in_app(stand_in: StandIn) -> FastAPI:
    app = FastAPI()

    @app.get("/login/oauth/authorize")
    def authorize(client_id: str, redirect_uri: str, state: str, code_challenge: str, code_challenge_method: str, scope: str = "") -> Any:
        if client_id != CLIENT_ID or redirect_uri != REDIRECT_URI or code_challenge_method != "S256":
            raise HTTPException(400, "The redirect_uri, client or PKCE method is not this application's")
        code = secrets.token_hex(10)
        stand_in.codes[code] = {"challenge": code_challenge, "redirect_uri": redirect_uri}
        return RedirectResponse(f"{redirect_uri}?{urlencode({'code': code, 'state': state})}", status_code=302)

    @app.post("/login/oauth/access_token")
    def access_token(
        client_id: str = Form(), client_secret: str = Form(), code: str = Form(), redirect_uri: str = Form(), code_verifier: str = Form()
    ) -> Any:
        if (client_id, client_secret) != (CLIENT_ID, CLIENT_SECRET):
            return JSONResponse({"error": "incorrect_client_credentials"})
        issued = stand_in.codes.pop(code, None)
        verified = base64.urlsafe_b64encode(hashlib.sha256(code_verifier.encode()).digest()).rstrip(b"=").decode()
        if issued is None or issued["redirect_uri"] != redirect_uri or issued["challenge"] != verified:
            return JSONResponse({"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired."})
        token = f"gho_{secrets.token_hex(16)}"
        stand_in.tokens.add(token)
        return {"access_token": token, "token_type": "bearer", "scope": "read:user,user:email"}

    def bearer(authorization: str) -> None:
        if authorization.removeprefix("Bearer ") not in stand_in.tokens:
            raise HTTPException(401, "Bad credentials")

    @app.get("/api/user")
    def user(authorization: str = Header()) -> Any:
        bearer(authorization)
        return stand_in.user

    @app.get("/api/user/emails")
    def emails(authorization: str = Header()) -> Any:
        bearer(authorization)
        return stand_in.emails

    return app


@pytest.fixture
def github() -> Iterator[tuple[str, StandIn]]:
    state = StandIn()
    with run_server(stand_in_app(state)) as url:
        yield url, state


@pytest.fixture
def app(make_client: Callable[..., TestClient], github: tuple[str, StandIn]) -> TestClient:
    url, _ = github
    entry = {"name": "github", "preset": "github", "issuer": url, "api_url": f"{url}/api"}
    entry |= {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    return make_client(oidc_providers=[entry])


def github_login(app: TestClient) -> Any:
    """The button, the stand-in's authorization (approved at once), and our callback."""
    start = app.post("/login/oidc/github", follow_redirects=False)
    assert start.status_code == 303
    query = parse_qs(urlsplit(start.headers["location"]).query)
    assert query["scope"] == ["read:user user:email"] and query["code_challenge_method"] == ["S256"]
    back = httpx2.get(start.headers["location"], follow_redirects=False, timeout=30)
    assert back.status_code == 302, back.text
    return app.get(back.headers["location"], follow_redirects=False)


def test_a_github_login_makes_an_account_by_github_id(app: TestClient) -> None:
    page = github_login(app)
    assert page.status_code == 200 and "octocat@github.test (verified by the provider)" in page.text
    token = page.text.split('name="token" value="', 1)[1].split('"', 1)[0]
    created = app.post("/login/oidc/github/sign-up", data={"token": token, "username": "octocat"}, follow_redirects=False)
    assert created.status_code == 303
    identities = app.get("/users/me/identities", headers={"Authorization": f"Bearer {app.cookies['access_token']}"}).json()
    assert [(item["provider"], item["email"]) for item in identities] == [("github", "octocat@github.test")]
    with Session(app.app.state.engine) as session:  # type: ignore[attr-defined]
        linked = find_identity(session, "github", "583231")  # the numeric id: a login can be renamed and taken by another
        assert linked is not None
    app.cookies.clear()
    again = github_login(app)
    assert (again.status_code, again.headers["location"]) == (303, "/")


def test_an_unverified_primary_address_stays_unverified(app: TestClient, github: tuple[str, StandIn]) -> None:
    github[1].emails = [{"email": "new@github.test", "primary": True, "verified": False, "visibility": None}]
    page = github_login(app)
    assert "new@github.test (not verified" in page.text


def test_a_spent_github_code_is_refused(app: TestClient, github: tuple[str, StandIn]) -> None:
    provider = app.app.state.federation.get("github")  # type: ignore[attr-defined]
    with pytest.raises(FederationError) as spent:
        provider.exchange("never-issued", "a-verifier")
    assert spent.value.code == "invalid_grant"


def test_a_github_address_of_an_account_here_is_not_joined(app: TestClient, github: tuple[str, StandIn]) -> None:
    with Session(app.app.state.engine) as session:  # type: ignore[attr-defined]
        users_service.create_user(session, app.app.state.settings, "octo", "correct horse battery staple", "octocat@github.test")  # type: ignore[attr-defined]
    page = github_login(app)
    assert page.status_code == 409 and 'data-code="email_in_use"' in page.text
