"""Logging in with an OpenID Provider in Chromium: the login page's button, the real provider's login and
consent pages (oidc-provider 9 under Node, tests/oidc.py), our sign-up page, and the dashboard.

Our logout ends our session only: the provider's own session goes on, so the next click on the button
comes straight back logged in, without its pages (the guide's "our logout vs the provider's session").
"""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, Route, expect

from {{ cookiecutter.package_name }}.config import OidcProvider, Settings

from ..conftest import LiveServer, free_port, serve
from ..oidc import RunningProvider, client, run_provider

pytestmark = pytest.mark.e2e
LOOPBACK = re.compile(r"^https?://(127\.0\.0\.1|localhost)[:/]")


@pytest.fixture
def app_port() -> int:
    return free_port()


@pytest.fixture
def idp(app_port: int, tmp_path: Path) -> Iterator[RunningProvider]:
    with run_provider([client(f"http://127.0.0.1:{app_port}/login/oidc/test/callback")], tmp_path) as provider:
        yield provider


@pytest.fixture
def live_server(e2e_settings: Settings, idp: RunningProvider, app_port: int) -> Iterator[LiveServer]:
    provider = OidcProvider.model_validate(idp.settings_entry(label="Test IdP"))
    settings = e2e_settings.model_copy(update={"public_url": f"http://127.0.0.1:{app_port}", "oidc_providers": [provider]})
    with serve(settings, app_port) as server:
        yield server


def only_loopback(route: Route) -> None:
    """The provider's pages load a web font from the internet: the test machine talks to itself only."""
    if LOOPBACK.match(route.request.url):
        route.continue_()
    else:
        route.abort()


def test_a_login_through_the_providers_pages_lands_on_the_dashboard(page: Page, live_server: LiveServer, idp: RunningProvider) -> None:
    page.route("**/*", only_loopback)
    page.goto("/login")
    page.click("#login-with-test")
    # The provider's own pages: its login form (any password), then its consent.
    expect(page).to_have_url(re.compile(rf"^{re.escape(idp.issuer)}/interaction/"))
    page.fill("input[name=login]", "bob")
    page.fill("input[name=password]", "whatever the provider checks")
    page.click("button[type=submit]")
    page.click("button[type=submit]:has-text('Continue')")
    # Back here: a new identity picks its username.
    expect(page.locator("#federation-email")).to_contain_text("bob@example.test (verified by the provider)")
    expect(page.locator("#federation-username")).to_have_value("bob")
    page.click("#federation-sign-up-form button[type=submit]")
    expect(page.locator("#session-user")).to_have_text("bob")
    expect(page.locator("#identities")).to_contain_text("test (bob@example.test)")
    expect(page.locator("#no-password")).to_be_visible()

    page.click("#logout")
    expect(page.locator("#login-notice")).to_contain_text("You have logged out")
    page.click("#login-with-test")  # the provider still knows bob: no login page this time, straight back
    expect(page.locator("#session-user")).to_have_text("bob")
    assert page.url.startswith(live_server.url)
