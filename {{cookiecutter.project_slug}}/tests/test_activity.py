"""Security activity (activity/): every kind of event stored in the transaction of its change, floods merged
into one row, old rows purged, the owner's and the administrators' lists, the dashboard's section."""

import logging
import threading
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, col, select

from {{ cookiecutter.package_name }}.activity import service as activity
from {{ cookiecutter.package_name }}.activity.events import LABELS, EventType
from {{ cookiecutter.package_name }}.activity.models import SecurityEvent
from {{ cookiecutter.package_name }}.housekeeping import purge
from {{ cookiecutter.package_name }}.mail import Message
from {{ cookiecutter.package_name }}.users import service as users_service
from {{ cookiecutter.package_name }}.users.models import User

from .conftest import PASSWORD, Clock, bearer, login
from .test_mfa import code_now, enrol, first_step, second_step

SECURITY_LOGGER = "{{ cookiecutter.package_name }}.security"
NO_GUESSING_LIMITS = {"login_free_failures": 10_000, "login_address_free_failures": 10_000, "login_account_free_failures": 10_000}


def stored(client: TestClient, username: str | None = None) -> list[SecurityEvent]:
    """The events in the database, oldest first (of one account, or all)."""
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        query = select(SecurityEvent).join(User, col(User.id) == col(SecurityEvent.user_id)).order_by(col(SecurityEvent.id))
        if username is not None:
            query = query.where(col(User.username) == username)
        return list(session.exec(query))


def kinds(client: TestClient, username: str = "alice") -> list[str]:
    return [event.type for event in stored(client, username)]


def rows(client: TestClient) -> int:
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        return session.exec(select(func.count()).select_from(SecurityEvent)).one()


def outbox(client: TestClient) -> list[Message]:
    sent: list[Message] = client.app.state.mailer.outbox  # type: ignore[attr-defined]
    return sent


def make_admin(client: TestClient, name: str = "root") -> dict[str, str]:
    settings = client.app.state.settings  # type: ignore[attr-defined]
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        root = users_service.create_user(session, settings, name, PASSWORD)
        users_service.set_admin(session, root, True)
    return login(client, name)


# -- each kind, in the transaction of its change --------------------------------------------------------------


def test_the_refresh_token_pattern_is_stored_event_by_event(make_client: Callable[..., TestClient], user: dict[str, str]) -> None:
    client = make_client(max_sessions_per_account=3)
    agent = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"}
    assert client.post("/login", json={"username": "alice", "password": "wrong"}).status_code == 401
    first = client.post("/login", json={"username": "alice", "password": PASSWORD}, headers=agent).json()
    client.post("/refresh", headers=bearer(first["refresh_token"]))
    assert client.post("/refresh", headers=bearer(first["refresh_token"])).json()["code"] == "token_reused"
    second, third = login(client), login(client)
    assert client.post("/fresh-login", json={"password": PASSWORD}, headers=bearer(second["access_token"])).status_code == 200
    third_id = client.get("/session", headers=bearer(third["access_token"])).json()["family"]
    assert client.delete(f"/sessions/{third_id}", headers=bearer(second["access_token"])).status_code == 204
    fourth = login(client)
    assert client.post("/revoke", data={"token": fourth["refresh_token"]}).status_code == 200
    for _ in range(4):  # past the limit of 3 live sessions: the one used longest ago ends
        last = login(client)
    change = {"current_password": PASSWORD, "new_password": "a brand new passphrase"}
    assert client.post("/users/me/password", json=change, headers=bearer(last["access_token"])).status_code == 204
    assert client.post("/logout", headers=bearer(last["access_token"])).status_code == 204
    again = login(client, password="a brand new passphrase")
    assert client.post("/logout/all", headers=bearer(again["access_token"])).status_code == 204
    assert kinds(client) == [
        "user_registered",
        "login_failed",
        "login",
        "refresh_token_reused",
        "login",
        "login",
        "fresh_login",
        "session_ended",
        "login",
        "token_revoked",
        "login",
        "login",
        "login",
        "sessions_over_limit_ended",
        "login",
        "sessions_over_limit_ended",
        "password_changed",
        "logout",
        "login",
        "logout_all",
    ]
    events = stored(client, "alice")
    assert events[0].actor == "system"  # made by the test's fixture, as by the CLI: no client
    failed, logged_in, reused = events[1:4]
    assert (failed.actor, failed.count, failed.client_address) == ("anonymous", 1, "testclient")
    assert (logged_in.actor, logged_in.user_agent) == ("self", agent["User-Agent"])
    assert (reused.actor, events[13].actor, events[13].detail) == ("anonymous", "system", "sessions_ended=1")
    # The counts, never a session's id.
    assert (events[16].detail, events[19].detail) == ("sessions_ended=2", "sessions_ended=1")


def test_second_factor_events_are_stored(client: TestClient, tokens: dict[str, str], clock: Clock) -> None:
    from {{ cookiecutter.package_name }}.mfa import totp as totp_module

    clock.freeze_monotonic_in(totp_module)
    secret, codes = enrol(client, tokens, clock)
    assert second_step(client, first_step(client)["mfa_token"], code="000000")["code"] == "invalid_code"
    assert "access_token" in second_step(client, first_step(client)["mfa_token"], recovery_code=codes[0])
    proved = second_step(client, first_step(client)["mfa_token"], code=code_now(secret, clock))
    headers = bearer(str(proved["access_token"]))
    assert client.post("/mfa/recovery-codes", headers=headers).status_code == 200
    assert client.delete("/mfa/totp", headers=headers).status_code == 204
    assert kinds(client)[2:] == [
        "mfa_added",
        "mfa_requested",
        "mfa_failed",
        "mfa_requested",
        "recovery_code_used",
        "login",
        "mfa_requested",
        "login",
        "recovery_codes_replaced",
        "mfa_removed",
    ]
    by_kind = {event.type: event for event in stored(client, "alice")}
    assert by_kind["mfa_added"].detail == "method=totp" and by_kind["recovery_code_used"].detail == "left=9"
    assert by_kind["mfa_failed"].actor == "anonymous"


def test_account_events_are_stored(client: TestClient) -> None:
    answer = client.post("/register", json={"username": "bob", "password": PASSWORD, "email": "bob@example.com"})
    assert answer.status_code == 201, answer.text
    link = urlsplit(next(word for word in outbox(client)[-1].text.split() if "token=" in word))
    assert client.post("/email/verify", json={"token": link.query.removeprefix("token=")}).status_code == 204
    assert client.post("/password/forgot", json={"email": "bob@example.com"}).status_code == 202
    reset = urlsplit(next(word for word in outbox(client)[-1].text.split() if "token=" in word))
    new_password = {"token": reset.query.removeprefix("token="), "new_password": "bob's new passphrase"}
    assert client.post("/password/reset", json=new_password).status_code == 204
    assert kinds(client, "bob") == ["user_registered", "email_verified", "password_reset"]
    registered, verified, was_reset = stored(client, "bob")
    assert (registered.actor, registered.client_address) == ("self", "testclient")
    assert verified.detail == "changed=False" and was_reset.detail == "sessions_ended=0"


def test_administrators_actions_name_them(client: TestClient, user: dict[str, str]) -> None:
    root = bearer(make_admin(client)["access_token"])
    login(client)
    for path in ("/admin/users/alice/deactivate", "/admin/users/alice/activate", "/admin/users/alice/mfa/reset"):
        assert client.post(path, headers=root).status_code in (200, 204), path
    assert client.delete("/admin/users/alice/sessions", headers=root).status_code == 204
    events = stored(client, "alice")[2:]
    assert [(event.type, event.actor) for event in events] == [
        ("admin_deactivated_account", "admin:root"),
        ("admin_activated_account", "admin:root"),
        ("admin_reset_mfa", "admin:root"),
        ("admin_ended_sessions", "admin:root"),
    ]
    assert events[0].detail == "sessions_ended=1"


def test_an_event_of_a_change_that_rolls_back_is_neither_stored_nor_logged(
    client: TestClient, user: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=SECURITY_LOGGER)
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        activity.record(session, EventType.PASSWORD_CHANGED, "alice", "192.0.2.1")
        session.rollback()
        activity.record(session, EventType.LOGOUT, "alice", "192.0.2.1")
        session.commit()
    assert kinds(client)[-1] == "logout" and "password_changed" not in kinds(client)
    assert [record.fields["event"] for record in caplog.records if record.name == SECURITY_LOGGER] == ["logout"]  # type: ignore[attr-defined]


def test_an_address_taken_meanwhile_stores_no_verification(
    client: TestClient, user: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    fresh = login(client)
    assert client.post("/users/me/email", json={"email": "new@example.com"}, headers=bearer(fresh["access_token"])).status_code == 202
    link = urlsplit(next(word for word in outbox(client)[0].text.split() if "token=" in word))
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        bob = users_service.create_user(session, client.app.state.settings, "bob", PASSWORD)  # type: ignore[attr-defined]
        users_service.change_account(session, bob, email="new@example.com")
    caplog.set_level(logging.INFO, logger=SECURITY_LOGGER)
    taken = client.post("/email/verify", json={"token": link.query.removeprefix("token=")})
    assert (taken.status_code, taken.json()["code"]) == (409, "email_taken")
    assert "email_verified" not in kinds(client)
    assert "event=email_verified" not in caplog.text


def test_a_name_no_account_has_stores_nothing(client: TestClient, user: dict[str, str], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=SECURITY_LOGGER)
    before = rows(client)
    assert client.post("/login", json={"username": "nobody", "password": "wrong"}).status_code == 401
    assert rows(client) == before
    assert "event=login_failed user=nobody" in caplog.text  # the log line still tells


# -- floods ----------------------------------------------------------------------------------------------------


def test_a_thousand_refused_logins_are_one_row_with_a_count(
    make_client: Callable[..., TestClient], user: dict[str, str], clock: Clock
) -> None:
    # The clock stands still: on a slow machine the flood could otherwise cross the hour that merges it.
    client = make_client(**NO_GUESSING_LIMITS)
    before = rows(client)
    for _ in range(1000):
        assert client.post("/login", json={"username": "alice", "password": "a wrong guess"}).status_code == 401
    assert rows(client) == before + 1
    (flood,) = [event for event in stored(client, "alice") if event.type == "login_failed"]
    assert flood.count == 1000 and flood.last_at >= flood.first_at
    elsewhere = TestClient(client.app, client=("192.0.2.1", 1000))
    assert elsewhere.post("/login", json={"username": "alice", "password": "wrong"}).status_code == 401
    assert rows(client) == before + 2  # another address: a row of its own


def test_concurrent_refusals_add_up_exactly(client: TestClient, user: dict[str, str], clock: Clock) -> None:
    engine = client.app.state.engine  # type: ignore[attr-defined]
    start = threading.Barrier(8)

    def refuse_many() -> None:
        start.wait()
        with Session(engine) as session:
            for _ in range(125):
                activity.record(session, EventType.LOGIN_FAILED, "alice", "2001:db8::7", actor=activity.ANONYMOUS)
                session.commit()

    threads = [threading.Thread(target=refuse_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    (merged,) = [event for event in stored(client, "alice") if event.type == "login_failed"]
    assert merged.count == 1000


def test_refusals_merge_per_address_group_and_hour(client: TestClient, user: dict[str, str], clock: Clock) -> None:
    for address in ("2001:db8::1", "2001:db8::2", "2001:db8:0:1::1"):  # the first two are one /64
        with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
            activity.record(session, EventType.LOGIN_FAILED, "alice", address)
            session.commit()
    clock.move(seconds=3600)
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        activity.record(session, EventType.LOGIN_FAILED, "alice", "2001:db8::1")
        activity.record(session, EventType.LOGOUT, "alice", "2001:db8::1")
        activity.record(session, EventType.LOGOUT, "alice", "2001:db8::1")  # not a refusal: never merged
        session.commit()
    refusals = [(event.count, event.client_address) for event in stored(client, "alice") if event.type == "login_failed"]
    assert refusals == [(2, "2001:db8::2"), (1, "2001:db8:0:1::1"), (1, "2001:db8::1")]
    assert kinds(client).count("logout") == 2


# -- purge --------------------------------------------------------------------------------------------------


def test_events_older_than_the_retention_are_purged(make_client: Callable[..., TestClient], user: dict[str, str], clock: Clock) -> None:
    client = make_client(security_event_days=90)
    login(client)
    clock.move(seconds=89 * 86400)
    login(client)
    clock.move(seconds=2 * 86400)  # the first login is 91 days old, the second 2
    purged = purge(client.app.state.engine, client.app.state.settings)  # type: ignore[attr-defined]
    assert purged.security_events == 2  # the registration's and the first login's
    assert kinds(client) == ["login"]


# -- reading ----------------------------------------------------------------------------------------------------


def test_the_owner_reads_their_activity_newest_first_a_page_at_a_time(client: TestClient, user: dict[str, str], clock: Clock) -> None:
    for _ in range(4):
        tokens = login(client)
        clock.move(seconds=60)
    headers = bearer(tokens["access_token"])
    page = client.get("/users/me/activity", params={"limit": 2}, headers=headers).json()
    assert (page["total"], page["offset"], page["limit"], len(page["items"])) == (5, 0, 2, 2)
    newest = page["items"][0]
    assert (newest["type"], newest["user"], newest["actor"], newest["description"]) == ("login", "alice", "self", LABELS[EventType.LOGIN])
    assert newest["last_at"] > page["items"][1]["last_at"]
    last = client.get("/users/me/activity", params={"offset": 4, "limit": 2}, headers=headers).json()
    assert [item["type"] for item in last["items"]] == ["user_registered"]
    assert client.get("/users/me/activity").json()["code"] == "missing_token"
    assert client.get("/users/me/activity", params={"limit": 101}, headers=headers).status_code == 422
    make_admin(client, "carol")  # another account's events are not the owner's
    assert client.get("/users/me/activity", headers=headers).json()["total"] == 5


def test_administrators_read_any_accounts_activity_and_filter_by_kind(client: TestClient, user: dict[str, str]) -> None:
    root = bearer(make_admin(client)["access_token"])
    client.post("/login", json={"username": "alice", "password": "wrong"})
    alice = login(client)
    page = client.get("/admin/users/ALICE/activity", headers=root).json()  # names in any case, as everywhere
    assert [item["type"] for item in page["items"]] == ["login", "login_failed", "user_registered"]
    failed = client.get("/admin/activity", params={"type": "login_failed"}, headers=root).json()
    assert [(item["user"], item["type"]) for item in failed["items"]] == [("alice", "login_failed")] and failed["total"] == 1
    everyone = client.get("/admin/activity", headers=root).json()
    assert {item["user"] for item in everyone["items"]} == {"alice", "root"} and everyone["total"] == 5
    unknown = client.get("/admin/activity", params={"type": "nonsense"}, headers=root)
    assert (unknown.status_code, unknown.json()["code"]) == (422, "validation_error")
    missing = client.get("/admin/users/nobody/activity", headers=root)
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    for path in ("/admin/activity", "/admin/users/alice/activity"):
        refused = client.get(path, headers=bearer(alice["access_token"]))
        assert (refused.status_code, refused.json()["code"]) == (403, "admin_required"), path


def test_the_dashboard_shows_recent_activity(client: TestClient, user: dict[str, str]) -> None:
    client.post("/login", json={"username": "alice", "password": "wrong"})
    client.post("/login", json={"username": "alice", "password": "wrong"})
    response = client.post("/login/form", data={"username": "alice", "password": PASSWORD}, follow_redirects=False)
    assert response.status_code == 303, response.text
    page = client.get("/").text
    assert 'id="activity-heading">Recent activity' in page
    section = page[page.index('id="recent-activity"') : page.index("</ol>", page.index('id="recent-activity"'))]
    assert section.index(LABELS[EventType.LOGIN]) < section.index(LABELS[EventType.LOGIN_FAILED])  # newest first
    assert "2 times" in section and "from testclient" in section
