"""The pages' forms without a browser: each does the whole job, answers with a redirect or the page, and
refuses posts from other sites and posts without the CSRF value of the session."""

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from .conftest import PASSWORD, bearer, login

FORM = {"username": "alice", "password": PASSWORD}


def form_login(client: TestClient) -> str:
    """Log in through the login page's form; return the CSRF value the dashboard puts in its forms."""
    response = client.post("/login/form", data=FORM, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/"), response.text
    page = client.get("/")
    assert page.status_code == 200 and 'id="session-user">alice<' in page.text
    assert "v4." not in page.text  # the tokens stay in their HttpOnly cookies
    return client.cookies["csrf_refresh_token"]


def test_the_login_form_sets_the_cookies_and_goes_to_the_dashboard(client: TestClient, user: dict[str, str]) -> None:
    form_login(client)
    assert {"access_token", "refresh_token", "csrf_access_token", "csrf_refresh_token"} <= client.cookies.keys()


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        ({"username": "alice", "password": "wrong guess"}, 401, "Incorrect username or password"),
        ({"username": "alice"}, 422, "Please enter"),
    ],
)
def test_a_refused_login_shows_the_page_again(
    client: TestClient, user: dict[str, str], form: dict[str, str], status: int, message: str
) -> None:
    response = client.post("/login/form", data=form)
    assert response.status_code == status
    assert message in response.text and 'value="alice"' in response.text
    assert "wrong guess" not in response.text
    assert not client.cookies


def test_a_throttled_login_says_when_to_try_again(make_client: Callable[..., TestClient], user: dict[str, str]) -> None:
    client = make_client(login_free_failures=1)
    client.post("/login/form", data={"username": "alice", "password": "wrong guess"})
    refused = client.post("/login/form", data=FORM)
    assert refused.status_code == 429 and "Too many attempts" in refused.text
    assert int(refused.headers["Retry-After"]) >= 1


@pytest.mark.parametrize("headers", [{"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}, {"Origin": "https://evil.example"}])
def test_a_form_posted_from_another_site_is_refused(client: TestClient, user: dict[str, str], headers: dict[str, str]) -> None:
    response = client.post("/login/form", data=FORM, headers=headers)
    assert (response.status_code, response.json()["code"]) == (403, "csrf_failed")
    assert not client.cookies


def test_the_logout_form_ends_the_session_even_after_the_access_token_expired(client: TestClient, user: dict[str, str]) -> None:
    csrf = form_login(client)
    refresh_token = client.cookies["refresh_token"]
    client.cookies.delete("access_token")  # as if it had expired and the browser dropped it
    response = client.post("/refresh/logout", data={"csrf": csrf}, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/login?reason=logged_out")
    assert "access_token" not in client.cookies and "refresh_token" not in client.cookies
    replay = client.post("/refresh", headers={"Authorization": f"Bearer {refresh_token}"})
    assert replay.json()["code"] == "token_revoked"


def test_a_spent_refresh_cookie_ends_its_own_session_as_reuse_and_nothing_else(client: TestClient, user: dict[str, str]) -> None:
    elsewhere = login(client)  # the owner's other device
    csrf = form_login(client)
    spent = client.cookies["refresh_token"]
    assert client.post("/refresh", headers=bearer(spent)).status_code == 200  # the token is spent (by a thief, say)
    response = client.post("/refresh/logout", data={"csrf": csrf, "everywhere": "1"}, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/login?reason=reused")
    assert client.post("/refresh", headers=bearer(elsewhere["refresh_token"])).status_code == 200  # not logged out everywhere
    assert client.post("/refresh", headers=bearer(spent)).json()["code"] == "token_revoked"  # its own session ended


def test_the_refresh_cookie_of_an_ended_session_only_clears_the_cookies(
    make_client: Callable[..., TestClient], client: TestClient, user: dict[str, str]
) -> None:
    elsewhere = login(client)
    csrf = form_login(client)
    # Another instance that last read the revoked sessions before this one logs out (its memory lapsed).
    other = make_client(paseto_key=client.app.state.settings.paseto_key, revocation_sync_seconds=3600)  # type: ignore[attr-defined]
    other.cookies = client.cookies
    assert client.post("/refresh/logout", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    response = other.post("/refresh/logout", data={"csrf": csrf, "everywhere": "1"}, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/login?reason=logged_out_everywhere")
    assert client.post("/refresh", headers=bearer(elsewhere["refresh_token"])).status_code == 200  # nobody else logged out


def test_a_logout_form_without_the_sessions_csrf_value_does_nothing(client: TestClient, user: dict[str, str]) -> None:
    form_login(client)
    response = client.post("/refresh/logout", data={"csrf": "guessed"}, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/")
    assert client.get("/").status_code == 200  # still logged in
    assert 'id="session-user">alice<' in client.get("/").text


def test_the_continue_button_refreshes_an_expired_access_token(client: TestClient, user: dict[str, str]) -> None:
    csrf = form_login(client)
    client.cookies.delete("access_token")
    assert 'id="session-expired"' in client.get("/").text
    response = client.post("/refresh/form", data={"csrf": csrf}, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/")
    assert "no (refreshed)" in client.get("/").text


def test_the_password_form_asks_a_refreshed_session_to_confirm_first(client: TestClient, user: dict[str, str]) -> None:
    csrf = form_login(client)
    client.post("/refresh/form", data={"csrf": csrf})  # no longer fresh
    access_csrf = client.cookies["csrf_access_token"]
    change = {"current_password": PASSWORD, "new_password": "a brand new passphrase", "csrf": access_csrf}
    asked = client.post("/users/me/password/form", data=change, follow_redirects=False)
    assert asked.headers["location"] == "/?notice=fresh_token_required"
    page = client.get(asked.headers["location"]).text
    assert "needs your password again" in page and '<form id="reauth-form" method="post" action="/fresh-login/form" >' in page
    confirmed = client.post("/fresh-login/form", data={"password": PASSWORD, "csrf": access_csrf}, follow_redirects=False)
    assert confirmed.headers["location"] == "/?notice=reauthenticated"
    changed = client.post("/users/me/password/form", data={**change, "csrf": client.cookies["csrf_access_token"]}, follow_redirects=False)
    assert changed.headers["location"] == "/?notice=password_changed"
    assert client.post("/login", json=FORM).status_code == 401  # the old password is gone


def test_a_dashboard_form_without_the_csrf_value_is_refused(client: TestClient, user: dict[str, str]) -> None:
    form_login(client)
    change = {"current_password": PASSWORD, "new_password": "a brand new passphrase"}
    refused = client.post("/users/me/password/form", data=change, follow_redirects=False)
    assert refused.headers["location"] == "/?notice=csrf_failed"
    assert client.post("/login", json=FORM).status_code == 200  # unchanged
