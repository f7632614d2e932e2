"""The admin API: only administrators (read from the database on every request), fresh tokens for changes,
and a security event naming the administrator for each."""

import logging
import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from {{ cookiecutter.package_name }}.mfa import totp as totp_module
from {{ cookiecutter.package_name }}.users import service as users_service

from .conftest import PASSWORD, Clock, bearer, login
from .test_mfa import code_now, enrol, first_step, second_step


@pytest.fixture
def admin(client: TestClient, user: dict[str, str]) -> dict[str, str]:
    """Tokens of `root`, an administrator; `alice` is an ordinary user."""
    settings = client.app.state.settings  # type: ignore[attr-defined]
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        root = users_service.create_user(session, settings, "root", PASSWORD)
        users_service.set_admin(session, root, True)
        for n in range(5):
            users_service.create_user(session, settings, f"member{n}", PASSWORD)
    return login(client, "root")


def set_admin(client: TestClient, name: str, admin: bool) -> None:
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        account = users_service.get_by_username(session, name)
        assert account is not None
        users_service.set_admin(session, account, admin)


def test_only_an_administrator_may_use_the_admin_api(client: TestClient, admin: dict[str, str]) -> None:
    alice = login(client)
    refused = client.get("/admin/users", headers=bearer(alice["access_token"]))
    assert (refused.status_code, refused.json()["code"]) == (403, "admin_required")
    assert client.get("/admin/users").json()["code"] == "missing_token"
    assert client.get("/admin/users", headers=bearer(admin["access_token"])).status_code == 200


def test_accounts_are_listed_a_page_at_a_time_and_found_by_name(client: TestClient, admin: dict[str, str]) -> None:
    page = client.get("/admin/users", params={"limit": 3, "offset": 1}, headers=bearer(admin["access_token"])).json()
    assert (page["total"], page["offset"], page["limit"]) == (7, 1, 3)
    assert [item["username"] for item in page["items"]] == ["member0", "member1", "member2"]
    found = client.get("/admin/users", params={"name": "MEMBER3"}, headers=bearer(admin["access_token"])).json()
    assert [item["username"] for item in found["items"]] == ["member3"]
    assert "hashed_password" not in found["items"][0]


def test_a_demotion_takes_effect_within_the_feeds_bound(client: TestClient, admin: dict[str, str]) -> None:
    assert client.get("/admin/users", headers=bearer(admin["access_token"])).status_code == 200
    set_admin(client, "root", False)  # as `set-admin --remove` does, from another process; the token is unchanged
    demoted = time.monotonic()
    while client.get("/admin/users", headers=bearer(admin["access_token"])).status_code == 200:
        # The role is the database's: the instance hears of the change at its next read of changes (0.2 s here).
        assert time.monotonic() - demoted < 10, "the demotion never reached the instance"
        time.sleep(0.02)
    assert client.get("/admin/users", headers=bearer(admin["access_token"])).json()["code"] == "admin_required"


def test_deactivating_an_account_ends_its_sessions_and_names_the_administrator(
    client: TestClient, admin: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    alice = login(client)
    caplog.set_level(logging.INFO, logger="{{ cookiecutter.package_name }}.security")
    response = client.post("/admin/users/alice/deactivate", headers=bearer(admin["access_token"]))
    assert (response.status_code, response.json()["is_active"]) == (200, False)
    assert client.get("/protected", headers=bearer(alice["access_token"])).json()["code"] == "token_revoked"
    assert client.post("/login", json={"username": "alice", "password": PASSWORD}).status_code == 401
    events = [record.fields for record in caplog.records if record.fields["event"].startswith("admin_")]  # type: ignore[attr-defined]
    assert [(event["event"], event["admin"], event["user"]) for event in events] == [("admin_deactivated_account", "root", "alice")]
    assert client.post("/admin/users/alice/activate", headers=bearer(admin["access_token"])).json()["is_active"] is True
    assert client.post("/login", json={"username": "alice", "password": PASSWORD}).status_code == 200


def test_an_administrator_ends_every_session_of_an_account(client: TestClient, admin: dict[str, str]) -> None:
    laptop, phone = login(client), login(client)
    assert client.delete("/admin/users/alice/sessions", headers=bearer(admin["access_token"])).status_code == 204
    for tokens in (laptop, phone):
        assert client.post("/refresh", headers=bearer(tokens["refresh_token"])).json()["code"] == "token_revoked"
    assert client.post("/login", json={"username": "alice", "password": PASSWORD}).status_code == 200  # the account stays


def test_an_administrator_resets_the_second_factors_of_an_account_and_ends_its_sessions(
    client: TestClient, admin: dict[str, str], tokens: dict[str, str], clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    clock.freeze_monotonic_in(totp_module)  # TOTP codes on the test's clock (tests/test_mfa.py)
    secret, _ = enrol(client, tokens, clock)
    phone = second_step(client, first_step(client)["mfa_token"], code=code_now(secret, clock))
    caplog.set_level(logging.INFO, logger="{{ cookiecutter.package_name }}.security")
    reset = client.post("/admin/users/alice/mfa/reset", headers=bearer(admin["access_token"]))
    assert reset.status_code == 204, reset.text
    assert client.post("/refresh", headers=bearer(str(phone["refresh_token"]))).json()["code"] == "token_revoked"
    alice = login(client)  # the password alone logs in again
    assert client.get("/mfa", headers=bearer(alice["access_token"])).json() == {"methods": [], "recovery_codes_left": 0}
    security = [record.fields for record in caplog.records if record.name.endswith(".security")]  # type: ignore[attr-defined]
    events = [event for event in security if event["event"].startswith("admin_")]
    assert [(event["event"], event["admin"], event["user"], event["sessions_ended"]) for event in events] == [
        ("admin_reset_mfa", "root", "alice", 2)  # the login before the set-up and the one with the code
    ]
    notice = client.app.state.mailer.outbox[-1]  # type: ignore[attr-defined]
    assert notice.to == "alice@example.com" and "An administrator" in notice.text and "removed" in notice.subject


def test_resetting_the_second_factors_needs_a_fresh_token_and_a_known_account(client: TestClient, admin: dict[str, str]) -> None:
    refreshed = client.post("/refresh", headers=bearer(admin["refresh_token"])).json()
    stale = client.post("/admin/users/alice/mfa/reset", headers=bearer(refreshed["access_token"]))
    assert stale.json()["code"] == "fresh_token_required"
    unknown = client.post("/admin/users/nobody/mfa/reset", headers=bearer(admin["access_token"]))
    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")


def test_changes_need_a_fresh_token(client: TestClient, admin: dict[str, str]) -> None:
    refreshed = client.post("/refresh", headers=bearer(admin["refresh_token"])).json()
    refused = client.post("/admin/users/alice/deactivate", headers=bearer(refreshed["access_token"]))
    assert refused.json()["code"] == "fresh_token_required"
    assert client.get("/admin/users", headers=bearer(refreshed["access_token"])).status_code == 200  # reading does not


def test_an_administrator_cannot_deactivate_their_own_account(client: TestClient, admin: dict[str, str]) -> None:
    refused = client.post("/admin/users/root/deactivate", headers=bearer(admin["access_token"]))
    assert (refused.status_code, refused.json()["code"]) == (409, "own_account")
    assert client.get("/admin/users", headers=bearer(admin["access_token"])).status_code == 200  # still an administrator, logged in


def test_an_unknown_account_is_404(client: TestClient, admin: dict[str, str]) -> None:
    refused = client.post("/admin/users/nobody/deactivate", headers=bearer(admin["access_token"]))
    assert (refused.status_code, refused.json()["code"]) == (404, "not_found")


def test_names_with_a_nul_are_refused_with_422(client: TestClient, admin: dict[str, str]) -> None:
    # PostgreSQL cannot compare text with a NUL in it: the rule of names in bodies applies to names in URLs.
    headers = bearer(admin["access_token"])
    for answer in (client.get("/admin/users?name=a%00b", headers=headers), client.post("/admin/users/a%00b/deactivate", headers=headers)):
        assert (answer.status_code, answer.json()["code"]) == (422, "validation_error")


def test_the_openapi_page_shows_which_routes_need_an_administrator(make_client: Callable[..., TestClient]) -> None:
    document = make_client().get("/openapi.json").json()
    admin_routes = [
        (path, method) for path, methods in document["paths"].items() for method, op in methods.items() if "admin" in op["tags"][0]
    ]
    assert len(admin_routes) == 5 + 2  # admin/router.py's, and activity/router.py's two
    for path, method in admin_routes:
        assert "403" in document["paths"][path][method]["responses"], (path, method)
