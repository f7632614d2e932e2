"""Server-side sessions: refresh-token rotation, reuse detection, revocation and its reach across instances."""

import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from {{ cookiecutter.package_name }}.auth import service as auth_service
from {{ cookiecutter.package_name }}.auth.models import TokenFamily
from {{ cookiecutter.package_name }}.database import utcnow
from {{ cookiecutter.package_name }}.paseto.tokens import decode_token
from {{ cookiecutter.package_name }}.users import service as users_service
from {{ cookiecutter.package_name }}.users.passwords import hasher_for

from .conftest import PASSWORD, Clock, all_at_once, bearer, login

SYNC_SECONDS = 0.2  # how often the instances of these tests re-read the revoked sessions


def refresh(client: TestClient, refresh_token: str) -> dict[str, str]:
    response = client.post("/refresh", headers=bearer(refresh_token))
    assert response.status_code == 200, response.text
    tokens: dict[str, str] = response.json()
    return tokens


def code_of(response: object) -> str:
    return str(response.json()["code"])  # type: ignore[attr-defined]


def test_each_refresh_spends_the_presented_token(client: TestClient, tokens: dict[str, str]) -> None:
    first = refresh(client, tokens["refresh_token"])
    second = refresh(client, first["refresh_token"])
    assert client.get("/protected", headers=bearer(second["access_token"])).status_code == 200


def test_replaying_a_spent_refresh_token_revokes_the_whole_family(client: TestClient, tokens: dict[str, str]) -> None:
    stolen = tokens["refresh_token"]
    victim = refresh(client, stolen)  # the victim refreshes first; the thief kept a copy
    replay = client.post("/refresh", headers=bearer(stolen))
    assert replay.status_code == 401
    assert code_of(replay) == "token_reused"
    # The victim's newer tokens die with the family, and so does any further try by the thief.
    assert code_of(client.post("/refresh", headers=bearer(victim["refresh_token"]))) == "token_revoked"
    assert code_of(client.get("/protected", headers=bearer(victim["access_token"]))) == "token_revoked"
    assert code_of(client.post("/refresh", headers=bearer(stolen))) == "token_revoked"
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        family = session.get(TokenFamily, family_id(client, tokens))
        assert family is not None
        assert family.revoked_reason == "reuse"


def family_id(client: TestClient, tokens: dict[str, str]) -> str:
    return str(decode_token(client.app.state.authpaseto, tokens["refresh_token"])["fam"])  # type: ignore[attr-defined]


def test_other_sessions_survive_reuse_in_one(client: TestClient, user: dict[str, str]) -> None:
    phone, laptop = login(client), login(client)
    refresh(client, phone["refresh_token"])
    client.post("/refresh", headers=bearer(phone["refresh_token"]))
    assert client.get("/protected", headers=bearer(laptop["access_token"])).status_code == 200
    refresh(client, laptop["refresh_token"])


def test_the_database_keeps_only_a_hash_of_the_refresh_token(client: TestClient, tokens: dict[str, str]) -> None:
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        family = session.get(TokenFamily, family_id(client, tokens))
    assert family is not None
    assert tokens["refresh_token"] not in family.current_token_hash
    assert len(family.current_token_hash) == 64


def test_logout_revokes_the_session(client: TestClient, tokens: dict[str, str]) -> None:
    assert client.post("/logout", headers=bearer(tokens["access_token"])).status_code == 204
    assert code_of(client.get("/protected", headers=bearer(tokens["access_token"]))) == "token_revoked"
    assert code_of(client.post("/refresh", headers=bearer(tokens["refresh_token"]))) == "token_revoked"


def test_logout_everywhere_revokes_every_session_of_the_user(client: TestClient, user: dict[str, str]) -> None:
    phone, laptop = login(client), login(client)
    assert client.post("/logout/all", headers=bearer(phone["access_token"])).status_code == 204
    for tokens in (phone, laptop):
        assert code_of(client.get("/protected", headers=bearer(tokens["access_token"]))) == "token_revoked"
        assert code_of(client.post("/refresh", headers=bearer(tokens["refresh_token"]))) == "token_revoked"


def test_changing_the_password_logs_out_every_other_session(client: TestClient, user: dict[str, str]) -> None:
    current, other = login(client), login(client)
    change = {"current_password": PASSWORD, "new_password": "a brand new passphrase"}
    assert client.post("/users/me/password", headers=bearer(current["access_token"]), json=change).status_code == 204
    assert client.get("/protected", headers=bearer(current["access_token"])).status_code == 200
    refresh(client, current["refresh_token"])
    assert code_of(client.get("/protected", headers=bearer(other["access_token"]))) == "token_revoked"
    assert code_of(client.post("/login", json={"username": "alice", "password": PASSWORD})) == "invalid_credentials"
    login(client, password="a brand new passphrase")


def test_deactivating_a_user_refuses_their_tokens_at_once(client: TestClient, tokens: dict[str, str]) -> None:
    app = client.app
    with Session(app.state.engine) as session:  # type: ignore[attr-defined]
        alice = users_service.get_by_username(session, "alice")
        assert alice is not None and alice.id is not None
        users_service.set_active(session, alice, False)
        auth_service.revoke_user_sessions(session, app.state.revoked_families, alice.id, reason="deactivated")  # type: ignore[attr-defined]
    assert code_of(client.get("/users/me", headers=bearer(tokens["access_token"]))) == "token_revoked"
    assert code_of(client.get("/protected", headers=bearer(tokens["access_token"]))) == "token_revoked"
    assert code_of(client.post("/login", json={"username": "alice", "password": PASSWORD})) == "invalid_credentials"


def test_inactive_user_is_refused_even_before_sessions_are_revoked(client: TestClient, tokens: dict[str, str]) -> None:
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        alice = users_service.get_by_username(session, "alice")
        assert alice is not None
        users_service.set_active(session, alice, False)
    assert code_of(client.get("/users/me", headers=bearer(tokens["access_token"]))) == "token_revoked"


def test_logout_on_one_instance_is_honoured_by_another_within_a_second(
    make_client: Callable[..., TestClient], client: TestClient, tokens: dict[str, str]
) -> None:
    # A second instance: same database and key, its own in-memory revocation set, re-read in the background
    # every SYNC_SECONDS (1 s by default). It learns of the logout at its next read: the deadline leaves a
    # busy machine several seconds more than that.
    other = make_client(paseto_key=client.app.state.settings.paseto_key, revocation_sync_seconds=SYNC_SECONDS)  # type: ignore[attr-defined]
    assert other.get("/protected", headers=bearer(tokens["access_token"])).status_code == 200
    assert client.post("/logout", headers=bearer(tokens["access_token"])).status_code == 204
    deadline = time.monotonic() + SYNC_SECONDS + 10
    while (response := other.get("/protected", headers=bearer(tokens["access_token"]))).status_code == 200:
        assert time.monotonic() < deadline, "the second instance still accepts the token"
        time.sleep(0.02)
    assert code_of(response) == "token_revoked"


@pytest.mark.parametrize("run", range(20))
def test_concurrent_refreshes_with_one_token_let_exactly_one_through(
    make_client: Callable[..., TestClient], client: TestClient, tokens: dict[str, str], run: int
) -> None:
    # Two instances (own engines and connections) on one database, released at the same moment.
    other = make_client(paseto_key=client.app.state.settings.paseto_key)  # type: ignore[attr-defined]

    def spend(instance: TestClient) -> tuple[int, str]:
        response = instance.post("/refresh", headers=bearer(tokens["refresh_token"]))
        return response.status_code, response.json().get("code", "ok")

    assert sorted(all_at_once([lambda: spend(client), lambda: spend(other)])) == [(200, "ok"), (401, "token_reused")]
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        family = session.get(TokenFamily, family_id(client, tokens))
        assert family is not None and family.revoked_at is not None


def test_purge_deletes_only_expired_sessions(client: TestClient, user: dict[str, str], clock: Clock) -> None:
    kept, expired = login(client), login(client)
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        family = session.get(TokenFamily, family_id(client, expired))
        assert family is not None
        # Kept while access tokens of the family may still be alive, deleted after.
        family.expires_at = clock.now() - timedelta(seconds=10)
        session.add(family)
        session.commit()
        assert auth_service.purge_expired(session, timedelta(seconds=60)) == 0
        assert auth_service.purge_expired(session, timedelta(seconds=5)) == 1
        assert session.get(TokenFamily, family_id(client, kept)) is not None


def test_revoked_family_stays_refused_while_its_access_tokens_may_live(client: TestClient, tokens: dict[str, str]) -> None:
    assert client.post("/logout", headers=bearer(tokens["access_token"])).status_code == 204
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        family = session.get(TokenFamily, family_id(client, tokens))
        assert family is not None
        family.expires_at = utcnow() - timedelta(seconds=1)  # the refresh token has expired, the access token not
        session.add(family)
        session.commit()
    client.app.state.revoked_families.sync()  # type: ignore[attr-defined]
    assert code_of(client.get("/protected", headers=bearer(tokens["access_token"]))) == "token_revoked"


def test_a_logout_newer_than_the_last_database_read_is_not_forgotten(client: TestClient, tokens: dict[str, str]) -> None:
    revoked = client.app.state.revoked_families  # type: ignore[attr-defined]
    revoked.add("a-family-revoked-after-the-read")  # as if sync() had read the database just before the logout
    revoked.sync()
    assert revoked.is_revoked("a-family-revoked-after-the-read")


def test_without_a_grace_period_a_retried_refresh_ends_the_session(client: TestClient, tokens: dict[str, str]) -> None:
    refresh(client, tokens["refresh_token"])  # its answer "lost" on the way back
    retry = client.post("/refresh", headers=bearer(tokens["refresh_token"]))
    assert code_of(retry) == "token_reused"


# The grace-period tests run on the frozen clock, with a period and moves far longer than any real delay.


def test_within_the_grace_period_a_lost_refresh_may_be_retried(
    make_client: Callable[..., TestClient], user: dict[str, str], clock: Clock
) -> None:
    client = make_client(refresh_grace_seconds=60)
    spent = login(client)["refresh_token"]
    lost = refresh(client, spent)  # the client never saw this answer
    clock.move(seconds=40)
    retried = refresh(client, spent)
    assert client.get("/protected", headers=bearer(retried["access_token"])).status_code == 200
    refresh(client, retried["refresh_token"])  # the session goes on
    # The lost answer's refresh token was replaced by the retry: if it shows up after all, someone has a copy.
    assert code_of(client.post("/refresh", headers=bearer(lost["refresh_token"]))) == "token_reused"


def test_after_the_grace_period_a_retried_refresh_ends_the_session(
    make_client: Callable[..., TestClient], user: dict[str, str], clock: Clock
) -> None:
    client = make_client(refresh_grace_seconds=60)
    spent = login(client)["refresh_token"]
    refresh(client, spent)
    clock.move(seconds=61)
    assert code_of(client.post("/refresh", headers=bearer(spent))) == "token_reused"


def test_retries_cannot_stretch_the_grace_period(make_client: Callable[..., TestClient], user: dict[str, str], clock: Clock) -> None:
    client = make_client(refresh_grace_seconds=60)
    spent = login(client)["refresh_token"]
    refresh(client, spent)
    clock.move(seconds=40)
    refresh(client, spent)  # within the minute: a retry
    clock.move(seconds=40)  # within a minute of the retry, but not of the refresh that spent the token
    assert code_of(client.post("/refresh", headers=bearer(spent))) == "token_reused"


@pytest.mark.parametrize("change", ["password", "deactivation"])
def test_a_login_whose_check_overlaps_an_account_change_starts_no_session(
    client: TestClient, user: dict[str, str], monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    # The change ends every session; a login that checked the old password meanwhile must not start one after it.
    engine, settings = client.app.state.engine, client.app.state.settings  # type: ignore[attr-defined]
    hasher = hasher_for(settings)
    check = hasher.verify

    def change_the_account_during_the_check(password: str, hashed: str | None) -> tuple[bool, str | None]:
        verdict = check(password, hashed)
        with Session(engine) as other:
            account = users_service.get_by_username(other, user["username"])
            assert account is not None and account.id is not None
            if change == "password":
                users_service.set_password(other, settings, account, "a brand new passphrase")
            else:
                users_service.set_active(other, account, False)
            auth_service.revoke_user_sessions(other, None, account.id, reason=change)
        return verdict

    monkeypatch.setattr(hasher, "verify", change_the_account_during_the_check)
    assert code_of(client.post("/login", json=user)) == "invalid_credentials"
    with Session(engine) as session:
        assert session.exec(select(TokenFamily).where(col(TokenFamily.revoked_at).is_(None))).first() is None


@pytest.mark.parametrize("ending", ["expired", "purged"])
def test_a_fresh_login_cannot_outlive_its_session(client: TestClient, tokens: dict[str, str], ending: str) -> None:
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        family = session.get(TokenFamily, family_id(client, tokens))
        assert family is not None
        if ending == "expired":  # past the refresh token's lifetime
            family.expires_at = utcnow() - timedelta(seconds=1)
            session.add(family)
        else:  # deleted by purge-tokens
            session.delete(family)
        session.commit()
    response = client.post("/fresh-login", headers=bearer(tokens["access_token"]), json={"password": PASSWORD})
    assert code_of(response) == "token_revoked"
