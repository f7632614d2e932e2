"""Federated login against a real OpenID Provider (oidc-provider 9 under Node: tests/oidc.py).

The app runs in a TestClient (its PUBLIC_URL is http://testserver, so its redirect URI is
http://testserver/login/oidc/test/callback); the provider's login and consent pages are driven with a
client of their own, as a browser would, up to the redirect back to us, which the TestClient then opens.
The refusals that need a provider to misbehave (an ID token for another client, from another issuer, with
another nonce, expired) swap the token endpoint's answer for one the real provider issued elsewhere.
"""

import base64
import json
import re
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx2
import pytest
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from fastapi.testclient import TestClient
from joserfc.jwk import RSAKey
from sqlmodel import Session

from {{ cookiecutter.package_name }}.federation.client import ProviderClient
from {{ cookiecutter.package_name }}.federation.exceptions import FederationError
from {{ cookiecutter.package_name }}.federation.models import Identity
from {{ cookiecutter.package_name }}.federation.service import Federation
from {{ cookiecutter.package_name }}.mfa import totp as totp_module
from {{ cookiecutter.package_name }}.paseto.tokens import decode_token
from {{ cookiecutter.package_name }}.users import service as users_service

from .conftest import PASSWORD, Clock, bearer, login
from .oidc import CLIENT_ID, RunningProvider, client, drive_login, exchange_for_id_token, run_provider
from .test_mfa import code_now, enrol
from .webauthn_authenticator import SoftwareAuthenticator

OURS = "http://testserver/login/oidc/test/callback"
OTHER = "http://other.example/callback"
ACCOUNTS = {
    "alice-elsewhere": {"email": "alice@example.com", "email_verified": True},
    "eve": {"email": "eve@example.test", "email_verified": False},
}


@pytest.fixture(scope="module")
def shared_keys() -> dict[str, Any]:
    """Signing keys two providers share: a token from the other one then fails on its issuer, not its signature."""
    key = RSAKey.generate_key(2048, parameters={"kid": "shared", "use": "sig", "alg": "RS256"}, private=True)
    return {"keys": [key.as_dict(private=True)]}


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory, shared_keys: dict[str, Any]) -> Iterator[RunningProvider]:
    clients = [client(OURS), client(OTHER, client_id="other-app")]
    with run_provider(clients, tmp_path_factory.mktemp("idp"), jwks=shared_keys, accounts=ACCOUNTS) as provider:
        yield provider


@pytest.fixture(scope="module")
def other_idp(tmp_path_factory: pytest.TempPathFactory, shared_keys: dict[str, Any]) -> Iterator[RunningProvider]:
    with run_provider([client(OURS)], tmp_path_factory.mktemp("other-idp"), jwks=shared_keys) as provider:
        yield provider


@pytest.fixture
def app(make_client: Callable[..., TestClient], idp: RunningProvider) -> TestClient:
    return make_client(oidc_providers=[idp.settings_entry(label="Test IdP")], oidc_leeway_seconds=0)


def start(app: TestClient, path: str = "/login/oidc/test", **form: str) -> str:
    answer = app.post(path, data=form, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    location: str = answer.headers["location"]
    return location


def log_in_at_provider(app: TestClient, login_name: str, **drive: Any) -> str:
    """Start a login here, go through the provider's pages: the URL it sends the browser back to."""
    return drive_login(start(app), "http://testserver/", login_name, **drive)


def with_query(url: str, **changes: str | None) -> str:
    parts = urlsplit(url)
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    query.update({name: value for name, value in changes.items() if value is not None})
    for name in [name for name, value in changes.items() if value is None]:
        query.pop(name, None)
    return urlunsplit(parts._replace(query=urlencode(query)))


def refused(answer: Any, status: int, code: str) -> str:
    """A refusal page: its status, its stable code, and its text."""
    assert answer.status_code == status, answer.text[:3000]
    found = re.search(r'id="federation-error"[^>]*data-code="([^"]+)"[^>]*>([^<]*)<', answer.text)
    assert found is not None and found[1] == code, answer.text[:3000]
    return found[2]


def access_claims(app: TestClient) -> dict[str, Any]:
    config = app.app.state.authpaseto  # type: ignore[attr-defined]
    return decode_token(config, app.cookies[config.access_cookie_name])


def sign_up(app: TestClient, callback_url: str, username: str) -> Any:
    page = app.get(callback_url)
    assert page.status_code == 200 and 'id="federation-sign-up-form"' in page.text, page.text[:3000]
    token = re.search(r'name="token" value="([^"]+)"', page.text)[1]  # type: ignore[index]
    return app.post("/login/oidc/test/sign-up", data={"token": token, "username": username}, follow_redirects=False)


def test_a_new_identity_makes_an_account_then_logs_in_to_it(app: TestClient) -> None:
    first = app.get(log_in_at_provider(app, "bob"))
    assert first.status_code == 200 and "bob@example.test (verified by the provider)" in first.text
    token = re.search(r'name="token" value="([^"]+)"', first.text)[1]  # type: ignore[index]
    created = app.post("/login/oidc/test/sign-up", data={"token": token, "username": "bob"}, follow_redirects=False)
    assert (created.status_code, created.headers["location"]) == (303, "/?notice=registered")
    claims = access_claims(app)
    assert (claims["sub"], claims["amr"], claims["fresh"]) == ("bob", ["fed"], True)
    with Session(app.app.state.engine) as session:  # type: ignore[attr-defined]
        bob = users_service.get_by_username(session, "bob")
        assert bob is not None and bob.email == "bob@example.test" and bob.email_verified_at is not None
        assert bob.hashed_password == "!"  # no password: it logs in with the provider (or sets one through the reset link)
    assert app.post("/login", json={"username": "bob", "password": "!"}).status_code == 401
    # The sign-up page's token made one account: posted again, it is refused.
    again = app.post("/login/oidc/test/sign-up", data={"token": token, "username": "bob2"}, follow_redirects=False)
    refused(again, 409, "identity_in_use")

    app.cookies.clear()
    second = app.get(log_in_at_provider(app, "bob"), follow_redirects=False)
    assert (second.status_code, second.headers["location"]) == (303, "/")
    assert access_claims(app)["sub"] == "bob"
    assert app.get("/").status_code == 200
    listed = app.get("/users/me/identities", headers=bearer(app.cookies[app.app.state.authpaseto.access_cookie_name])).json()  # type: ignore[attr-defined]
    assert [(item["provider"], item["email"]) for item in listed] == [("test", "bob@example.test")]
    # Our session is ours: it refreshes (rotation) and logs out like any other.
    refreshed = app.post("/refresh", headers={"X-CSRF-Token": app.cookies["csrf_refresh_token"]})
    assert refreshed.status_code == 204, refreshed.text


def test_the_login_page_has_a_button_per_provider(app: TestClient) -> None:
    page = app.get("/login").text
    assert '<form method="post" action="/login/oidc/test">' in page and "Log in with Test IdP" in page


def test_the_authorization_request_uses_pkce_state_nonce_and_our_exact_redirect_uri(app: TestClient) -> None:
    answer = app.post("/login/oidc/test", follow_redirects=False)
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["redirect_uri"] == [OURS] and query["code_challenge_method"] == ["S256"] and query["response_type"] == ["code"]
    assert len(query["state"][0]) >= 32 and len(query["nonce"][0]) >= 32
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("oidc_login=v4.local.") and "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/login/oidc" in cookie
    assert query["state"][0] not in cookie and query["nonce"][0] not in cookie  # sealed: the cookie shows nothing


def test_a_wrong_state_is_refused(app: TestClient) -> None:
    callback = log_in_at_provider(app, "bob")
    refused(app.get(with_query(callback, state="not-the-one-we-sent")), 400, "state_mismatch")


def test_a_callback_in_another_browser_is_refused(app: TestClient, make_client: Callable[..., TestClient], idp: RunningProvider) -> None:
    """Login CSRF: someone's own callback, opened in a victim's browser, which never started that login."""
    callback = log_in_at_provider(app, "mallory")
    victim = make_client(oidc_providers=[idp.settings_entry()])
    refused(victim.get(callback), 400, "login_not_started")


def test_a_replayed_callback_is_refused(app: TestClient) -> None:
    callback = log_in_at_provider(app, "bob")
    cookie = app.cookies["oidc_login"]
    assert app.get(callback).status_code == 200  # the sign-up page
    app.cookies.set("oidc_login", cookie, path="/login/oidc")  # the cookie as it was (its answer cleared it)
    refused(app.get(callback), 400, "login_replayed")


def test_a_spent_code_is_refused_by_the_provider(app: TestClient, idp: RunningProvider) -> None:
    callback = log_in_at_provider(app, "bob")
    assert app.get(callback).status_code == 200
    provider: ProviderClient = app.app.state.federation.get("test")  # type: ignore[attr-defined]
    code = parse_qs(urlsplit(callback).query)["code"][0]
    with pytest.raises(FederationError) as spent:
        provider.exchange(code, "a-verifier-long-enough-to-be-one-0123456789-0123456789")
    assert spent.value.code == "invalid_grant"


def test_an_rfc9207_issuer_that_is_not_the_providers_is_refused(app: TestClient) -> None:
    callback = log_in_at_provider(app, "bob")
    refused(app.get(with_query(callback, iss="http://127.0.0.1:1")), 400, "issuer_mismatch")
    second = log_in_at_provider(app, "bob")
    refused(app.get(with_query(second, iss=None)), 400, "issuer_mismatch")  # the provider announces it sends one


def test_a_denied_consent_says_so(app: TestClient) -> None:
    callback = log_in_at_provider(app, "bob", deny=True)
    assert "error=access_denied" in callback
    text = refused(app.get(callback), 403, "access_denied")
    assert "Test IdP did not let you in" in text


class SwapIdToken(httpx2.BaseTransport):
    """The token endpoint's answer with another ID token in it (a provider that misbehaves, or a mix-up);
    with `wait_for_expiry`, the answer arrives only after its ID token has expired."""

    def __init__(self, id_token: str | None = None, *, wait_for_expiry: bool = False) -> None:
        self.inner = httpx2.HTTPTransport()
        self.id_token, self.wait_for_expiry = id_token, wait_for_expiry

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        answer = self.inner.handle_request(request)
        if request.url.path != "/token":
            return answer
        answer.read()
        body = json.loads(answer.content)
        if self.id_token is not None:
            body["id_token"] = self.id_token
        if self.wait_for_expiry:
            expires = json.loads(base64.urlsafe_b64decode(body["id_token"].split(".")[1] + "==="))["exp"]
            deadline = time.monotonic() + 30
            while time.time() <= expires and time.monotonic() < deadline:  # until the clock passes exp
                time.sleep(0.05)
        return httpx2.Response(answer.status_code, json=body)


def another_id_token(provider: RunningProvider, client_id: str = CLIENT_ID, redirect_uri: str = OURS, nonce: str = "someone-else's") -> str:
    """An ID token the real provider issued in a login of its own (another client, or another nonce)."""
    verifier = generate_token(64)
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": "openid email",
        "state": generate_token(16),
        "nonce": nonce,
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    callback = drive_login(f"{provider.issuer}/auth?{urlencode(query)}", redirect_uri, "bob")
    return exchange_for_id_token(provider, callback, verifier, redirect_uri, client_id)


def swap(app: TestClient, transport: httpx2.BaseTransport) -> None:
    state = app.app.state  # type: ignore[attr-defined]
    state.federation = Federation(state.settings, transport=transport)


def test_an_id_token_for_another_client_is_refused(app: TestClient, idp: RunningProvider) -> None:
    swap(app, SwapIdToken(another_id_token(idp, client_id="other-app", redirect_uri=OTHER)))
    assert "claim aud" in refused(app.get(log_in_at_provider(app, "bob")), 400, "invalid_id_token")


def test_an_id_token_from_another_issuer_is_refused(app: TestClient, other_idp: RunningProvider) -> None:
    swap(app, SwapIdToken(another_id_token(other_idp)))  # signed with the same keys: only its issuer gives it away
    assert "claim iss" in refused(app.get(log_in_at_provider(app, "bob")), 400, "invalid_id_token")


def test_an_id_token_with_another_nonce_is_refused(app: TestClient, idp: RunningProvider) -> None:
    swap(app, SwapIdToken(another_id_token(idp)))
    assert "claim nonce" in refused(app.get(log_in_at_provider(app, "bob")), 400, "invalid_id_token")


def test_an_expired_id_token_is_refused(app: TestClient) -> None:
    """The provider makes ID tokens of `short-` logins live one second; this answer arrives after it."""
    swap(app, SwapIdToken(wait_for_expiry=True))
    assert "expired" in refused(app.get(log_in_at_provider(app, "short-bob")), 400, "invalid_id_token")


def test_an_address_of_an_account_here_is_never_joined(app: TestClient, user: dict[str, str]) -> None:
    """alice@example.com is alice's here: a provider's account with that address (verified, even) does not
    log in to hers, nor make another; she connects it herself, logged in."""
    text = refused(app.get(log_in_at_provider(app, "alice-elsewhere")), 409, "email_in_use")
    assert "Log in to that account and connect Test IdP from there" in text
    with Session(app.app.state.engine) as session:  # type: ignore[attr-defined]
        assert session.get(Identity, 1) is None


def test_an_unverified_address_is_kept_unverified(app: TestClient) -> None:
    assert sign_up(app, log_in_at_provider(app, "eve"), "eve").status_code == 303
    with Session(app.app.state.engine) as session:  # type: ignore[attr-defined]
        eve = users_service.get_by_username(session, "eve")
        assert eve is not None and eve.email == "eve@example.test" and eve.email_verified_at is None


def test_registration_closed_makes_no_account(make_client: Callable[..., TestClient], idp: RunningProvider) -> None:
    closed = make_client(oidc_providers=[idp.settings_entry()], registration_open=False)
    text = refused(closed.get(log_in_at_provider(closed, "bob")), 403, "registration_closed")
    assert "log in to it and connect test from your dashboard" in text


def connect(app: TestClient, login_name: str) -> Any:
    """Connect a provider's identity from the dashboard (the session's access cookie must be fresh)."""
    csrf = app.cookies["csrf_access_token"]
    return app.get(drive_login(start(app, "/identities/connect/test", csrf=csrf), "http://testserver/", login_name), follow_redirects=False)


def browser_login(app: TestClient) -> None:
    answer = app.post("/login/form", data={"username": "alice", "password": PASSWORD}, follow_redirects=False)
    assert answer.status_code == 303, answer.text


def test_the_owner_connects_an_identity_and_logs_in_with_it(app: TestClient, user: dict[str, str]) -> None:
    browser_login(app)
    connected = connect(app, "alice-elsewhere")
    assert (connected.status_code, connected.headers["location"]) == (303, "/?notice=identity_connected")
    app.cookies.clear()
    logged_in = app.get(log_in_at_provider(app, "alice-elsewhere"), follow_redirects=False)
    assert (logged_in.status_code, access_claims(app)["sub"]) == (303, "alice")
    # The same identity cannot be connected to a second account.
    with Session(app.app.state.engine) as session:  # type: ignore[attr-defined]
        users_service.create_user(session, app.app.state.settings, "carol", PASSWORD)  # type: ignore[attr-defined]
    app.cookies.clear()
    app.post("/login/form", data={"username": "carol", "password": PASSWORD})
    refused(connect(app, "alice-elsewhere"), 409, "identity_in_use")


def test_connecting_needs_a_fresh_session(app: TestClient, user: dict[str, str]) -> None:
    browser_login(app)
    assert app.post("/refresh/form", data={"csrf": app.cookies["csrf_refresh_token"]}, follow_redirects=False).status_code == 303
    assert access_claims(app)["fresh"] is False
    answer = app.post("/identities/connect/test", data={"csrf": app.cookies["csrf_access_token"]}, follow_redirects=False)
    assert answer.headers["location"] == "/?notice=fresh_token_required"


def test_the_last_way_to_log_in_is_never_disconnected(app: TestClient, user: dict[str, str]) -> None:
    assert sign_up(app, log_in_at_provider(app, "bob"), "bob").status_code == 303
    access = app.cookies["access_token"]
    [identity] = app.get("/users/me/identities", headers=bearer(access)).json()
    answer = app.delete(f"/users/me/identities/{identity['id']}", headers=bearer(access))
    assert (answer.status_code, answer.json()["code"]) == (409, "last_login_method")
    # alice has a password: her connected identity may go.
    app.cookies.clear()
    browser_login(app)
    connect(app, "alice-elsewhere")
    tokens = login(app)
    [hers] = app.get("/users/me/identities", headers=bearer(tokens["access_token"])).json()
    assert app.delete(f"/users/me/identities/{hers['id']}", headers=bearer(tokens["access_token"])).status_code == 204
    assert app.get("/users/me/identities", headers=bearer(tokens["access_token"])).json() == []


def test_a_passkey_is_a_way_to_log_in_so_the_identity_may_go(app: TestClient) -> None:
    """An account made by a provider has no password; with a passkey, disconnecting the provider leaves a way in."""
    assert sign_up(app, log_in_at_provider(app, "bob"), "bob").status_code == 303
    access = app.cookies["access_token"]
    authenticator = SoftwareAuthenticator(origin="http://testserver")
    options = app.post("/passkeys/register/options", headers=bearer(access)).json()
    credential = authenticator.create(options)
    registered = app.post("/passkeys/register", headers=bearer(access), json={"credential": credential, "name": "Phone"})
    assert registered.status_code == 201, registered.text
    [identity] = app.get("/users/me/identities", headers=bearer(access)).json()
    # The account has a second factor now: the provider's login alone no longer manages it.
    assert app.delete(f"/users/me/identities/{identity['id']}", headers=bearer(access)).status_code == 401
    app.cookies.clear()
    passwordless = app.post("/login/passkey", json={"credential": authenticator.get(app.post("/login/passkey/options").json())})
    assert passwordless.status_code == 200, passwordless.text
    strongest = passwordless.json()["access_token"]
    assert app.delete(f"/users/me/identities/{identity['id']}", headers=bearer(strongest)).status_code == 204
    assert app.get("/users/me", headers=bearer(strongest)).json()["username"] == "bob"


@pytest.fixture
def totp_clock(clock: Clock) -> Clock:
    clock.freeze_monotonic_in(totp_module)
    return clock


def test_an_account_with_a_second_factor_is_asked_for_it(app: TestClient, user: dict[str, str], totp_clock: Clock) -> None:
    browser_login(app)
    connect(app, "alice-elsewhere")
    secret, _ = enrol(app, login(app), totp_clock)
    app.cookies.clear()
    step = app.get(log_in_at_provider(app, "alice-elsewhere"), follow_redirects=False)
    assert step.status_code == 200 and 'action="/login/mfa/form"' in step.text and "access_token" not in app.cookies
    mfa_token = re.search(r'name="mfa_token" value="([^"]+)"', step.text)[1]  # type: ignore[index]
    done = app.post("/login/mfa/form", data={"mfa_token": mfa_token, "code": code_now(secret, totp_clock)}, follow_redirects=False)
    assert done.status_code == 303, done.text
    claims = access_claims(app)
    assert (claims["sub"], claims["amr"]) == ("alice", ["fed", "mfa", "otp"])


def test_an_unknown_provider_is_a_page_not_a_500(app: TestClient) -> None:
    refused(app.get("/login/oidc/nope/callback?state=x&code=y"), 404, "unknown_provider")
    refused(app.post("/login/oidc/nope"), 404, "unknown_provider")


def test_a_provider_that_does_not_answer_is_a_502_page(make_client: Callable[..., TestClient]) -> None:
    down = make_client(oidc_providers=[{"name": "test", "issuer": "http://127.0.0.1:9", "client_id": "x", "client_secret": "y"}])
    refused(down.post("/login/oidc/test"), 502, "provider_unavailable")


def test_the_pages_may_lead_to_the_provider_and_nowhere_else(app: TestClient, idp: RunningProvider) -> None:
    """A button's form posts here and is redirected to the provider: `form-action` must allow its origin."""
    policy = app.get("/login").headers["content-security-policy"]
    assert f"form-action 'self' {idp.issuer};" in policy


def test_an_address_the_provider_did_not_verify_is_mailed_a_link(make_client: Callable[..., TestClient], idp: RunningProvider) -> None:
    strict = make_client(oidc_providers=[idp.settings_entry()], require_verified_email=True)
    created = sign_up(strict, log_in_at_provider(strict, "eve"), "eve")
    assert (created.status_code, created.headers["location"]) == (303, "/login?reason=registered_verify")
    assert "access_token" not in strict.cookies
    [mail] = strict.app.state.mailer.outbox  # type: ignore[attr-defined]
    assert mail.to == "eve@example.test" and "/email/verify?token=" in mail.text


def test_a_connection_dies_with_a_password_change(app: TestClient, user: dict[str, str]) -> None:
    browser_login(app)
    started = start(app, "/identities/connect/test", csrf=app.cookies["csrf_access_token"])
    callback = drive_login(started, "http://testserver/", "alice-elsewhere")
    with Session(app.app.state.engine) as session:  # type: ignore[attr-defined]
        alice = users_service.get_by_username(session, "alice")
        assert alice is not None
        users_service.set_password(session, app.app.state.settings, alice, "a brand new password")  # type: ignore[attr-defined]
    refused(app.get(callback), 403, "account_changed")


def test_the_dashboard_connects_and_disconnects(app: TestClient, user: dict[str, str]) -> None:
    browser_login(app)
    page = app.get("/").text
    assert 'action="/identities/connect/test"' in page and 'id="identities"' in page and 'id="no-password"' not in page
    connect(app, "alice-elsewhere")
    page = app.get("/?notice=identity_connected").text
    assert "Connected: you can log in with that provider now." in page
    assert "<strong>test</strong> (alice@example.com)" in page
    identity_id = re.search(r'action="/identities/(\d+)/disconnect"', page)[1]  # type: ignore[index]
    gone = app.post(f"/identities/{identity_id}/disconnect", data={"csrf": app.cookies["csrf_access_token"]}, follow_redirects=False)
    assert gone.headers["location"] == "/?notice=identity_disconnected"
    assert f"/identities/{identity_id}/disconnect" not in app.get("/").text
    # Without the session's CSRF value, nothing happens.
    connect(app, "alice-elsewhere")
    identity_id = re.search(r'action="/identities/(\d+)/disconnect"', app.get("/").text)[1]  # type: ignore[index]
    forged = app.post(f"/identities/{identity_id}/disconnect", data={"csrf": "not-it"}, follow_redirects=False)
    assert forged.headers["location"] == "/?notice=csrf_failed"
