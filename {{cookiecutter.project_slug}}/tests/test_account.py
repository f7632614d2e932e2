"""An account's recovery and address: a forgotten password, verification, a changed address.

Mail goes to the memory backend here (`app.state.mailer.outbox`); tests/test_mail.py sends through a
real SMTP server, tests/e2e/test_recovery.py follows the links in a browser.
"""

import logging
import re
import threading
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlmodel import Session, select

from {{ cookiecutter.package_name }}.account.service import RESET, VERIFY, send_reset_link
from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.logs import RedactLinkTokens
from {{ cookiecutter.package_name }}.mail import Message
from {{ cookiecutter.package_name }}.users.models import LoginThrottle, User
from {{ cookiecutter.package_name }}.users.passwords import hasher_for
from {{ cookiecutter.package_name }}.users.throttle import address_group

from .conftest import PASSWORD, Clock, all_at_once, bearer, login, serve

NEW_PASSWORD = "a brand new passphrase"
ALICE = "alice@example.com"


def outbox(client: TestClient) -> list[Message]:
    sent: list[Message] = client.app.state.mailer.outbox  # type: ignore[attr-defined]
    return sent


def token_in(message: Message) -> str:
    link = re.search(r"https?://\S+", message.text)
    assert link, message.text
    return parse_qs(urlsplit(link[0]).query)["token"][0]


def reset_token(client: TestClient, email: str = ALICE) -> str:
    assert client.post("/password/forgot", json={"email": email}).status_code == 202
    return token_in(outbox(client)[-1])


def settings_of(client: TestClient) -> Settings:
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    return settings


# -- a forgotten password -----------------------------------------------------------------------------


def test_the_answer_is_the_same_whether_or_not_an_account_has_the_address(client: TestClient, user: dict[str, str]) -> None:
    known = client.post("/password/forgot", json={"email": ALICE})
    unknown = client.post("/password/forgot", json={"email": "nobody@example.com"})
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    assert known.status_code == 202
    assert [message.to for message in outbox(client)] == [ALICE]


def test_the_answer_comes_before_the_look_up_and_the_mail(settings: Settings) -> None:
    # A mail server that takes its time: the answer must not wait for it (nor for the look-up before it).
    with serve(settings) as server:
        released, started = threading.Event(), threading.Event()
        app_mailer = server.app.state.mailer

        def slow_send(message: Message) -> None:
            started.set()
            released.wait(60)

        app_mailer.send = slow_send
        try:
            answer = httpx2.post(f"{server.url}/password/forgot", json={"email": ALICE}, timeout=30)
            assert answer.status_code == 202
            assert started.wait(60), "the mail was never sent"
        finally:
            released.set()


def test_the_link_comes_from_public_url_never_from_the_host_header(make_client: Callable[..., TestClient], user: dict[str, str]) -> None:
    client = make_client(trusted_hosts=["*"], public_url="https://accounts.example.com")
    response = client.post("/password/forgot", json={"email": ALICE}, headers={"Host": "evil.example"})
    assert response.status_code == 202
    (mail,) = outbox(client)
    assert "evil.example" not in mail.text + mail.html
    assert re.search(r"https://accounts\.example\.com/password/reset\?token=v4\.local\.", mail.text), mail.text


def test_an_account_gets_at_most_one_reset_mail_per_interval(client: TestClient, user: dict[str, str]) -> None:
    statuses = [client.post("/password/forgot", json={"email": ALICE}).status_code for _ in range(3)]
    assert statuses == [202, 202, 202]  # the same answer: it must not tell that the account exists
    assert len(outbox(client)) == 1


def test_one_address_asking_for_many_mails_is_limited(make_client: Callable[..., TestClient]) -> None:
    client = make_client(mail_request_free_attempts=3)
    statuses = [client.post("/password/forgot", json={"email": f"x{n}@example.com"}).status_code for n in range(4)]
    assert statuses == [202, 202, 202, 429]


def test_a_reset_sets_the_password_ends_every_session_and_lifts_the_guessing_limits(
    make_client: Callable[..., TestClient], user: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(login_free_failures=2)
    session_tokens = login(client)
    for _ in range(3):  # the owner forgot: now locked out from here
        client.post("/login", json={"username": "alice", "password": "forgotten"})
    caplog.set_level(logging.INFO)
    token = reset_token(client)
    assert client.post("/password/reset", json={"token": token, "new_password": NEW_PASSWORD}).status_code == 204

    assert client.post("/refresh", headers=bearer(session_tokens["refresh_token"])).json()["code"] == "token_revoked"
    assert client.post("/login", json={"username": "alice", "password": NEW_PASSWORD}).status_code == 200
    assert client.post("/login", json={"username": "alice", "password": PASSWORD}).status_code == 401
    notice = outbox(client)[-1]
    assert (notice.to, notice.subject) == (
        ALICE,
        "Your PASETO App password was changed".replace("PASETO App", settings_of(client).app_name),
    )
    events = [record.getMessage() for record in caplog.records if record.name.endswith(".security")]
    assert any(line.startswith("event=password_reset ") and "sessions_ended=1" in line for line in events), events
    assert not [record for record in caplog.records if token in record.getMessage()], "the token reached a log"


def test_a_reset_link_works_once(client: TestClient, user: dict[str, str]) -> None:
    token = reset_token(client)
    assert client.post("/password/reset", json={"token": token, "new_password": NEW_PASSWORD}).status_code == 204
    again = client.post("/password/reset", json={"token": token, "new_password": "yet another passphrase"})
    assert (again.status_code, again.json()["code"]) == (400, "link_used")


def test_a_reset_form_refused_for_busy_hashing_keeps_the_link(make_client: Callable[..., TestClient], user: dict[str, str]) -> None:
    client = make_client(password_hash_per_address=1)
    token = reset_token(client)
    with hasher_for(settings_of(client)).gate.slot(address_group("testclient")):  # this address hashes already
        busy = client.post("/password/reset/form", data={"token": token, "new_password": NEW_PASSWORD})
    assert busy.status_code == 429 and "Too many attempts" in busy.text and f'value="{token}"' in busy.text
    done = client.post("/password/reset/form", data={"token": token, "new_password": NEW_PASSWORD}, follow_redirects=False)
    assert (done.status_code, done.headers["location"]) == (303, "/login?reason=password_reset")


def test_a_reset_link_dies_when_the_password_changes_otherwise(client: TestClient, tokens: dict[str, str]) -> None:
    token = reset_token(client)
    change = {"current_password": PASSWORD, "new_password": "changed while logged in"}
    assert client.post("/users/me/password", json=change, headers=bearer(tokens["access_token"])).status_code == 204
    refused = client.post("/password/reset", json={"token": token, "new_password": NEW_PASSWORD})
    assert refused.json()["code"] == "link_used"


def test_the_work_after_the_answer_is_the_same_for_a_known_and_an_unknown_address(client: TestClient, user: dict[str, str]) -> None:
    # What a following request waits behind (this one's database work) must not tell the addresses apart.
    engine, statements = client.app.state.engine, []  # type: ignore[attr-defined]
    this_thread = threading.get_ident()

    def record(_connection: object, _cursor: object, statement: str, *_: object) -> None:
        if threading.get_ident() == this_thread:  # not the app's background reads on the same engine
            statements.append(statement)

    def work_for(address: str) -> list[str]:
        statements.clear()
        event.listen(engine, "before_cursor_execute", record)
        try:
            send_reset_link(engine, settings_of(client), client.app.state.mailer, address, "testclient")  # type: ignore[attr-defined]
        finally:
            event.remove(engine, "before_cursor_execute", record)
        return list(statements)

    first = work_for(ALICE)
    assert first == work_for("nobody@example.com")
    assert work_for(ALICE) == first  # asked again within the interval: no mail, and still the same work
    assert [message.to for message in outbox(client)] == [ALICE]  # only a known address gets the mail, once


def test_a_reset_link_dies_when_the_address_changes(client: TestClient, tokens: dict[str, str]) -> None:
    token = reset_token(client)  # mailed to the old address
    client.post("/users/me/email", json={"email": "alice@new.example"}, headers=bearer(tokens["access_token"]))
    assert client.post("/email/verify", json={"token": token_in(outbox(client)[-2])}).status_code == 204
    refused = client.post("/password/reset", json={"token": token, "new_password": NEW_PASSWORD})
    assert (refused.status_code, refused.json()["code"]) == (400, "link_used")


def test_two_uses_of_one_link_at_once_let_one_through(client: TestClient, user: dict[str, str]) -> None:
    token = reset_token(client)
    reset = {"token": token, "new_password": NEW_PASSWORD}
    statuses = sorted(all_at_once([lambda: client.post("/password/reset", json=reset).status_code] * 4))
    assert statuses == [204, 400, 400, 400]


def forged(client: TestClient, kind: str) -> str:
    """Tokens a reset must refuse: expired, tampered, of another purpose, another key, or a session token."""
    settings = settings_of(client)
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        alice = session.exec(select(User).where(User.username == "alice")).one()
    tokens = settings.purpose_tokens()
    claims = {"sub": str(alice.id), "pwd": "x"}
    if kind == "expired":
        return tokens.issue(RESET, claims, timedelta(seconds=-1))
    if kind == "tampered":
        token = reset_token(client)
        return token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    if kind == "verification":
        return tokens.issue(VERIFY, {"sub": str(alice.id), "email": ALICE, "from": ALICE}, timedelta(minutes=5))
    if kind == "access":
        return login(client)["access_token"]
    return "v4.local.not-a-token"


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("expired", "link_expired"),
        ("tampered", "link_invalid"),
        ("verification", "link_invalid"),
        ("access", "link_invalid"),
        ("garbage", "link_invalid"),
    ],
)
def test_a_reset_refuses_every_token_that_is_not_a_live_reset_token(client: TestClient, user: dict[str, str], kind: str, code: str) -> None:
    response = client.post("/password/reset", json={"token": forged(client, kind), "new_password": NEW_PASSWORD})
    assert (response.status_code, response.json()["code"]) == (400, code)
    assert client.post("/login", json={"username": "alice", "password": PASSWORD}).status_code == 200  # unchanged


def test_a_reset_token_is_no_access_token(client: TestClient, user: dict[str, str]) -> None:
    token = reset_token(client)
    assert client.get("/protected", headers=bearer(token)).status_code == 401


def test_mail_off_answers_503(make_client: Callable[..., TestClient], user: dict[str, str]) -> None:
    client = make_client(mail_backend="none")
    response = client.post("/password/forgot", json={"email": ALICE})
    assert (response.status_code, response.json()["code"]) == (503, "mail_unavailable")


def test_the_access_log_never_shows_a_link_token() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        "",
        0,
        '%s - "%s %s HTTP/%s" %d',
        ("1.2.3.4:5", "GET", "/password/reset?token=v4.local.SECRET&x=1", "1.1", 200),
        None,
    )
    RedactLinkTokens().filter(record)
    assert "SECRET" not in record.getMessage() and "token=[redacted]&x=1" in record.getMessage()


# -- a verified address ---------------------------------------------------------------------------------


def register(client: TestClient, email: str = "bob@example.com") -> dict[str, str]:
    assert client.post("/register", json={"username": "bob", "password": PASSWORD, "email": email}).status_code == 201
    return login(client, "bob")


def test_registration_mails_a_link_that_verifies_the_address(client: TestClient) -> None:
    tokens = register(client)
    me = client.get("/users/me", headers=bearer(tokens["access_token"])).json()
    assert me["email_verified"] is False
    assert client.get("/verified-only", headers=bearer(tokens["access_token"])).json()["code"] == "email_unverified"
    token = token_in(outbox(client)[-1])
    assert client.post("/email/verify", json={"token": token}).status_code == 204
    assert client.get("/users/me", headers=bearer(tokens["access_token"])).json()["email_verified"] is True
    assert client.get("/verified-only", headers=bearer(tokens["access_token"])).status_code == 200
    again = client.post("/email/verify", json={"token": token})
    assert (again.status_code, again.json()["code"]) == (400, "link_used")


def test_logins_may_require_a_verified_address(make_client: Callable[..., TestClient]) -> None:
    client = make_client(require_verified_email=True)
    assert client.post("/register", json={"username": "bob", "password": PASSWORD, "email": "bob@example.com"}).status_code == 201
    refused = client.post("/login", json={"username": "bob", "password": PASSWORD})
    assert (refused.status_code, refused.json()["code"]) == (403, "email_unverified")
    assert client.post("/login", json={"username": "bob", "password": "wrong password"}).json()["code"] == "invalid_credentials"
    page = client.post("/login/form", data={"username": "bob", "password": PASSWORD})  # the page says so too
    assert page.status_code == 403 and "Verify your e-mail address first" in page.text and 'value="bob"' in page.text
    assert client.post("/email/verify", json={"token": token_in(outbox(client)[-1])}).status_code == 204
    assert client.post("/login", json={"username": "bob", "password": PASSWORD}).status_code == 200


def test_a_new_verification_link_at_most_once_per_interval(client: TestClient) -> None:
    tokens = register(client)
    first = client.post("/email/verify/resend", headers=bearer(tokens["access_token"]))
    second = client.post("/email/verify/resend", headers=bearer(tokens["access_token"]))
    assert (first.status_code, second.status_code) == (202, 429)
    assert int(second.headers["Retry-After"]) > 1


def test_a_changed_address_takes_effect_once_verified_and_the_old_one_is_told(client: TestClient) -> None:
    tokens = register(client)
    old_link = token_in(outbox(client)[-1])  # never used
    changed = client.post("/users/me/email", json={"email": "Bob@New.Example"}, headers=bearer(tokens["access_token"]))
    assert changed.status_code == 202, changed.text
    verification, notice = outbox(client)[-2:]
    assert (verification.to, notice.to) == ("bob@new.example", "bob@example.com")
    assert "bob@new.example" in notice.text and "token" not in notice.text
    assert client.get("/users/me", headers=bearer(tokens["access_token"])).json()["email"] == "bob@example.com"
    assert client.post("/email/verify", json={"token": token_in(verification)}).status_code == 204
    me = client.get("/users/me", headers=bearer(tokens["access_token"])).json()
    assert (me["email"], me["email_verified"]) == ("bob@new.example", True)
    assert client.post("/email/verify", json={"token": old_link}).json()["code"] == "link_used"  # bound to the old address


def test_no_sequence_of_address_changes_revives_a_used_link(client: TestClient, clock: Clock) -> None:
    tokens = register(client)  # bob@example.com
    headers = bearer(tokens["access_token"])

    def change_to(address: str) -> str:
        clock.move(seconds=settings_of(client).mail_interval_seconds + 1)  # one verification mail per interval
        assert client.post("/users/me/email", json={"email": address}, headers=headers).status_code == 202
        return token_in(outbox(client)[-2])

    first = change_to("bob2@example.com")
    assert client.post("/email/verify", json={"token": first}).status_code == 204
    assert client.post("/email/verify", json={"token": first}).json()["code"] == "link_used"
    back = change_to("bob@example.com")  # and back again: the account is as it was when `first` was mailed
    assert client.post("/email/verify", json={"token": back}).status_code == 204
    revived = client.post("/email/verify", json={"token": first})
    assert (revived.status_code, revived.json()["code"]) == (400, "link_used")
    assert client.get("/users/me", headers=headers).json()["email"] == "bob@example.com"


def test_an_address_taken_meanwhile_is_refused_at_verification(client: TestClient, user: dict[str, str]) -> None:
    tokens = register(client)
    client.post("/users/me/email", json={"email": "carol@example.com"}, headers=bearer(tokens["access_token"]))
    verification = outbox(client)[-2]
    assert client.post("/register", json={"username": "carol", "password": PASSWORD, "email": "carol@example.com"}).status_code == 201
    taken = client.post("/email/verify", json={"token": token_in(verification)})
    assert (taken.status_code, taken.json()["code"]) == (409, "email_taken")


def test_changing_the_address_needs_a_fresh_token(client: TestClient) -> None:
    tokens = register(client)
    refreshed = client.post("/refresh", headers=bearer(tokens["refresh_token"])).json()
    refused = client.post("/users/me/email", json={"email": "x@example.com"}, headers=bearer(refreshed["access_token"]))
    assert refused.json()["code"] == "fresh_token_required"


def test_guessing_limits_are_lifted_only_for_the_account_reset(make_client: Callable[..., TestClient], user: dict[str, str]) -> None:
    client = make_client()
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        for key in ("account:alice", "pair:alice|testclient", "account:alicex", "pair:alice_|x", "address:testclient"):
            session.add(LoginThrottle(key=key, failures=9))
        session.commit()
    token = reset_token(client)
    assert client.post("/password/reset", json={"token": token, "new_password": NEW_PASSWORD}).status_code == 204
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        left = set(session.exec(select(LoginThrottle.key)))
    assert {"account:alicex", "pair:alice_|x", "address:testclient"} <= left
    assert not {"account:alice", "pair:alice|testclient"} & left
