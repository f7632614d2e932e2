"""The pages with JavaScript off: every form posts to a route that does the whole job, and no password
reaches a URL or the server's access log."""

import logging
import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from {{ cookiecutter.package_name }}.config import Settings

from ..conftest import LiveServer

pytestmark = pytest.mark.e2e
NEW_PASSWORD = "a brand new passphrase"
CSRF_REFRESH = "__Host-csrf_refresh_token"


@pytest.fixture
def e2e_settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """Access tokens of a minute (a test that waits for one to expire asks for less): a person without the
    script's automatic refresh takes a few steps, and none may meet an expired token by chance."""
    minutes = getattr(request, "param", 1.0)
    return settings.model_copy(update={"access_token_minutes": minutes, "cookie_secure": True})


@pytest.fixture
def access_log() -> Iterator[list[str]]:
    """What uvicorn's access log writes (request lines with their URLs), for as long as the test runs."""
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger, handler = logging.getLogger("uvicorn.access"), Keep()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield lines
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.fixture
def no_script(browser: Browser, live_server: LiveServer) -> Iterator[BrowserContext]:
    context = browser.new_context(java_script_enabled=False, base_url=live_server.url)
    yield context
    context.close()


def log_in(page: Page, live_server: LiveServer, password: str | None = None) -> None:
    page.goto("/login")
    page.fill("#username", live_server.username)
    page.fill("#password", password or live_server.password)
    page.click("#login-form button[type=submit]")


def wait_until_the_access_token_has_expired(page: Page) -> None:
    """Ask the server, as the page would, until it refuses the access token (its own deadline, no guess)."""
    deadline = time.monotonic() + 60
    while page.request.get("/session").status == 200:
        assert time.monotonic() < deadline, "the access token never expired"
        time.sleep(0.1)


def test_log_in_and_out_without_javascript(no_script: BrowserContext, live_server: LiveServer, access_log: list[str]) -> None:
    page = no_script.new_page()
    log_in(page, live_server)
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.locator("#session-user")).to_have_text(live_server.username)  # rendered by the server
    expect(page.locator("#session-fresh")).to_have_text("yes")
    expect(page.locator("#call-protected")).to_be_hidden()  # what needs the script is not offered

    page.click("#logout")
    expect(page).to_have_url(re.compile(r"/login\?reason=logged_out$"))
    expect(page.locator("#login-notice")).to_have_text("You have logged out.")
    # The session's cookies are gone; the device token stays: it marks the browser, not a session.
    assert [cookie["name"] for cookie in no_script.cookies() if "token" in cookie["name"]] == ["__Secure-device_token"]
    page.goto("/")
    expect(page).to_have_url(f"{live_server.url}/login")

    assert any("POST /login/form" in line for line in access_log), access_log
    leaked = [line for line in access_log if "password" in line.lower() or live_server.password in line]
    assert not leaked, f"a password in the access log: {leaked}"


def test_a_wrong_password_shows_the_page_again_with_its_message(no_script: BrowserContext, live_server: LiveServer) -> None:
    page = no_script.new_page()
    log_in(page, live_server, password="not the password")
    expect(page.locator("#login-error")).to_have_text(re.compile("incorrect", re.IGNORECASE))
    expect(page.locator("#username")).to_have_value(live_server.username)
    assert "not the password" not in page.url and "not the password" not in page.content()


@pytest.mark.parametrize("e2e_settings", [10 / 60], indirect=True)
def test_an_expired_access_token_is_refreshed_by_a_button(no_script: BrowserContext, live_server: LiveServer) -> None:
    page = no_script.new_page()
    log_in(page, live_server)
    expect(page.locator("#session-user")).to_have_text(live_server.username)
    wait_until_the_access_token_has_expired(page)
    page.goto("/")
    expect(page.locator("#session-expired")).to_be_visible()
    page.click("#continue")
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.locator("#session-fresh")).to_have_text("no (refreshed)")


def test_a_password_change_asks_a_refreshed_session_for_its_password(no_script: BrowserContext, live_server: LiveServer) -> None:
    page = no_script.new_page()
    log_in(page, live_server)
    csrf = next(cookie["value"] for cookie in no_script.cookies() if cookie["name"] == CSRF_REFRESH)
    assert page.request.post("/refresh", headers={"X-CSRF-Token": csrf}).status == 204  # as the script would: no longer fresh
    page.goto("/")
    expect(page.locator("#session-fresh")).to_have_text("no (refreshed)")
    expect(page.locator("#reauth-form")).to_be_hidden()

    page.fill("#current-password", live_server.password)
    page.fill("#new-password", NEW_PASSWORD)
    page.click("#password-form button[type=submit]")
    expect(page.locator("#dashboard-notice")).to_contain_text("needs your password again")
    page.fill("#reauth-password", live_server.password)
    page.click("#reauth-form button[type=submit]")
    expect(page.locator("#dashboard-notice")).to_contain_text("Password confirmed")
    expect(page.locator("#session-fresh")).to_have_text("yes")

    page.fill("#current-password", live_server.password)
    page.fill("#new-password", NEW_PASSWORD)
    page.click("#password-form button[type=submit]")
    expect(page.locator("#dashboard-notice")).to_have_text("Password changed. Your other sessions were logged out.")


def test_sign_up_without_javascript(no_script: BrowserContext, live_server: LiveServer, access_log: list[str]) -> None:
    page = no_script.new_page()
    page.goto("/login")
    page.click("#register-link")
    page.fill("#username", "bob")
    page.fill("#password", "short")
    page.click("#register-form button[type=submit]")
    expect(page.locator("#register-error")).to_contain_text("Password")  # the page again, with what was typed
    expect(page.locator("#username")).to_have_value("bob")
    expect(page.locator("#password")).to_have_value("")

    page.fill("#password", NEW_PASSWORD)
    page.click("#register-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/\?notice=registered$"))
    expect(page.locator("#session-user")).to_have_text("bob")  # logged in, by the server alone
    page.click("#nav-logout")
    expect(page.locator("#login-notice")).to_have_text("You have logged out.")
    assert not any(NEW_PASSWORD in line or "short" in line for line in access_log)
