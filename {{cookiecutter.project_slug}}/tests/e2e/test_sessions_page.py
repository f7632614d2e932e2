"""The dashboard's list of sessions: each device that logged in, and a button that logs one of them out."""

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from {{ cookiecutter.package_name }}.config import Settings

from ..conftest import LiveServer

pytestmark = pytest.mark.e2e


@pytest.fixture
def e2e_settings(settings: Settings) -> Settings:
    # Access tokens of a minute: the ended session must be refused for its revocation, not its expiry.
    return settings.model_copy(update={"access_token_minutes": 1.0, "cookie_secure": True})


def log_in(page: Page, live_server: LiveServer) -> None:
    page.goto("/login")
    page.fill("#username", live_server.username)
    page.fill("#password", live_server.password)
    page.click("#login-form button[type=submit]")
    expect(page.locator("#session-user")).to_have_text(live_server.username)


def test_a_session_of_another_browser_is_ended_from_the_dashboard(
    page: Page, new_context: Callable[..., BrowserContext], live_server: LiveServer
) -> None:
    laptop = new_context(user_agent="The laptop at work").new_page()
    log_in(laptop, live_server)
    log_in(page, live_server)

    sessions = page.locator("#sessions li")
    expect(sessions).to_have_count(2)
    expect(sessions.first).to_contain_text("This device")  # the one used last
    other = page.locator("#sessions li", has_text="The laptop at work")
    other.locator("button.end-session").click()
    expect(page.locator("#dashboard-notice")).to_contain_text("That session has ended")
    expect(page.locator("#sessions li")).to_have_count(1)

    laptop.click("#call-protected")  # its access token is refused now, not just later
    expect(laptop).to_have_url(re.compile(r"/login\?reason=revoked$"))
    expect(laptop.locator("#login-notice")).to_contain_text("this session was ended elsewhere")
