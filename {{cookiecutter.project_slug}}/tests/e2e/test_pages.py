"""Every page as a person on a phone sees it, and the OpenAPI page with no internet at all."""

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pyotp
import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Playwright, Route, ViewportSize, expect

from {{ cookiecutter.package_name }}.config import Settings

from ..conftest import LiveServer

pytestmark = pytest.mark.e2e

PHONE = ViewportSize(width=390, height=844)  # an iPhone 14/15: the narrowest screen most people have
# Real user agents are long, and some are longer still (an in-app browser adds its own tokens).
LONG_AGENTS = [
    "Mozilla/5.0 (Linux; Android 14; SM-S918B Build/UP1A.231005.007; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Version/4.0 Chrome/131.0.6778.81 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/489.0.0.57.108;FBDV/SM-S918B;FBSV/14]",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "a-single-word-with-no-spaces-at-all-" * 5,
]
LONG_NAME = "a-username-of-the-longest-kind-allowed-which-is-sixty-four-chars"  # 64: the limit
LONG_ADDRESS = "someone.with.a.rather.long.address-for-their-mail@subdomain.example.com"
PASSPHRASE = "a long enough passphrase"


@pytest.fixture
def e2e_settings(settings: Settings) -> Settings:
    # Access tokens of a minute: no page may meet an expired token by chance while the test walks through.
    return settings.model_copy(update={"access_token_minutes": 1.0, "cookie_secure": True})


@pytest.fixture
def phone(browser: Browser, live_server: LiveServer) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport=PHONE, base_url=live_server.url, user_agent=LONG_AGENTS[0])
    yield context
    context.close()


def fits_the_screen(page: Page) -> None:
    """No horizontal scrolling, and every visible button is inside the screen (a cut-off button is no button)."""
    path = urlsplit(page.url).path
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{path} is {width} px wide on a {PHONE['width']} px screen"
    for button in page.locator("button:visible").all():
        box = button.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (path, button.inner_text(), box)


def other_sessions(playwright: Playwright, live_server: LiveServer) -> None:
    """Log the new user in from other "devices" (API logins with long user agents): the dashboard lists each."""
    for agent in LONG_AGENTS:
        api = playwright.request.new_context(base_url=live_server.url, extra_http_headers={"User-Agent": agent})
        response = api.post("/login", data={"username": LONG_NAME, "password": PASSPHRASE})
        assert response.ok, response.text()
        api.dispose()


def test_every_page_fits_a_phone(phone: BrowserContext, playwright: Playwright, live_server: LiveServer) -> None:
    page = phone.new_page()
    for path in ["/login", "/register", "/password/forgot", "/password/reset", "/email/verify", "/guide"]:
        page.goto(path)
        expect(page.locator("main h1").first).to_be_visible()
        fits_the_screen(page)
    # A one-time link's page (its script takes the long token out of the address bar).
    for path in ["/password/reset", "/email/verify"]:
        page.goto(f"{path}?token={'v4.local.' + 'x' * 600}")
        expect(page.locator("main form")).to_be_visible()
        fits_the_screen(page)

    # A sign-up with the longest name and a long address, then the dashboard with several long-named sessions.
    page.goto("/register")
    page.fill("#username", LONG_NAME)
    page.fill("#email", LONG_ADDRESS)
    page.fill("#password", PASSPHRASE)
    page.click("#register-form button[type=submit]")
    expect(page.locator("#session-user")).to_have_text(LONG_NAME)
    other_sessions(playwright, live_server)
    page.reload()
    expect(page.locator("#sessions li")).to_have_count(1 + len(LONG_AGENTS))
    expect(page.locator("#sessions li", has_text="This device")).to_contain_text("Chrome on Android")
    expect(page.locator("#session-countdown")).to_have_text(re.compile(r"^\d+ s$"))  # the script has run
    fits_the_screen(page)
    page.goto("/guide")
    fits_the_screen(page)
    page.goto("/docs")
    expect(page.locator(".opblock").first).to_be_visible()
    fits_the_screen(page)


def test_the_second_factor_pages_fit_a_phone(phone: BrowserContext, live_server: LiveServer) -> None:
    page = phone.new_page()
    log_in(page, live_server)
    page.click("#totp-setup")
    expect(page.locator("#totp-qr svg")).to_be_visible()
    fits_the_screen(page)
    secret = page.locator("#totp-secret").inner_text()
    page.fill("#totp-code", pyotp.TOTP(secret).now())
    page.click("#totp-confirm-form button[type=submit]")
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    fits_the_screen(page)
    codes = page.locator("#recovery-codes code").all_inner_texts()
    page.click("#codes-done")
    expect(page.locator("#totp-off")).to_be_visible()
    fits_the_screen(page)
    # This session proved the password only: new codes need a re-authentication with the new factor
    # (the script meets 401 mfa_required at /fresh-login and lets the form post: the server shows the step).
    page.click("#new-recovery-codes")
    expect(page.locator("#reauth-form")).to_be_visible()
    page.fill("#reauth-password", live_server.password)
    page.click("#reauth-form button[type=submit]")
    expect(page.locator("#mfa-form")).to_have_attribute("action", "/fresh-login/mfa/form")
    fits_the_screen(page)
    page.click("#use-recovery summary")
    page.fill("#recovery-code", codes[0])
    page.click("#recovery-form button[type=submit]")
    expect(page.locator("#dashboard-notice")).to_contain_text("Password confirmed")
    page.click("#logout")
    log_in(page, live_server)
    expect(page.locator("#mfa-form")).to_have_attribute("action", "/login/mfa/form")
    page.click("#use-recovery summary")
    expect(page.locator("#recovery-code")).to_be_visible()
    fits_the_screen(page)


def log_in(page: Page, live_server: LiveServer) -> None:
    page.goto("/login")
    page.fill("#username", live_server.username)
    page.fill("#password", live_server.password)
    page.click("#login-form button[type=submit]")


def test_destructive_buttons_look_destructive(phone: BrowserContext, live_server: LiveServer) -> None:
    page = phone.new_page()
    page.goto("/login")
    page.fill("#username", live_server.username)
    page.fill("#password", live_server.password)
    page.click("#login-form button[type=submit]")
    expect(page.locator("#session-user")).to_have_text(live_server.username)
    red, blue = "rgb(179, 38, 30)", "rgb(36, 84, 197)"  # --bad and --accent in app.css
    for danger in ["#logout", "#logout-all", "#nav-logout"]:
        expect(page.locator(danger)).to_have_css("border-top-color", red)
    expect(page.locator("#password-form button[type=submit]")).to_have_css("background-color", blue)


def test_the_api_page_works_without_the_internet(page: Page, live_server: LiveServer) -> None:
    """Swagger UI comes from this server: every request elsewhere is blocked, and the page still lists the operations."""
    here = urlsplit(live_server.url).netloc
    elsewhere: list[str] = []
    refused_by_policy: list[str] = []

    def only_this_server(route: Route) -> None:
        if urlsplit(route.request.url).netloc == here:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort("internetdisconnected")

    def policy_violation(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            refused_by_policy.append(message.text)

    page.route("**/*", only_this_server)
    page.on("console", policy_violation)
    page.goto("/docs")
    expect(page.locator(".opblock-summary-path", has_text="/login").first).to_be_visible()
    expect(page.locator(".opblock")).not_to_have_count(0)
    assert elsewhere == []
    assert refused_by_policy == [], refused_by_policy
    for asset in ["/static/swagger/swagger-ui-bundle.js", "/static/swagger/swagger-ui.css"]:
        response = page.request.get(asset)
        assert response.status == 200, asset
    assert page.request.get("/static/swagger/__init__.py").status == 404  # only Swagger UI's own files are served
