"""New-device notices (activity/notices.py): a password login from a client without a device token of the
account mails its owner, through a real SMTP server (tests/smtp.py); a known device, the login of a
registration and NEW_DEVICE_NOTICES=false send none.

A mail that must not come is checked by a later one that must: the inbox is waited on until that one
arrives, and then holds nothing between them.
"""

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.activity.service import approximate_address
from {{ cookiecutter.package_name }}.mfa import totp as totp_module

from .conftest import PASSWORD, Clock, login
from .smtp import Inbox, mail_server, text_of
from .test_mail import smtp_settings
from .test_mfa import code_now, enrol

ALICE = "alice@example.com"
FIREFOX_ON_ANDROID = "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0"
CURL = "curl/8.5.0"


@pytest.fixture
def smtp() -> Iterator[tuple[int, Inbox]]:
    with mail_server() as server:
        yield server


def notified(make_client: Callable[..., TestClient], port: int, **overrides: object) -> TestClient:
    return make_client(**smtp_settings(port), **{"new_device_notices": True, **overrides})


def log_in(client: TestClient, agent: str, device_token: str | None = None) -> dict[str, str]:
    body = {"username": "alice", "password": PASSWORD, "device_token": device_token}
    answer = client.post("/login", json=body, headers={"User-Agent": agent})
    assert answer.status_code == 200, answer.text
    tokens: dict[str, str] = answer.json()
    return tokens


def test_a_login_from_a_new_device_mails_its_owner_and_a_known_device_does_not(
    make_client: Callable[..., TestClient], user: dict[str, str], smtp: tuple[int, Inbox]
) -> None:
    port, inbox = smtp
    client = notified(make_client, port)
    phone = TestClient(client.app, client=("203.0.113.7", 50000))
    tokens = log_in(phone, FIREFOX_ON_ANDROID)
    mail = inbox.wait_for(ALICE)
    text = text_of(mail)
    assert mail["Subject"].startswith("A new login to your")
    assert "Firefox on Android" in text and "203.0.113.0/24 (approximate)" in text and "203.0.113.7" not in text
    assert " UTC" in text and "http://testserver/#sessions-heading" in text
    html = mail.get_body(preferencelist=("html",))
    assert html is not None and "Firefox on Android" in str(html.get_content())
    whole = mail.as_string()
    for secret in (tokens["access_token"], tokens["refresh_token"], tokens["device_token"], PASSWORD, "v4."):
        assert secret not in whole  # nothing in it logs in
    log_in(phone, FIREFOX_ON_ANDROID, device_token=tokens["device_token"])  # the same phone again: no news
    log_in(client, CURL)  # a new one: the next mail
    assert "curl" in text_of(inbox.wait_for(ALICE, count=2))
    assert len(inbox.to(ALICE)) == 2


def test_the_browsers_login_form_tells_of_a_new_browser_once(
    make_client: Callable[..., TestClient], user: dict[str, str], smtp: tuple[int, Inbox]
) -> None:
    port, inbox = smtp
    client = notified(make_client, port)
    browser = {"User-Agent": FIREFOX_ON_ANDROID}
    for _ in range(2):  # the second login carries the device cookie of the first
        answer = client.post("/login/form", data={"username": "alice", "password": PASSWORD}, headers=browser, follow_redirects=False)
        assert answer.status_code == 303, answer.text
    assert "device_token" in client.cookies
    another = TestClient(client.app)
    another.post("/login/form", data={"username": "alice", "password": PASSWORD}, headers={"User-Agent": CURL}, follow_redirects=False)
    assert "curl" in text_of(inbox.wait_for(ALICE, count=2))
    assert "Firefox on Android" in text_of(inbox.to(ALICE)[0]) and len(inbox.to(ALICE)) == 2


def test_the_login_of_a_registration_sends_no_notice(make_client: Callable[..., TestClient], smtp: tuple[int, Inbox]) -> None:
    port, inbox = smtp
    client = notified(make_client, port)
    sign_up = {"username": "bob", "email": "bob@example.com", "password": "bob's long passphrase"}
    answer = client.post("/register/form", data=sign_up, follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, "/?notice=registered"), answer.text
    assert "/email/verify?token=" in text_of(inbox.wait_for("bob@example.com"))
    stranger = TestClient(client.app)  # then a login from elsewhere: told
    assert stranger.post("/login", json={"username": "bob", "password": "bob's long passphrase"}).status_code == 200
    assert inbox.wait_for("bob@example.com", count=2)["Subject"].startswith("A new login")
    assert len(inbox.to("bob@example.com")) == 2  # the link to verify, and that login's notice only


def test_with_the_setting_off_no_notice_is_sent(
    make_client: Callable[..., TestClient], user: dict[str, str], smtp: tuple[int, Inbox]
) -> None:
    port, inbox = smtp
    client = notified(make_client, port, new_device_notices=False)
    log_in(client, FIREFOX_ON_ANDROID)
    assert client.post("/password/forgot", json={"email": ALICE}).status_code == 202  # a mail that does come
    assert inbox.wait_for(ALICE)["Subject"].startswith("Set a new password")
    assert len(inbox.to(ALICE)) == 1


def test_a_login_with_a_second_factor_tells_of_a_new_device_after_its_second_step(
    make_client: Callable[..., TestClient], user: dict[str, str], clock: Clock
) -> None:
    clock.freeze_monotonic_in(totp_module)
    client = make_client(new_device_notices=True)  # the memory backend: app.state.mailer.outbox
    outbox = client.app.state.mailer.outbox  # type: ignore[attr-defined]
    secret, _ = enrol(client, login(client), clock)  # a new factor ends every device token (the stamp moves)
    before = len(outbox)  # the first login's notice, the factor's

    def two_steps(device_token: str | None) -> dict[str, str]:
        step = client.post("/login", json={"username": "alice", "password": PASSWORD, "device_token": device_token})
        assert step.json()["code"] == "mfa_required", step.text
        done = client.post("/login/mfa", json={"mfa_token": step.json()["mfa_token"], "code": code_now(secret, clock)})
        assert done.status_code == 200, done.text
        clock.move(seconds=30)  # each code is good once: the next login uses the next step's
        tokens: dict[str, str] = done.json()
        return tokens

    device_token = two_steps(None)["device_token"]
    assert len(outbox) == before + 1 and outbox[-1].subject.startswith("A new login")
    assert "Address: unknown" in outbox[-1].text  # the test client's address is no IP address
    two_steps(device_token)
    assert len(outbox) == before + 1  # a known device: the password step said so, the second step remembers


def test_a_notice_names_the_addresss_network_only() -> None:
    assert approximate_address("198.51.100.23") == "198.51.100.0/24"
    assert approximate_address("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert approximate_address("::ffff:198.51.100.23") == "198.51.100.0/24"
    assert approximate_address("testclient") is None  # the notice says "unknown"
