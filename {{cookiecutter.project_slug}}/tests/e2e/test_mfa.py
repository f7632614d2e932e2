"""A second factor in Chromium, on the real clock: turn an authenticator app on from the dashboard with a
code computed from the key the page shows, then log in with the password and a code (or a recovery
code), with JavaScript and without."""

import re
import time
from pathlib import Path
from urllib.parse import urlsplit

import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect

from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.mfa.totp import STEP_SECONDS

from ..conftest import LiveServer

pytestmark = pytest.mark.e2e


@pytest.fixture
def e2e_settings(settings: Settings) -> Settings:
    # Access tokens of a minute: the test may wait for the next TOTP step and must not meet an expired token.
    return settings.model_copy(update={"access_token_minutes": 1.0, "cookie_secure": True})


def log_in_with_password(page: Page, live_server: LiveServer) -> None:
    page.goto("/login")
    page.fill("#username", live_server.username)
    page.fill("#password", live_server.password)
    page.click("#login-form button[type=submit]")


def turn_on_totp(page: Page) -> tuple[str, int, list[str]]:
    """From the dashboard: the key the page shows, the TOTP step of the code that turned it on, the recovery codes."""
    page.click("#totp-setup")
    expect(page.locator("#totp-qr svg")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text()
    step = int(time.time() // STEP_SECONDS)
    page.fill("#totp-code", pyotp.TOTP(secret).at(step * STEP_SECONDS))
    page.click("#totp-confirm-form button[type=submit]")
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    return secret, step, page.locator("#recovery-codes code").all_inner_texts()


def code_of_a_later_step(secret: str, used_step: int) -> str:
    """A code is accepted once per step: wait (a condition, polled) until the clock has moved past the used step."""
    deadline = time.monotonic() + 60
    while int(time.time() // STEP_SECONDS) <= used_step:
        assert time.monotonic() < deadline, "the TOTP step did not move on"
        time.sleep(0.2)
    return pyotp.TOTP(secret).now()


def test_an_authenticator_app_from_set_up_to_login_with_and_without_javascript(
    page: Page, browser: Browser, live_server: LiveServer, artifacts_dir: Path
) -> None:
    log_in_with_password(page, live_server)
    expect(page.locator("#mfa-status")).to_contain_text("off")
    secret, used_step, codes = turn_on_totp(page)
    assert all(re.fullmatch(r"[a-z0-9]{5}-[a-z0-9]{5}", code) for code in codes), codes
    page.screenshot(path=artifacts_dir / "mfa-recovery-codes.png", full_page=True)
    page.click("#codes-done")
    expect(page.locator("#mfa-status")).to_contain_text("on")
    expect(page.locator("#recovery-left")).to_have_text("10")
    page.click("#logout")
    expect(page.locator("#login-form")).to_be_visible()

    # With the script: it meets 401 mfa_required and lets the form post, so the server shows the step.
    log_in_with_password(page, live_server)
    expect(page.locator("#mfa-form")).to_be_visible()
    expect(page.locator("#mfa-code")).to_have_attribute("autocomplete", "one-time-code")
    page.screenshot(path=artifacts_dir / "mfa-second-step.png", full_page=True)
    page.fill("#mfa-code", "000000")
    page.click("#mfa-form button[type=submit]")
    expect(page.locator("#mfa-error")).to_have_text("That code is not right")
    page.click("#use-recovery summary")
    page.fill("#recovery-code", codes[0])
    page.click("#recovery-form button[type=submit]")
    expect(page.locator("#session-user")).to_have_text(live_server.username)
    expect(page.locator("#recovery-left")).to_have_text("9")
    page.click("#logout")
    expect(page.locator("#login-form")).to_be_visible()

    # Without the script: the same two steps, with a code of a later step than the one that turned it on.
    context = browser.new_context(java_script_enabled=False, base_url=live_server.url)
    try:
        plain = context.new_page()
        log_in_with_password(plain, live_server)
        expect(plain.locator("#mfa-form")).to_be_visible()
        assert "mfa_token" not in plain.url and plain.url.endswith("/login/form")
        plain.fill("#mfa-code", code_of_a_later_step(secret, used_step))
        plain.click("#mfa-form button[type=submit]")
        expect(plain.locator("#session-user")).to_have_text(live_server.username)
        assert urlsplit(plain.url).path == "/"
    finally:
        context.close()
