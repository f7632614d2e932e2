"""Passkeys on the pages without a browser: the dashboard lists them with forms that rename and remove
them (no script needed), the login page and the second step offer them where they can work, and say
that a passkey needs JavaScript. The ceremonies themselves are in tests/test_passkeys.py and, in
Chromium, tests/e2e/test_passkeys.py."""

import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from .conftest import PASSWORD, Clock, bearer, login
from .test_forms import FORM, form_login
from .test_mfa import code_now, totp_clock
from .test_mfa_forms import access_csrf, enrol_by_forms
from .test_passkeys import ORIGIN, register
from .webauthn_authenticator import SoftwareAuthenticator

__all__ = ["totp_clock"]  # the fixture, imported for these tests


def passkey_login(client: TestClient, authenticator: SoftwareAuthenticator) -> None:
    """Log the page's cookies in with a passkey, as static/passkeys.js does."""
    options = client.post("/login/passkey/options").json()
    answer = client.post("/login/passkey/browser", json={"credential": authenticator.get(options)})
    assert answer.status_code == 204, answer.text


def passkey_ids(page: str) -> list[str]:
    return re.findall(r'<li data-passkey="(\d+)">', page)


def test_the_dashboard_lists_passkeys_and_renames_and_removes_them_by_forms(client: TestClient, user: dict[str, str]) -> None:
    form_login(client)
    dashboard = client.get("/").text
    assert 'id="no-passkeys"' in dashboard and 'id="add-passkey"' in dashboard and "needs JavaScript" in dashboard
    assert '<script src="/static/passkeys.js" defer></script>' in dashboard
    authenticator = SoftwareAuthenticator(origin=ORIGIN)
    register(client, login(client)["access_token"], authenticator, name="Laptop")  # from another session
    # This session's token is fresh from the password alone: enough to rename, not to remove (the account has a passkey now).
    [passkey] = passkey_ids(client.get("/").text)
    renamed = client.post(f"/passkeys/{passkey}/rename/form", data={"csrf": access_csrf(client), "name": "Work laptop"})
    assert 'class="passkey-name">Work laptop<' in renamed.text and "Passkey renamed." in renamed.text
    too_long = client.post(f"/passkeys/{passkey}/rename/form", data={"csrf": access_csrf(client), "name": "x" * 65})
    assert "1 to 64 characters" in too_long.text
    refused = client.post(f"/passkeys/{passkey}/remove/form", data={"csrf": access_csrf(client)}, follow_redirects=False)
    assert refused.headers["location"] == "/?notice=fresh_token_required"
    passkey_login(client, authenticator)  # a fresh token that proved the passkey
    removed = client.post(f"/passkeys/{passkey}/remove/form", data={"csrf": access_csrf(client)})
    assert "Passkey removed" in removed.text and passkey_ids(removed.text) == []
    gone = client.post(f"/passkeys/{passkey}/remove/form", data={"csrf": access_csrf(client)})
    assert "That passkey was removed already." in gone.text
    assert client.post(f"/passkeys/{passkey}/rename/form", data={"csrf": "wrong", "name": "x"}, follow_redirects=False).status_code == 303


def test_the_second_step_offers_the_passkey_and_says_it_needs_the_script(client: TestClient, user: dict[str, str]) -> None:
    form_login(client)  # a session from before the passkey: confirming it now asks for the passkey
    register(client, login(client)["access_token"], SoftwareAuthenticator(origin=ORIGIN))
    reauthentication = client.post("/fresh-login/form", data={"csrf": access_csrf(client), "password": PASSWORD})
    assert 'id="passkey-step"' in reauthentication.text and 'data-reauthenticate="yes"' in reauthentication.text
    client.cookies.clear()
    page = client.post("/login/form", data=FORM)
    assert page.status_code == 200 and 'id="passkey-step"' in page.text and "A passkey needs JavaScript." in page.text
    assert 'id="mfa-form"' not in page.text  # no authenticator app: no code to ask for
    mfa_token = re.search(r'data-mfa-token="([^"]+)"', page.text)
    assert mfa_token and "mfa_token" not in str(page.url)
    options = client.post("/login/mfa/passkey/options", json={"mfa_token": mfa_token.group(1)})
    assert options.status_code == 200 and len(options.json()["allowCredentials"]) == 1


def test_a_wrong_code_shows_the_step_again_with_the_passkey_still_offered(
    client: TestClient, user: dict[str, str], totp_clock: Clock
) -> None:
    secret, _ = enrol_by_forms(client, totp_clock)
    client.cookies.clear()
    first = client.post("/login", json={"username": "alice", "password": PASSWORD}).json()
    proved = client.post("/login/mfa", json={"mfa_token": first["mfa_token"], "code": code_now(secret, totp_clock)}).json()
    register(client, proved["access_token"], SoftwareAuthenticator(origin=ORIGIN))
    step = client.post("/login/form", data=FORM).text
    assert 'id="passkey-step"' in step and 'id="mfa-form"' in step and "your authenticator app's code works without it" in step
    token = re.search(r'name="mfa_token" value="([^"]+)"', step)
    assert token
    again = client.post("/login/mfa/form", data={"mfa_token": token.group(1), "code": "000000"})
    assert again.status_code == 401 and 'id="passkey-step"' in again.text and 'id="mfa-form"' in again.text


def test_without_a_host_name_the_pages_offer_no_passkeys(make_client: Callable[..., TestClient], user: dict[str, str]) -> None:
    client = make_client(public_url="http://127.0.0.1:8000")
    login_page = client.get("/login").text
    assert "passkey-login" not in login_page and "passkeys.js" not in login_page
    form_login(client)
    assert "Passkeys need this site to be reached by a host name" in client.get("/").text
    headers = bearer(login(client)["access_token"])
    assert client.post("/passkeys/register/options", headers=headers).json()["code"] == "passkeys_unavailable"


def test_the_login_page_offers_a_passkey(client: TestClient) -> None:
    page = client.get("/login")
    assert 'id="passkey-login-button"' in page.text and "Logging in with a passkey needs JavaScript" in page.text
    assert "script-src 'self';" in page.headers["content-security-policy"] and "<script>" not in page.text
