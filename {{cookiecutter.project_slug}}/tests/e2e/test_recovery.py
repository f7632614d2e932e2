"""Account recovery in a real browser, with mail through a real SMTP server: a forgotten password, and a
verified address. The links come from the mails as they arrive."""

import re
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from {{ cookiecutter.package_name }}.config import Settings

from ..conftest import LiveServer
from ..smtp import Inbox, link_in, mail_server

pytestmark = pytest.mark.e2e
ALICE = "alice@example.com"
NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def inbox() -> Iterator[tuple[int, Inbox]]:
    with mail_server() as server:
        yield server


@pytest.fixture
def e2e_settings(settings: Settings, inbox: tuple[int, Inbox]) -> Settings:
    """Mail through the test's SMTP server; access tokens of a minute, so no step meets an expired one by chance."""
    mail = {"mail_backend": "smtp", "smtp_host": "127.0.0.1", "smtp_port": inbox[0], "smtp_security": "none"}
    return settings.model_copy(update={**mail, "access_token_minutes": 1.0, "cookie_secure": True})


def open_link(page: Page, link: str) -> None:
    # The link starts with PUBLIC_URL (tests/test_account.py checks that); here the live server stands behind it.
    parts = urlsplit(link)
    page.goto(f"{parts.path}?{parts.query}")
    expect(page).to_have_url(re.compile(rf"{parts.path}$"))  # the script took the token out of the address bar and history


def log_in(page: Page, live_server: LiveServer, password: str) -> None:
    page.goto("/login")
    page.fill("#username", live_server.username)
    page.fill("#password", password)
    page.click("#login-form button[type=submit]")
    expect(page.locator("#session-user")).to_have_text(live_server.username)


def test_a_forgotten_password_is_reset_from_the_mail_and_every_session_ends(
    page: Page, new_context: Callable[..., BrowserContext], live_server: LiveServer, inbox: tuple[int, Inbox]
) -> None:
    laptop = new_context().new_page()  # a session left open elsewhere
    log_in(laptop, live_server, live_server.password)

    page.goto("/login")
    page.click("#forgot-link")
    page.fill("#email", ALICE)
    page.click("#forgot-form button[type=submit]")
    expect(page.locator("#forgot-sent")).to_contain_text("If an account has this address")

    open_link(page, link_in(inbox[1].wait_for(ALICE)))
    page.fill("#new-password", NEW_PASSWORD)
    page.click("#reset-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/login\?reason=password_reset$"))
    expect(page.locator("#login-notice")).to_contain_text("Your new password is set")
    assert inbox[1].wait_for(ALICE, count=2)["Subject"].endswith("password was changed")

    laptop.click("#call-protected")  # the old session has ended
    expect(laptop).to_have_url(re.compile(r"/login\?reason="))
    log_in(page, live_server, NEW_PASSWORD)


def test_the_address_is_verified_from_the_mail(page: Page, live_server: LiveServer, inbox: tuple[int, Inbox]) -> None:
    log_in(page, live_server, live_server.password)
    expect(page.locator("#email-status")).to_have_text(f"{ALICE}: not verified yet")
    page.click("#resend-verification")
    expect(page.locator("#dashboard-notice")).to_contain_text("verification link is on its way")

    open_link(page, link_in(inbox[1].wait_for(ALICE)))
    page.click("#verify-form button[type=submit]")
    expect(page.locator("#verify-done")).to_have_text(f"Your address {ALICE} is verified.")
    page.goto("/")
    expect(page.locator("#email-status")).to_have_text(f"{ALICE}: verified")
