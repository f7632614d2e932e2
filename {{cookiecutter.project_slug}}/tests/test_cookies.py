"""Browser transport: HttpOnly, SameSite and Secure cookies, the refresh cookie's path, and CSRF."""

from collections.abc import Callable
from http.cookies import SimpleCookie

import pytest
from fastapi.testclient import TestClient

from .conftest import PASSWORD

CREDENTIALS = {"username": "alice", "password": PASSWORD}


def set_cookies(response: object) -> dict[str, dict[str, str | bool]]:
    """Each Set-Cookie header of a response, parsed: name -> attributes (lower-case) and value."""
    parsed: dict[str, dict[str, str | bool]] = {}
    for header in response.headers.get_list("set-cookie"):  # type: ignore[attr-defined]
        cookie = SimpleCookie()
        cookie.load(header)
        for name, morsel in cookie.items():
            attributes: dict[str, str | bool] = {key: value for key, value in morsel.items() if value}
            attributes["value"] = morsel.value
            parsed[name] = attributes
    return parsed


def browser_login(client: TestClient) -> dict[str, dict[str, str | bool]]:
    response = client.post("/login/browser", json=CREDENTIALS)
    assert response.status_code == 204, response.text
    assert "v4." not in response.text  # tokens never reach the page's body
    return set_cookies(response)


def test_tokens_are_httponly_samesite_cookies(client: TestClient, user: dict[str, str]) -> None:
    cookies = browser_login(client)
    for name in ("access_token", "refresh_token"):
        assert cookies[name]["httponly"] is True
        assert cookies[name]["samesite"] == "lax"
    for name in ("csrf_access_token", "csrf_refresh_token"):
        assert "httponly" not in cookies[name]  # the page's script must read it
        assert cookies[name]["path"] == "/"


def test_refresh_cookie_is_sent_only_to_the_refresh_path(client: TestClient, user: dict[str, str]) -> None:
    cookies = browser_login(client)
    assert cookies["access_token"]["path"] == "/"
    assert cookies["refresh_token"]["path"] == "/refresh"


def test_cookies_are_secure_by_default(make_client: Callable[..., TestClient], user: dict[str, str]) -> None:
    secure = make_client(cookie_secure=True)
    response = secure.post("/login/browser", json=CREDENTIALS)
    assert response.status_code == 204, response.text
    assert all(attributes["secure"] is True for attributes in set_cookies(response).values())


def test_samesite_strict_is_configurable(make_client: Callable[..., TestClient], user: dict[str, str]) -> None:
    strict = make_client(cookie_samesite="strict")
    response = strict.post("/login/browser", json=CREDENTIALS)
    assert set_cookies(response)["access_token"]["samesite"] == "strict"


def test_cookie_session_works_with_the_csrf_header(client: TestClient, user: dict[str, str]) -> None:
    browser_login(client)
    assert client.get("/protected").json() == {"user": "alice"}  # safe method: no CSRF header needed
    csrf = client.cookies["csrf_access_token"]
    assert client.post("/fresh-only", headers={"X-CSRF-Token": csrf}).status_code == 200


@pytest.mark.parametrize("header", [None, "", "wrong"])
def test_unsafe_request_with_cookie_but_no_matching_csrf_header_is_refused(
    client: TestClient, user: dict[str, str], header: str | None
) -> None:
    browser_login(client)
    headers = {} if header is None else {"X-CSRF-Token": header}
    response = client.post("/fresh-only", headers=headers)
    assert (response.status_code, response.json()["code"]) == (403, "csrf_failed")
    assert client.post("/logout", headers=headers).status_code == 403  # and the session is untouched
    assert client.get("/protected").status_code == 200


def test_csrf_value_is_bound_to_the_token(client: TestClient, user: dict[str, str]) -> None:
    browser_login(client)
    first_csrf = client.cookies["csrf_access_token"]
    client.cookies.clear()
    browser_login(client)  # a second session: the attacker knows the first session's CSRF value only
    response = client.post("/fresh-only", headers={"X-CSRF-Token": first_csrf})
    assert (response.status_code, response.json()["code"]) == (403, "csrf_failed")


def test_refresh_by_cookie_rotates_cookies_and_needs_the_refresh_csrf(client: TestClient, user: dict[str, str]) -> None:
    before = browser_login(client)
    refused = client.post("/refresh", headers={"X-CSRF-Token": client.cookies["csrf_access_token"]})
    assert (refused.status_code, refused.json()["code"]) == (403, "csrf_failed")
    # httpx only sends the refresh cookie to /refresh, like a browser: the path scoping is real.
    response = client.post("/refresh", headers={"X-CSRF-Token": str(before["csrf_refresh_token"]["value"])})
    assert response.status_code == 204, response.text
    after = set_cookies(response)
    assert after["access_token"]["value"] != before["access_token"]["value"]
    assert after["refresh_token"]["value"] != before["refresh_token"]["value"]


def test_token_location_setting_limits_where_tokens_are_read(make_client: Callable[..., TestClient], user: dict[str, str]) -> None:
    headers_only = make_client(token_location=["headers"])
    assert headers_only.post("/login/browser", json=CREDENTIALS).status_code == 204
    assert headers_only.get("/protected").json()["code"] == "missing_token"  # the cookie is ignored
    cookies_only = make_client(token_location=["cookies"])
    tokens = cookies_only.post("/login", json=CREDENTIALS).json()
    response = cookies_only.get("/protected", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert response.json()["code"] == "missing_token"


def test_header_transport_needs_no_csrf(client: TestClient, user: dict[str, str]) -> None:
    tokens = client.post("/login", json=CREDENTIALS).json()
    assert client.post("/fresh-only", headers={"Authorization": f"Bearer {tokens['access_token']}"}).status_code == 200


def test_logout_clears_the_cookies(client: TestClient, user: dict[str, str]) -> None:
    browser_login(client)
    response = client.post("/logout", headers={"X-CSRF-Token": client.cookies["csrf_access_token"]})
    assert response.status_code == 204
    cleared = set_cookies(response)
    assert {"access_token", "refresh_token", "csrf_access_token", "csrf_refresh_token"} <= cleared.keys()
    assert all(attributes["max-age"] == "0" for attributes in cleared.values())
    assert cleared["refresh_token"]["path"] == "/refresh"


def test_pages(client: TestClient, user: dict[str, str]) -> None:
    assert client.get("/login").status_code == 200
    redirect = client.get("/", follow_redirects=False)
    assert (redirect.status_code, redirect.headers["location"]) == (303, "/login")
    browser_login(client)
    page = client.get("/")
    assert page.status_code == 200
    assert 'id="session-countdown"' in page.text
