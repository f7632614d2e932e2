"""Browser fixtures: a live server (tests/conftest.py `serve`) and a Chromium to drive it.

Access tokens live a few seconds, so the refresh flow happens within a test.
"""

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Playwright

from {{ cookiecutter.package_name }}.config import Settings

from ..conftest import LiveServer, serve

ACCESS_TOKEN_MINUTES = 0.05  # 3 seconds: long enough to load a page, short enough to wait out
SYSTEM_CHROMIUMS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_ARGS = [
    # Root in a container has no sandbox to drop into; there is no GPU and no network either.
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def find_chromium(playwright: Playwright) -> str:
    bundled = playwright.chromium.executable_path
    if Path(bundled).is_file():
        return bundled
    for name in SYSTEM_CHROMIUMS:
        found = shutil.which(name)
        if found:
            return found
    # Failing, not skipping: a suite that skips its browser tests looks green while proving nothing.
    pytest.fail(
        "The e2e tests need Chromium and found none. Install one with\n"
        "    sudo apt-get install -y chromium        (Debian/Ubuntu)\n"
        "or  python -m playwright install --with-deps chromium",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any], playwright: Playwright) -> dict[str, Any]:
    return {**browser_type_launch_args, "executable_path": find_chromium(playwright), "args": CHROMIUM_ARGS}


@pytest.fixture
def e2e_settings(settings: Settings) -> Settings:
    # cookie_secure stays at its default (True): Chromium keeps Secure cookies from http://127.0.0.1,
    # a secure context, so these tests also prove the shipped default works.
    return settings.model_copy(update={"access_token_minutes": ACCESS_TOKEN_MINUTES, "cookie_secure": True})


@pytest.fixture
def live_server(e2e_settings: Settings) -> Iterator[LiveServer]:
    with serve(e2e_settings) as server:
        yield server


@pytest.fixture
def browser_context_args(browser_context_args: dict[str, Any], live_server: LiveServer) -> dict[str, Any]:
    return {**browser_context_args, "base_url": live_server.url}


@pytest.fixture
def artifacts_dir(pytestconfig: pytest.Config) -> Path:
    """`<project>/test-results/` (git-ignored): files a person can look at after the run."""
    path = pytestconfig.rootpath / "test-results"
    path.mkdir(exist_ok=True)
    return path
