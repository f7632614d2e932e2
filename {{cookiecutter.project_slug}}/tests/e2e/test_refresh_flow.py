"""The refresh-token pattern in a real browser: log in, let the access token expire, refresh, log out."""

import json
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import httpx2
import pytest
from playwright.sync_api import BrowserContext, Page, Request, expect

from ..conftest import LiveServer

pytestmark = pytest.mark.e2e

DASHBOARD_LOADED = re.compile(r"^\d+ s$")
# Secure cookies get the prefixes browsers enforce: __Host- (Secure, this host only, path /) and __Secure-.
ACCESS, REFRESH = "__Host-access_token", "__Secure-refresh_token"
CSRF_ACCESS, CSRF_REFRESH = "__Host-csrf_access_token", "__Host-csrf_refresh_token"
SESSION_COOKIES = {ACCESS, REFRESH, CSRF_ACCESS, CSRF_REFRESH}


def log_in(page: Page, live_server: LiveServer) -> None:
    page.goto("/login")
    page.fill("#username", live_server.username)
    page.fill("#password", live_server.password)
    page.click("#login-form button[type=submit]")
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.locator("#session-user")).to_have_text(live_server.username)


def cookie(context: BrowserContext, name: str) -> str | None:
    return next((c["value"] for c in context.cookies() if c["name"] == name), None)


def wait_for_access_expiry(page: Page) -> None:
    """Wait, in the browser's clock, until just past the access token's expiry that the server reports."""
    response = page.request.get("/session")  # shares the page's cookies
    assert response.ok, response.text()
    expires_at = datetime.fromisoformat(response.json()["expires_at"]).timestamp() * 1000
    page.wait_for_function("expiresAt => Date.now() > expiresAt", arg=expires_at + 100, polling=50)


def is_refresh(request: Request) -> bool:
    return request.method == "POST" and request.url.endswith("/refresh")


def test_login_shows_dashboard(page: Page, context: BrowserContext, live_server: LiveServer, artifacts_dir: Path) -> None:
    log_in(page, live_server)
    expect(page.locator("#session-countdown")).to_have_text(DASHBOARD_LOADED)
    expect(page.locator("#session-fresh")).to_have_text("yes")
    expect(page.locator("#session-family")).to_have_text(re.compile(r"^[0-9a-f]{8}…$"))
    expect(page.locator("#session-refresh-expires")).not_to_have_text("…")
    expect(page.locator("#refresh-log li").first).to_contain_text("why:")
    page.screenshot(path=artifacts_dir / "dashboard-before-refresh.png", full_page=True)
    cookies = {c["name"]: c for c in context.cookies()}
    assert cookies.keys() >= SESSION_COOKIES
    assert live_server.settings.cookie_secure
    assert all(c["secure"] for c in cookies.values())
    assert cookies[ACCESS]["httpOnly"]
    assert cookies[REFRESH]["httpOnly"]
    assert cookies[REFRESH]["path"] == "/refresh"


def test_wrong_password_shows_inline_error(page: Page, live_server: LiveServer) -> None:
    page.goto("/login")
    page.fill("#username", live_server.username)
    page.fill("#password", "not the password")
    page.click("#login-form button[type=submit]")
    expect(page.locator("#login-error")).to_have_text(re.compile("incorrect", re.IGNORECASE))
    expect(page).to_have_url(f"{live_server.url}/login")


def test_expired_access_token_is_refreshed_silently(
    page: Page, context: BrowserContext, live_server: LiveServer, artifacts_dir: Path
) -> None:
    log_in(page, live_server)
    old_token = cookie(context, ACCESS)
    assert old_token
    wait_for_access_expiry(page)

    with page.expect_request(is_refresh) as refresh:
        page.click("#call-protected")
    response = refresh.value.response()
    assert response is not None
    assert response.status == 204
    said = json.dumps({"user": live_server.username}, separators=(",", ":"))
    expect(page.locator("#protected-result")).to_have_text(f"/protected says: {said}")
    expect(page.locator("#session-fresh")).to_have_text("no (refreshed)")
    refreshed = page.locator('#refresh-log li[data-event="refreshed"]')
    expect(refreshed).to_contain_text("why: access tokens live minutes")
    expect(refreshed.locator("a")).to_have_attribute("href", "/guide#rotation-and-reuse-detection")

    new_token = cookie(context, ACCESS)
    assert new_token
    assert new_token != old_token
    with httpx2.Client(base_url=live_server.url) as client:
        stale = client.get("/protected", headers={"Cookie": f"{ACCESS}={old_token}"})
        assert stale.status_code == 401, stale.text
        assert stale.json()["code"] == "token_expired"
        assert client.get("/protected", headers={"Cookie": f"{ACCESS}={new_token}"}).status_code == 200

    expect(page.locator("#session-countdown")).to_have_text(DASHBOARD_LOADED)
    page.screenshot(path=artifacts_dir / "dashboard-after-refresh.png", full_page=True)


def test_fresh_only_action_needs_password_again_after_refresh(page: Page, live_server: LiveServer) -> None:
    log_in(page, live_server)
    wait_for_access_expiry(page)
    page.click("#call-protected")
    expect(page.locator("#session-fresh")).to_have_text("no (refreshed)")

    page.fill("#current-password", live_server.password)
    page.fill("#new-password", "a brand new passphrase")
    page.click("#password-form button[type=submit]")
    expect(page.locator("#reauth-form")).to_be_visible()
    expect(page.locator("#password-result")).to_contain_text("confirm your password")

    page.fill("#reauth-password", live_server.password)
    page.click("#reauth-form button[type=submit]")
    expect(page.locator("#password-result")).to_contain_text("Password changed")
    expect(page.locator("#reauth-form")).to_be_hidden()
    expect(page.locator("#session-fresh")).to_have_text("yes")


def test_logout_clears_cookies(page: Page, context: BrowserContext, live_server: LiveServer, artifacts_dir: Path) -> None:
    log_in(page, live_server)
    page.click("#logout")
    expect(page).to_have_url(re.compile(r"/login\?reason=logged_out$"))
    expect(page.locator("#login-notice")).to_have_text("You have logged out.")
    page.screenshot(path=artifacts_dir / "login-logged-out.png", full_page=True)
    assert not {c["name"] for c in context.cookies()} & SESSION_COOKIES

    page.goto("/")
    expect(page).to_have_url(f"{live_server.url}/login")


def test_request_without_csrf_header_is_refused(page: Page, live_server: LiveServer) -> None:
    log_in(page, live_server)
    status, code = page.evaluate(
        """async () => {
            const response = await fetch("/logout", { method: "POST", credentials: "same-origin" });
            return [response.status, (await response.json()).code];
        }"""
    )
    assert (status, code) == (403, "csrf_failed")
    # Refused means nothing happened: the session is still alive.
    page.click("#call-protected")
    expect(page.locator("#protected-result")).to_contain_text("/protected says")


def test_logout_everywhere_ends_other_sessions(page: Page, new_context: Callable[..., BrowserContext], live_server: LiveServer) -> None:
    laptop = new_context().new_page()  # a second browser profile: its own cookies, its own session
    log_in(laptop, live_server)
    log_in(page, live_server)

    page.click("#logout-all")
    expect(page).to_have_url(re.compile(r"/login\?reason="))

    laptop.click("#call-protected")
    expect(laptop).to_have_url(re.compile(r"/login\?reason="))
    # Which notice depends on whether the laptop's short-lived access token expired meanwhile (a refused refresh).
    expect(laptop.locator("#login-notice")).to_have_text(re.compile("You have been logged out|Your session has ended"))


# A late answer: the /session 401 reaches the page only after the refresh /protected started has finished;
# spending the (already rotated) refresh token again would be a second refresh.
DELAY_SESSION_ANSWERS = """(delay) => {
    const send = window.fetch;
    window.fetch = (input, init) => send(input, init).then(
        (response) => String(input).endsWith("/session") ? new Promise((done) => setTimeout(() => done(response), delay)) : response
    );
}"""


@pytest.mark.parametrize("session_delay_ms", [0, 500], ids=["together", "one-answer-late"])
def test_concurrent_calls_after_expiry_share_one_refresh(page: Page, live_server: LiveServer, session_delay_ms: int) -> None:
    log_in(page, live_server)
    refreshes: list[Request] = []

    def record(request: Request) -> None:
        if is_refresh(request):
            refreshes.append(request)

    page.on("request", record)
    if session_delay_ms:
        page.evaluate(DELAY_SESSION_ANSWERS, session_delay_ms)
    wait_for_access_expiry(page)

    statuses = page.evaluate("() => Promise.all([api('/protected'), api('/session')]).then((rs) => rs.map((r) => r.status))")
    assert statuses == [200, 200]
    assert len(refreshes) == 1


def test_two_tabs_expiring_together_refresh_once(context: BrowserContext, live_server: LiveServer) -> None:
    # Both tabs hold the same single-use refresh cookie: two refreshes in flight would look like theft.
    first, second = context.new_page(), context.new_page()
    log_in(first, live_server)
    second.goto("/")
    expect(second.locator("#session-user")).to_have_text(live_server.username)
    refreshes: list[Request] = []
    context.on("request", lambda request: refreshes.append(request) if is_refresh(request) else None)
    wait_for_access_expiry(first)

    for tab in (first, second):  # started back to back, awaited after
        tab.evaluate("() => { window.pending = api('/protected').then((response) => response.status); }")
    assert [tab.evaluate("() => window.pending") for tab in (first, second)] == [200, 200]
    assert len(refreshes) == 1
    second.click("#call-protected")  # the session survived: no reuse was detected
    expect(second.locator("#protected-result")).to_contain_text("/protected says")


def test_the_login_page_shows_only_messages_of_its_own(page: Page, live_server: LiveServer) -> None:
    page.goto("/login?reason=" + "Your%20account%20is%20locked%3B%20call%20%2B1-555-0100")  # text of the attacker's
    expect(page.locator("#username")).to_be_visible()
    expect(page.locator("#login-notice")).to_have_count(0)
    page.goto("/login?reason=reused")
    expect(page.locator("#login-notice")).to_contain_text("used twice")


def test_the_guide_opens_from_the_dashboard(page: Page, live_server: LiveServer) -> None:
    log_in(page, live_server)
    page.locator("#refresh-log li a").first.click()
    expect(page).to_have_url(f"{live_server.url}/guide#access-and-refresh-tokens")
    expect(page.locator("h2#access-and-refresh-tokens")).to_be_visible()
