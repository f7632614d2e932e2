"""The pages' forms without a browser: each does the whole job, answers with a redirect or the page, and
refuses posts from other sites and posts without the CSRF value of the session."""

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.auth.devices import device_name

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


# -- the sign-up page ---------------------------------------------------------------------------------

SIGN_UP = {"username": "bob", "email": "Bob@Example.com", "password": "bob's long passphrase"}


def test_the_sign_up_form_creates_the_account_logs_in_and_mails_a_link(client: TestClient) -> None:
    page = client.get("/register")
    assert page.status_code == 200 and 'action="/register/form"' in page.text
    assert 'href="/register"' in client.get("/login").text  # the login page links to it
    response = client.post("/register/form", data=SIGN_UP, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/?notice=registered"), response.text
    assert {"access_token", "refresh_token", "csrf_refresh_token", "device_token"} <= client.cookies.keys()
    dashboard = client.get(response.headers["location"]).text
    assert 'id="session-user">bob<' in dashboard and "Welcome!" in dashboard
    (mail,) = client.app.state.mailer.outbox  # type: ignore[attr-defined]
    assert mail.to == "bob@example.com" and "/email/verify?token=" in mail.text


def test_signing_up_without_an_address_sends_no_mail(client: TestClient) -> None:
    response = client.post("/register/form", data={**SIGN_UP, "email": "  "}, follow_redirects=False)
    assert response.headers["location"] == "/?notice=registered", response.text
    assert not client.app.state.mailer.outbox  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        ({**SIGN_UP, "username": "alice"}, 409, "That username is taken"),
        ({**SIGN_UP, "email": "alice@example.com"}, 409, "That e-mail address is taken"),
        ({**SIGN_UP, "password": "short"}, 422, "Password: String should have at least 8 characters"),
        ({**SIGN_UP, "username": "no spaces please"}, 422, "Username: must be 3 to 64"),
        ({**SIGN_UP, "email": "not an address"}, 422, "E-mail address: value is not a valid email address"),
    ],
)
def test_a_refused_sign_up_shows_the_page_again_with_what_was_typed(
    client: TestClient, user: dict[str, str], form: dict[str, str], status: int, message: str
) -> None:
    response = client.post("/register/form", data=form)
    assert response.status_code == status, response.text
    assert message in response.text
    assert f'value="{form["username"]}"' in response.text and f'value="{form["email"]}"' in response.text
    assert form["password"] not in response.text
    assert not client.cookies


def test_sign_ups_past_the_limit_are_told_to_wait(make_client: Callable[..., TestClient]) -> None:
    client = make_client(registration_free_attempts=1)
    assert client.post("/register/form", data=SIGN_UP, follow_redirects=False).status_code == 303
    client.cookies.clear()
    refused = client.post("/register/form", data={**SIGN_UP, "username": "carol", "email": ""})
    assert refused.status_code == 429 and "Too many" in refused.text and 'value="carol"' in refused.text
    assert int(refused.headers["Retry-After"]) >= 1


def test_with_verified_addresses_required_the_new_user_is_sent_to_verify_first(make_client: Callable[..., TestClient]) -> None:
    client = make_client(require_verified_email=True)
    response = client.post("/register/form", data=SIGN_UP, follow_redirects=False)
    assert response.headers["location"] == "/login?reason=registered_verify"
    assert "Verify your address with the link we mailed" in client.get(response.headers["location"]).text
    assert "access_token" not in client.cookies


def test_with_registration_closed_the_page_says_so_and_the_form_refuses(make_client: Callable[..., TestClient]) -> None:
    client = make_client(registration_open=False)
    page = client.get("/register")
    assert page.status_code == 404 and "Sign-up is closed" in page.text and "register-form" not in page.text
    assert 'href="/register"' not in client.get("/login").text
    refused = client.post("/register/form", data=SIGN_UP)
    assert refused.status_code == 403 and "Sign-up is closed" in refused.text


def test_a_sign_up_posted_from_another_site_is_refused(client: TestClient) -> None:
    response = client.post("/register/form", data=SIGN_UP, headers={"Sec-Fetch-Site": "cross-site"})
    assert (response.status_code, response.json()["code"]) == (403, "csrf_failed")


# -- what every page shows ----------------------------------------------------------------------------


def test_the_navigation_offers_what_fits_the_visitor(client: TestClient, user: dict[str, str]) -> None:
    logged_out = client.get("/login").text
    assert 'id="nav-login"' in logged_out and 'id="nav-register"' in logged_out and 'id="nav-logout"' not in logged_out
    assert 'href="/docs"' in logged_out  # DOCS_ENABLED in the test settings
    csrf = form_login(client)
    logged_in = client.get("/").text
    assert 'id="nav-logout" class="danger"' in logged_in and 'id="nav-login"' not in logged_in
    assert f'name="csrf" value="{csrf}"' in logged_in
    response = client.post("/refresh/logout", data={"csrf": csrf}, follow_redirects=False)
    assert response.headers["location"] == "/login?reason=logged_out"


def test_the_dashboard_shows_one_time_format_and_names_devices(client: TestClient, user: dict[str, str]) -> None:
    firefox = "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0"
    client.post("/login/form", data=FORM, headers={"User-Agent": firefox})
    page = client.get("/").text
    assert "Firefox on Android" in page and f'title="{firefox}"' in page
    times = re.findall(r"<time[^>]*>([^<]*)</time>", page)
    # 5 of the session and its device, 2 of the recent activity (the account made, this login)
    assert len(times) == 7 and all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", text) for text in times), times
    assert "end-session" not in page  # one session, this one: nothing to end from here


CHROMIUM = "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"


@pytest.mark.parametrize(
    ("user_agent", "name"),
    [
        (f"Mozilla/5.0 (X11; Linux x86_64) {CHROMIUM} Safari/537.36", "Chrome on Linux"),
        (f"{WINDOWS} {CHROMIUM} Safari/537.36 Edg/131.0.0.0", "Edge on Windows"),
        (f"{WINDOWS} {CHROMIUM} Safari/537.36 OPR/115.0.0.0", "Opera on Windows"),
        (f"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) {CHROMIUM} Safari/537.36", "Chrome on ChromeOS"),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
            "Safari on macOS",
        ),
        (f"{IPHONE} Version/18.1 Mobile/15E148 Safari/604.1", "Safari on iOS"),
        (f"{IPHONE} CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1", "Chrome on iOS"),
        (
            "Mozilla/5.0 (Linux; Android 14; SM-S918B) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
            "Samsung Internet on Android",
        ),
        ("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox on Linux"),
        ("curl/8.5.0", "curl"),
        ("python-httpx/0.28.1", "Python (httpx)"),
        ("The laptop at work", "Unknown device"),
        ("", "Unknown device"),
    ],
)
def test_a_user_agent_is_named_by_browser_and_system(user_agent: str, name: str) -> None:
    assert device_name(user_agent) == name
