"""The HTTP edge: host names, body sizes, security headers, pages that build nothing from the Host header."""

import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.config import Settings

from .conftest import PASSWORD, bearer

PAGES = ["/login", "/docs"]


def test_an_unknown_host_is_refused(client: TestClient) -> None:
    response = client.get("/health", headers={"Host": "evil.example"})
    assert (response.status_code, response.json()["code"]) == (400, "invalid_host")


@pytest.mark.parametrize(
    "host", ["[::1].evil.example", "127.0.0.1.evil.example", "localhost@evil.example", "[::1]evil", "localhost:80:80", ""]
)
def test_a_host_that_only_looks_trusted_is_refused(make_client: Callable[..., TestClient], host: str) -> None:
    client = make_client(trusted_hosts=["localhost", "127.0.0.1", "::1"])
    response = client.get("/health", headers={"Host": host})
    assert (response.status_code, response.json()["code"]) == (400, "invalid_host")


@pytest.mark.parametrize("trusted", [["testserver"], ["*"]])
def test_two_host_headers_are_refused(make_client: Callable[..., TestClient], trusted: list[str]) -> None:
    # Servers and proxies disagree on which of two counts: Starlette takes the first, a check might read the last.
    response = make_client(trusted_hosts=trusted).get("/health", headers=[("Host", "evil.example"), ("Host", "testserver")])
    assert (response.status_code, response.json()["code"]) == (400, "invalid_host")


@pytest.mark.parametrize(
    ("allowed", "host", "status"),
    [(["*.example.com"], "api.example.com", 200), (["*.example.com"], "example.com", 400), (["::1"], "[::1]:8000", 200)],
)
def test_trusted_hosts_may_name_subdomains(make_client: Callable[..., TestClient], allowed: list[str], host: str, status: int) -> None:
    assert make_client(trusted_hosts=allowed).get("/health", headers={"Host": host}).status_code == status


def test_pages_build_no_url_from_the_host_header(make_client: Callable[..., TestClient]) -> None:
    anything_goes = make_client(trusted_hosts=["*"])
    for path in PAGES:
        page = anything_goes.get(path, headers={"Host": "evil.example"})
        assert page.status_code == 200
        assert "evil.example" not in page.text


def test_a_declared_body_over_the_limit_is_refused_before_it_is_read(make_client: Callable[..., TestClient]) -> None:
    client = make_client(request_max_bytes=4096)
    response = client.post("/login", content=b"{" + b" " * 5000 + b"}", headers={"Content-Type": "application/json"})
    assert (response.status_code, response.json()["code"]) == (413, "body_too_large")


def test_an_undeclared_body_over_the_limit_is_cut_off_while_read(make_client: Callable[..., TestClient]) -> None:
    client = make_client(request_max_bytes=4096)

    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
        yield b'{"username": "alice", "password": "'
        for _ in range(100):
            yield b"x" * 1000
        yield b'"}'

    response = client.post("/login", content=chunks(), headers={"Content-Type": "application/json"})
    assert (response.status_code, response.json()["code"]) == (413, "body_too_large")


def test_a_body_within_the_limit_goes_through(client: TestClient, user: dict[str, str]) -> None:
    assert client.post("/login", json={"username": "alice", "password": PASSWORD}).status_code == 200


def test_every_response_carries_the_security_headers(client: TestClient, tokens: dict[str, str]) -> None:
    for response in (client.get("/login"), client.get("/protected", headers=bearer(tokens["access_token"])), client.get("/nope")):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_pages_may_run_only_their_own_scripts_and_have_none_inline(client: TestClient, user: dict[str, str]) -> None:
    client.post("/login/browser", json={"username": "alice", "password": PASSWORD})
    for path in ("/login", "/"):
        page = client.get(path)
        policy = page.headers["Content-Security-Policy"]
        assert "script-src 'self';" in policy and "default-src 'self'" in policy
        scripts = re.findall(r"<script\b[^>]*>", page.text)
        assert scripts and all("src=" in tag for tag in scripts), scripts
        assert not re.search(r"\son[a-z]+\s*=", page.text), "no inline event handlers"


def test_responses_with_tokens_or_session_data_are_never_cached(client: TestClient, tokens: dict[str, str]) -> None:
    for response in (
        client.post("/login", json={"username": "alice", "password": PASSWORD}),
        client.post("/refresh", headers=bearer(tokens["refresh_token"])),
        client.get("/session", headers=bearer(tokens["access_token"])),
        client.get("/users/me", headers=bearer(tokens["access_token"])),
    ):
        assert response.headers["Cache-Control"] == "no-store"
    assert "no-store" not in client.get("/static/app.css").headers.get("Cache-Control", "")


def test_hsts_is_sent_when_cookies_are_secure(make_client: Callable[..., TestClient]) -> None:
    assert make_client(cookie_secure=True).get("/health").headers["Strict-Transport-Security"].startswith("max-age=")
    assert "Strict-Transport-Security" not in make_client(cookie_secure=False).get("/health").headers


def test_the_openapi_page_is_off_in_production_and_served_from_here_when_on(make_client: Callable[..., TestClient]) -> None:
    production = make_client(docs_enabled=False)
    assert production.get("/docs").status_code == 404
    assert production.get("/openapi.json").status_code == 404
    assert production.get("/static/swagger/swagger-ui-bundle.js").status_code == 404
    development = make_client(docs_enabled=True)
    page = development.get("/docs")
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert "/static/swagger/swagger-ui-bundle.js" in assets and "/static/swagger/swagger-ui.css" in assets, page.text
    assert all(url.startswith("/static/") and development.get(url).status_code == 200 for url in assets), assets
    assert "https:" not in page.headers["Content-Security-Policy"] and "unsafe-inline" not in page.headers["Content-Security-Policy"]


def keys_of(settings: Settings) -> dict[str, Any]:
    return {"paseto_purpose": settings.paseto_purpose, "paseto_key": settings.paseto_key, "purpose_key": settings.purpose_key}


def test_production_defaults_close_registration_and_docs(settings: Settings) -> None:
    production = Settings(_env_file=None, **keys_of(settings), public_url="https://app.example.com", mail_backend="smtp")
    development = Settings(_env_file=None, environment="development", **keys_of(settings))
    assert (production.registration_open, production.docs_enabled) == (False, False)
    assert (development.registration_open, development.docs_enabled) == (True, True)
    assert str(development.public_url) == "http://127.0.0.1:8000/" and development.mail_backend == "console"


@pytest.mark.parametrize(
    ("missing", "named"), [({"mail_backend": "smtp"}, "PUBLIC_URL"), ({"public_url": "https://app.example.com"}, "MAIL_BACKEND")]
)
def test_production_refuses_to_start_without_a_public_url_or_with_printed_mail(
    settings: Settings, missing: dict[str, Any], named: str
) -> None:
    # Links in mails must not come from a request's Host; mails must not end up in the server's output.
    with pytest.raises(ValueError, match=named):
        Settings(_env_file=None, **keys_of(settings), **missing)


@pytest.mark.parametrize(
    ("address", "logged"),
    [
        ("203.0.113.7," * 40, "unknown"),
        ("<script>", "unknown"),
        ("fe80::1%" + "x y<>" * 30, "unknown"),  # an IPv6 zone: free text that parses as an address
        ("2001:DB8:0::1", "2001:db8::1"),
        ("proxy-7", "proxy-7"),
    ],
)
def test_a_forwarded_client_address_is_bounded(
    client: TestClient, user: dict[str, str], caplog: pytest.LogCaptureFixture, address: str, logged: str
) -> None:
    # Behind a proxy the address is what the proxy forwarded: it reaches the throttle's keys, the database and the logs.
    forwarded = TestClient(client.app, client=(address, 1), raise_server_exceptions=False)
    caplog.set_level(logging.INFO, logger="{{ cookiecutter.package_name }}.security")
    assert forwarded.post("/login", json={"username": "alice", "password": "a wrong guess"}).status_code == 401
    assert forwarded.post("/login", json={"username": "alice", "password": PASSWORD}).status_code == 200
    assert [record.fields["client"] for record in caplog.records] == [logged, logged]  # type: ignore[attr-defined]
