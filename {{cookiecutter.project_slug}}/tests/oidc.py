"""A real OpenID Provider for the federation tests: panva's `oidc-provider` 9 (npm), run under Node.

Installed once into a cache folder when missing, as the browser tests install nothing but need Chromium: a
machine without Node and npm fails the tests, naming the command, never skips them. Each provider runs on
a free loopback port with its registered clients, until the test module is done; `drive_login` fills in
its development login and consent pages over HTTP, as a person would, and stops at our redirect URI.
"""

import fcntl
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx2
import pytest

from .conftest import free_port

PACKAGE = "oidc-provider@9"
SCRIPT = Path(__file__).with_name("oidc_provider.mjs")
CACHE = Path(os.environ.get("OIDC_PROVIDER_DIR") or Path.home() / ".cache" / "{{ cookiecutter.project_slug }}-tests" / "oidc-provider-9")
INSTALL = f"npm install --prefix {CACHE} --no-audit --no-fund {PACKAGE}"
CLIENT_ID, CLIENT_SECRET = "paseto-app", "test-client-secret-0123456789"


def installed_provider() -> Path:
    """The folder holding oidc-provider 9 and our script, installed with npm the first time."""
    manifest = CACHE / "node_modules" / "oidc-provider" / "package.json"
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail(
            f"The federation tests need Node.js and npm (Debian: apt-get install -y nodejs npm), then:\n    {INSTALL}", pytrace=False
        )
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the suites of several projects at once install it once, not into each other
        if not (manifest.is_file() and json.loads(manifest.read_text())["version"].startswith("9.")):
            done = subprocess.run(INSTALL.split(), capture_output=True, text=True, timeout=600, check=False)
            if done.returncode != 0 or not manifest.is_file():
                pytest.fail(
                    f"Installing the test OpenID Provider failed; run it yourself:\n    {INSTALL}\n{done.stderr[-2000:]}", pytrace=False
                )
        shutil.copyfile(SCRIPT, CACHE / SCRIPT.name)  # ESM resolves `oidc-provider` from the script's own folder
    return CACHE


@dataclass(frozen=True)
class RunningProvider:
    issuer: str

    def settings_entry(self, name: str = "test", client_id: str = CLIENT_ID, **extra: Any) -> dict[str, Any]:
        """This provider as one item of OIDC_PROVIDERS."""
        return {"name": name, "issuer": self.issuer, "client_id": client_id, "client_secret": CLIENT_SECRET, **extra}


def client(redirect_uri: str, client_id: str = CLIENT_ID) -> dict[str, Any]:
    """A registered client (oidc-provider's client metadata): confidential, code flow, one exact redirect URI."""
    return {"client_id": client_id, "client_secret": CLIENT_SECRET, "redirect_uris": [redirect_uri], "grant_types": ["authorization_code"]}


@contextmanager
def run_provider(
    clients: list[dict[str, Any]], tmp: Path, *, jwks: dict[str, Any] | None = None, **config: Any
) -> Iterator[RunningProvider]:
    """oidc-provider on a free loopback port, until the block ends; its output goes to a file, shown if it fails."""
    folder = installed_provider()
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    settings = {"issuer": issuer, "port": port, "clients": clients, **({"jwks": jwks} if jwks else {}), **config}
    log = tmp / f"oidc-provider-{port}.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [shutil.which("node") or "node", str(folder / SCRIPT.name)],
            env={**os.environ, "OIDC_TEST_CONFIG": json.dumps(settings)},
            stdout=output,
            stderr=output,
        )
    try:
        deadline = time.monotonic() + 60
        while True:  # until its discovery document answers
            try:
                if httpx2.get(f"{issuer}/.well-known/openid-configuration", timeout=2).status_code == 200:
                    break
            except httpx2.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"oidc-provider did not start:\n{log.read_text()[-3000:]}", pytrace=False)
            time.sleep(0.05)
        yield RunningProvider(issuer)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


_FORM = re.compile(r'<form[^>]*action="([^"]+)"[^>]*>(.*?)</form>', re.S)
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')
_ABORT = re.compile(r'<a href="([^"]*/abort)"')


def drive_login(
    authorization_url: str, redirect_prefix: str, login: str, *, browser: httpx2.Client | None = None, deny: bool = False
) -> str:
    """Go through the provider's pages as a person: its login form (any password), then its consent form
    (or its "Cancel" link, with `deny`). Returns the URL the provider sends the browser back to (ours)."""
    own = browser or httpx2.Client(timeout=30)
    url, method, form = authorization_url, "GET", None
    try:
        for _ in range(12):
            answer = own.request(method, url, data=form)
            if answer.is_redirect:
                url, method, form = urljoin(url, answer.headers["location"]), "GET", None
                if url.startswith(redirect_prefix):
                    return url
                continue
            assert answer.status_code == 200, answer.text[:2000]
            if deny and (abort := _ABORT.search(answer.text)) and 'name="prompt" value="consent"' in answer.text:
                url, method, form = urljoin(url, unescape(abort[1])), "GET", None
                continue
            action, body = _FORM.search(answer.text).groups()  # type: ignore[union-attr]
            form = dict(_HIDDEN.findall(body))
            if form.get("prompt") == "login":
                form.update(login=login, password="any password")
            url, method = urljoin(url, unescape(action)), "POST"
    finally:
        if browser is None:
            own.close()
    raise AssertionError("the provider's pages did not lead back to us")


def exchange_for_id_token(
    provider: RunningProvider, callback_url: str, code_verifier: str, redirect_uri: str, client_id: str = CLIENT_ID
) -> str:
    """What a client of `client_id` gets for a code: its ID token (for tests that hand our app someone else's)."""
    code = httpx2.URL(callback_url).params["code"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "code_verifier": code_verifier}
    answer = httpx2.post(f"{provider.issuer}/token", data=form, auth=(client_id, CLIENT_SECRET), timeout=30)
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["id_token"]
    return token
