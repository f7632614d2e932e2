"""Mail notices of second-factor changes (mfa/notices.py): a factor added, removed, a recovery code spent.

Each goes to the account's address after the answer, from a background task; mail goes to the memory
backend here (`app.state.mailer.outbox`). An account without an address gets none.
"""

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from {{ cookiecutter.package_name }}.mail import Message
from {{ cookiecutter.package_name }}.mfa import totp as totp_module
from {{ cookiecutter.package_name }}.users import service as users_service

from .conftest import PASSWORD, Clock, bearer, login
from .test_mfa import code_now, enrol, first_step, login_with


def outbox(client: TestClient) -> list[Message]:
    sent: list[Message] = client.app.state.mailer.outbox  # type: ignore[attr-defined]
    return sent


@pytest.fixture
def totp_clock(clock: Clock) -> Clock:
    clock.freeze_monotonic_in(totp_module)  # TOTP codes on the test's clock, as in tests/test_mfa.py
    return clock


def test_the_owner_hears_of_a_factor_added_and_removed(client: TestClient, tokens: dict[str, str], totp_clock: Clock) -> None:
    secret, codes = enrol(client, tokens, totp_clock)
    added = outbox(client)[-1]
    assert added.to == "alice@example.com" and "second factor was added" in added.subject
    assert "authenticator app was set up" in added.text and "/password/forgot" in added.text
    assert secret not in added.text + added.html and codes[0] not in added.text + added.html  # nothing in it logs in
    proved = login_with(client, code=code_now(secret, totp_clock))
    assert len(outbox(client)) == 1  # a login with the app's code is no news
    assert client.delete("/mfa/totp", headers=bearer(proved["access_token"])).status_code == 204
    removed = outbox(client)[-1]
    assert "was removed" in removed.subject and "was turned off" in removed.text and "administrator" not in removed.text


def test_the_owner_hears_how_many_recovery_codes_are_left(client: TestClient, tokens: dict[str, str], totp_clock: Clock) -> None:
    _, codes = enrol(client, tokens, totp_clock)
    login_with(client, recovery_code=codes[0])
    notice = outbox(client)[-1]
    assert notice.to == "alice@example.com" and "recovery code" in notice.subject
    assert "9 of them are left" in notice.text and "Make new recovery codes" not in notice.text
    for code in codes[1:9]:  # the browser's second step tells too
        answer = client.post("/login/mfa/browser", json={"mfa_token": first_step(client)["mfa_token"], "recovery_code": code})
        assert answer.status_code == 204, answer.text
    last = outbox(client)[-1]
    assert "1 of them is left" in last.text and "Make new recovery codes" in last.text
    assert len(outbox(client)) == 1 + 9  # the set-up's, then one per code
    # A re-authentication with the last one tells as well.
    headers = bearer(client.post("/refresh", headers=bearer(tokens["refresh_token"])).json()["access_token"])
    step = client.post("/fresh-login", json={"password": PASSWORD}, headers=headers).json()
    fresh = client.post("/fresh-login/mfa", json={"mfa_token": step["mfa_token"], "recovery_code": codes[9]}, headers=headers)
    assert fresh.status_code == 200, fresh.text
    assert "0 of them are left" in outbox(client)[-1].text and len(outbox(client)) == 11


def test_a_wrong_recovery_code_sends_nothing(client: TestClient, tokens: dict[str, str], totp_clock: Clock) -> None:
    enrol(client, tokens, totp_clock)
    answer = client.post("/login/mfa", json={"mfa_token": first_step(client)["mfa_token"], "recovery_code": "aaaaa-bbbbb"})
    assert answer.json()["code"] == "invalid_code"
    assert len(outbox(client)) == 1  # the set-up's only


def test_an_account_without_an_address_gets_no_mail(client: TestClient, totp_clock: Clock) -> None:
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        users_service.create_user(session, client.app.state.settings, "bob", PASSWORD)  # type: ignore[attr-defined]
    secret, _ = enrol(client, login(client, "bob"), totp_clock)
    answer = client.post("/login", json={"username": "bob", "password": PASSWORD})
    proved = client.post("/login/mfa", json={"mfa_token": answer.json()["mfa_token"], "code": code_now(secret, totp_clock)}).json()
    assert client.delete("/mfa/totp", headers=bearer(proved["access_token"])).status_code == 204
    assert outbox(client) == []
