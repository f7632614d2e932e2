"""The second factor's pages without a browser: the login's and the re-authentication's second step, and
the dashboard's authenticator set-up, recovery codes and turning it off. Codes are computed on the test's
clock (test_mfa.py), which the test moves a step to get the next code."""

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from .conftest import PASSWORD, Clock
from .test_forms import FORM, form_login
from .test_mfa import STEP, code_now, totp_clock

__all__ = ["totp_clock"]  # the fixture, imported for these tests

Enrolled = tuple[str, list[str]]


def access_csrf(client: TestClient) -> str:
    return client.cookies["csrf_access_token"]


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, page
    return found.group(1)


def shown_codes(page: str) -> list[str]:
    return re.findall(r"<li><code>([a-z0-9-]+)</code></li>", page)


def enrol_by_forms(client: TestClient, clock: Clock) -> Enrolled:
    """Log in by the form and turn an authenticator on from the dashboard: its secret and recovery codes."""
    form_login(client)
    page = client.post("/mfa/totp/setup/form", data={"csrf": access_csrf(client)})
    assert page.status_code == 200, page.text
    secret = re.search(r'id="totp-secret"[^>]*>([A-Z2-7]+)<', page.text)
    assert secret, page.text
    done = client.post("/mfa/totp/confirm/form", data={"csrf": access_csrf(client), "code": code_now(secret.group(1), clock)})
    assert done.status_code == 200 and "Write these down" in done.text, done.text
    clock.move(seconds=STEP)  # the confirming code is spent: the next step uses the next one
    return secret.group(1), shown_codes(done.text)


@pytest.fixture
def enrolled(client: TestClient, user: dict[str, str], totp_clock: Clock) -> Enrolled:
    enrolled = enrol_by_forms(client, totp_clock)
    client.cookies.clear()  # logged out: each test logs in again
    return enrolled


def second_step_page(client: TestClient) -> str:
    page = client.post("/login/form", data=FORM)
    assert page.status_code == 200 and 'action="/login/mfa/form"' in page.text, page.text
    assert "access_token" not in client.cookies  # no session before the second factor
    return page.text


def test_the_set_up_page_shows_a_qr_code_the_policy_allows_and_the_codes_once(
    client: TestClient, user: dict[str, str], totp_clock: Clock
) -> None:
    form_login(client)
    assert 'id="mfa-status">Authenticator app: <strong>off</strong>' in client.get("/").text
    page = client.post("/mfa/totp/setup/form", data={"csrf": access_csrf(client)})
    svg = re.search(r"<svg.*?</svg>", page.text, re.S)
    assert svg and "style" not in svg.group(0) and "<script" not in svg.group(0)
    policy = page.headers["content-security-policy"]
    assert "style-src 'self';" in policy and "unsafe-inline" not in policy
    assert 'autocomplete="one-time-code"' in page.text and 'inputmode="numeric"' in page.text
    secret = re.search(r'id="totp-secret"[^>]*>([A-Z2-7]+)<', page.text)
    assert secret
    done = client.post("/mfa/totp/confirm/form", data={"csrf": access_csrf(client), "code": code_now(secret.group(1), totp_clock)})
    codes = shown_codes(done.text)
    assert len(codes) == 10 and len(set(codes)) == 10
    dashboard = client.get("/").text
    assert "<strong>on</strong>" in dashboard and 'id="recovery-left">10<' in dashboard
    assert not any(code in dashboard for code in codes)  # shown that once only


def test_a_wrong_code_at_set_up_asks_again_and_keeps_the_pending_key(client: TestClient, user: dict[str, str], totp_clock: Clock) -> None:
    form_login(client)
    page = client.post("/mfa/totp/setup/form", data={"csrf": access_csrf(client)}).text
    secret = re.search(r'id="totp-secret"[^>]*>([A-Z2-7]+)<', page)
    assert secret
    wrong = client.post("/mfa/totp/confirm/form", data={"csrf": access_csrf(client), "code": "000000"})
    assert wrong.status_code == 401 and "That code is not right" in wrong.text and "<svg" not in wrong.text
    right = client.post("/mfa/totp/confirm/form", data={"csrf": access_csrf(client), "code": code_now(secret.group(1), totp_clock)})
    assert len(shown_codes(right.text)) == 10


def test_the_login_form_asks_for_a_code_then_logs_in(client: TestClient, enrolled: Enrolled, totp_clock: Clock) -> None:
    secret, _ = enrolled
    page = second_step_page(client)
    assert 'autocomplete="one-time-code"' in page and 'inputmode="numeric"' in page and 'name="recovery_code"' in page
    mfa_token = hidden(page, "mfa_token")
    wrong = client.post("/login/mfa/form", data={"mfa_token": mfa_token, "code": "000000"})
    assert wrong.status_code == 401 and "That code is not right" in wrong.text and hidden(wrong.text, "mfa_token") == mfa_token
    empty = client.post("/login/mfa/form", data={"mfa_token": mfa_token})
    assert empty.status_code == 422 and hidden(empty.text, "mfa_token") == mfa_token
    done = client.post("/login/mfa/form", data={"mfa_token": mfa_token, "code": code_now(secret, totp_clock)}, follow_redirects=False)
    assert (done.status_code, done.headers["location"]) == (303, "/")
    assert {"access_token", "refresh_token", "csrf_access_token", "csrf_refresh_token", "device_token"} <= client.cookies.keys()
    assert 'id="session-user">alice<' in client.get("/").text


def test_a_recovery_code_logs_in_once(client: TestClient, enrolled: Enrolled) -> None:
    _, codes = enrolled
    done = client.post("/login/mfa/form", data={"mfa_token": hidden(second_step_page(client), "mfa_token"), "recovery_code": codes[0]})
    assert done.status_code == 200 and 'id="recovery-left">9<' in done.text  # followed to the dashboard
    assert client.app.state.mailer.outbox[-1].subject.startswith("A recovery code")  # type: ignore[attr-defined]
    client.cookies.clear()
    again = client.post("/login/mfa/form", data={"mfa_token": hidden(second_step_page(client), "mfa_token"), "recovery_code": codes[0]})
    assert again.status_code == 401 and "used already" in again.text and "access_token" not in client.cookies


def test_a_spent_or_forged_step_goes_back_to_the_login_page(
    make_client: Callable[..., TestClient], user: dict[str, str], totp_clock: Clock
) -> None:
    client = make_client(mfa_token_attempts=2)
    secret, _ = enrol_by_forms(client, totp_clock)
    client.cookies.clear()
    mfa_token = hidden(second_step_page(client), "mfa_token")
    for _ in range(2):
        assert client.post("/login/mfa/form", data={"mfa_token": mfa_token, "code": "000000"}).status_code == 401
    spent = client.post("/login/mfa/form", data={"mfa_token": mfa_token, "code": code_now(secret, totp_clock)})
    assert spent.status_code == 429 and 'id="login-form"' in spent.text and "Too many attempts" in spent.text
    assert int(spent.headers["Retry-After"]) >= 1 and "access_token" not in client.cookies
    forged = client.post("/login/mfa/form", data={"mfa_token": "v4.local.forged", "code": code_now(secret, totp_clock)})
    assert forged.status_code == 401 and 'id="login-form"' in forged.text and "Log in again" in forged.text


def test_the_second_step_refuses_a_post_from_another_site(client: TestClient, enrolled: Enrolled, totp_clock: Clock) -> None:
    secret, _ = enrolled
    mfa_token = hidden(second_step_page(client), "mfa_token")
    form = {"mfa_token": mfa_token, "code": code_now(secret, totp_clock)}
    refused = client.post("/login/mfa/form", data=form, headers={"Sec-Fetch-Site": "cross-site"})
    assert (refused.status_code, refused.json()["code"]) == (403, "csrf_failed") and "access_token" not in client.cookies
    assert client.post("/login/mfa/form", data=form, follow_redirects=False).status_code == 303  # the token was not spent


def log_in_by_forms(client: TestClient, secret: str, clock: Clock) -> None:
    clock.move(seconds=STEP)
    done = client.post(
        "/login/mfa/form", data={"mfa_token": hidden(second_step_page(client), "mfa_token"), "code": code_now(secret, clock)}
    )
    assert done.status_code == 200 and 'id="session-user">alice<' in done.text, done.text


def test_changing_the_factor_needs_a_re_authentication_with_it(client: TestClient, user: dict[str, str], totp_clock: Clock) -> None:
    secret, old_codes = enrol_by_forms(client, totp_clock)  # this session proved the password only
    asked = client.post("/mfa/recovery-codes/form", data={"csrf": access_csrf(client)}, follow_redirects=False)
    assert asked.headers["location"] == "/?notice=fresh_token_required"
    assert (
        client.post("/mfa/totp/remove/form", data={"csrf": access_csrf(client)}, follow_redirects=False).headers["location"]
        == asked.headers["location"]
    )
    csrf = access_csrf(client)
    step = client.post("/fresh-login/form", data={"password": PASSWORD, "csrf": csrf})
    assert (
        step.status_code == 200
        and 'action="/fresh-login/mfa/form"' in step.text
        and f'name="csrf" value="{csrf}" data-csrf="access"' in step.text
    )
    mfa_token = hidden(step.text, "mfa_token")
    wrong = client.post("/fresh-login/mfa/form", data={"mfa_token": mfa_token, "code": "000000", "csrf": csrf})
    assert wrong.status_code == 401 and hidden(wrong.text, "mfa_token") == mfa_token
    no_csrf = client.post(
        "/fresh-login/mfa/form", data={"mfa_token": mfa_token, "code": code_now(secret, totp_clock)}, follow_redirects=False
    )
    assert no_csrf.headers["location"] == "/?notice=csrf_failed"
    right = {"mfa_token": mfa_token, "code": code_now(secret, totp_clock), "csrf": csrf}
    confirmed = client.post("/fresh-login/mfa/form", data=right, follow_redirects=False)
    assert confirmed.headers["location"] == "/?notice=reauthenticated"
    new = client.post("/mfa/recovery-codes/form", data={"csrf": access_csrf(client)})
    codes = shown_codes(new.text)
    assert len(codes) == 10 and not set(codes) & set(old_codes)
    off = client.post("/mfa/totp/remove/form", data={"csrf": access_csrf(client)}, follow_redirects=False)
    assert off.headers["location"] == "/?notice=mfa_removed"
    assert "<strong>off</strong>" in client.get("/").text
    told = [mail.subject for mail in client.app.state.mailer.outbox]  # type: ignore[attr-defined]
    assert any("added" in subject for subject in told), told  # the owner hears of it turned on, then off
    assert any("removed" in subject for subject in told), told
    client.cookies.clear()
    assert client.post("/login/form", data=FORM, follow_redirects=False).status_code == 303  # a password alone again


def test_a_refreshed_session_is_asked_to_re_authenticate_before_set_up(client: TestClient, user: dict[str, str]) -> None:
    refresh_csrf = form_login(client)
    client.post("/refresh/form", data={"csrf": refresh_csrf})  # no longer fresh
    asked = client.post("/mfa/totp/setup/form", data={"csrf": access_csrf(client)}, follow_redirects=False)
    assert asked.headers["location"] == "/?notice=fresh_token_required"
    assert 'id="reauth-form" method="post" action="/fresh-login/form" >' in client.get(asked.headers["location"]).text


@pytest.mark.parametrize("path", ["/mfa/totp/setup/form", "/mfa/totp/confirm/form", "/mfa/recovery-codes/form", "/mfa/totp/remove/form"])
def test_the_factor_forms_without_the_csrf_value_are_refused(client: TestClient, enrolled: Enrolled, totp_clock: Clock, path: str) -> None:
    secret, _ = enrolled
    log_in_by_forms(client, secret, totp_clock)  # fresh, with the second factor: only the CSRF value is missing
    refused = client.post(path, data={"code": code_now(secret, totp_clock)}, follow_redirects=False)
    assert refused.headers["location"] == "/?notice=csrf_failed"
    assert 'id="recovery-left">10<' in client.get("/").text  # nothing changed
