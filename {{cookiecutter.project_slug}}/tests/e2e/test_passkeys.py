"""Passkeys in Chromium, through the DevTools protocol's virtual authenticator (a platform authenticator that
keeps discoverable credentials and verifies its user): add one on the dashboard, log out, log in with it
alone, then with the password and the passkey as the second step; and what the pages say without JavaScript.

WebAuthn refuses an IP address as the relying party's id, so these tests serve the app at
http://localhost:<port> (a secure context, as 127.0.0.1 is) with PUBLIC_URL to match.
"""

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, CDPSession, Page, expect
from pydantic import AnyHttpUrl

from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.paseto.tokens import decode_token

from ..conftest import LiveServer, free_port, serve

pytestmark = pytest.mark.e2e

AUTHENTICATOR = {"protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True, "isUserVerified": True}


@pytest.fixture
def live_server(settings: Settings) -> Iterator[LiveServer]:
    port = free_port()
    origin = f"http://localhost:{port}"
    # Access tokens of a minute: adding a passkey needs a fresh one, and the test must not meet a refreshed one.
    update = {"access_token_minutes": 1.0, "cookie_secure": True, "public_url": AnyHttpUrl(origin)}
    with serve(settings.model_copy(update=update), port) as server:
        yield replace(server, url=origin)


def virtual_authenticator(page: Page, **options: Any) -> tuple[CDPSession, str]:
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {**AUTHENTICATOR, **options}})
    return cdp, added["authenticatorId"]


def log_in_with_password(page: Page, live_server: LiveServer) -> None:
    page.goto("/login")
    page.fill("#username", live_server.username)
    page.fill("#password", live_server.password)
    page.click("#login-form button[type=submit]")


def access_claims(context: BrowserContext, live_server: LiveServer) -> dict[str, Any]:
    """The claims of the session's access token, read from the browser's HttpOnly cookie."""
    token = next(
        cookie["value"] for cookie in context.cookies() if cookie["name"].endswith("access_token") and "csrf" not in cookie["name"]
    )
    return decode_token(live_server.app.state.authpaseto, token)


def test_a_passkey_from_the_dashboard_logs_in_alone_and_as_the_second_step(page: Page, live_server: LiveServer) -> None:
    cdp, authenticator = virtual_authenticator(page)
    log_in_with_password(page, live_server)
    expect(page.locator("#no-passkeys")).to_be_visible()
    expect(page.locator("#passkeys-need-script")).to_be_hidden()  # that is for browsers without the script
    page.fill("#new-passkey-name", "Virtual key")
    page.click("#add-passkey")
    expect(page.locator("#dashboard-notice")).to_contain_text("Your passkey is added")
    expect(page.locator("#passkeys .passkey-name")).to_have_text(["Virtual key"])
    stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    assert len(stored) == 1 and stored[0]["isResidentCredential"] is True

    page.click("#logout")
    expect(page.locator("#passkey-login-button")).to_be_visible()
    page.click("#passkey-login-button")
    expect(page.locator("#session-user")).to_have_text(live_server.username)
    assert access_claims(page.context, live_server)["amr"] == ["hwk", "mfa", "user"]
    expect(page.locator("#passkeys li small").first).not_to_contain_text("last used never")

    # The password alone is no longer enough: the second step offers the passkey, and only it.
    page.click("#logout")
    log_in_with_password(page, live_server)
    expect(page.locator("#use-passkey")).to_be_visible()
    expect(page.locator("#mfa-form")).to_have_count(0)
    page.click("#use-passkey")
    expect(page.locator("#session-user")).to_have_text(live_server.username)
    assert access_claims(page.context, live_server)["amr"] == ["hwk", "mfa", "pwd"]

    # Renamed and removed by plain forms; once it is gone, so is the credential's use here.
    page.fill("#passkeys input[name=name]", "Old key")
    page.click("#passkeys .rename-passkey button")
    expect(page.locator("#passkeys .passkey-name")).to_have_text(["Old key"])
    page.click("#passkeys .remove-passkey")
    expect(page.locator("#dashboard-notice")).to_contain_text("Passkey removed")
    page.click("#logout")
    page.click("#passkey-login-button")
    expect(page.locator("#login-error")).to_contain_text("not registered")


def test_a_synced_passkey_logs_in_as_a_software_key(page: Page, live_server: LiveServer) -> None:
    virtual_authenticator(page, defaultBackupEligibility=True, defaultBackupState=True)  # a password manager's, say
    log_in_with_password(page, live_server)
    page.click("#add-passkey")
    expect(page.locator("#passkeys li small")).to_contain_text("synced between devices")
    page.click("#logout")
    page.click("#passkey-login-button")
    expect(page.locator("#session-user")).to_have_text(live_server.username)
    assert access_claims(page.context, live_server)["amr"] == ["mfa", "swk", "user"]


def test_without_javascript_the_pages_say_passkeys_need_it(browser: Browser, page: Page, live_server: LiveServer) -> None:
    context = browser.new_context(java_script_enabled=False, base_url=live_server.url)
    try:
        plain = context.new_page()
        plain.goto("/login")
        expect(plain.locator("#passkey-login")).to_be_hidden()
        expect(plain.locator("main")).to_contain_text("Logging in with a passkey needs JavaScript; your password works without it.")
        log_in_with_password(plain, live_server)
        expect(plain.locator("#passkeys-need-script")).to_be_visible()
        expect(plain.locator("#add-passkey")).to_be_hidden()
        expect(plain.locator("#totp-setup")).to_be_visible()  # the other methods work as they are
    finally:
        context.close()
