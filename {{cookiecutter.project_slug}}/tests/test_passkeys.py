"""Passkeys through the API, with a software authenticator (tests/webauthn_authenticator.py) answering the
app's WebAuthn options: registration, passwordless login, the second step after a password, and every
refusal (another account's passkey, another origin or RP ID, a replayed counter, a challenge used twice,
expired or of another ceremony, no user verification where it is required, an unknown credential)."""

from collections.abc import Callable
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from {{ cookiecutter.package_name }}.mail import Message
from {{ cookiecutter.package_name }}.mfa import service as mfa_service
from {{ cookiecutter.package_name }}.paseto.tokens import decode_token
from {{ cookiecutter.package_name }}.users import service as users_service

from .conftest import PASSWORD, Clock, bearer, login
from .webauthn_authenticator import SoftwareAuthenticator, b64url

ORIGIN = "http://testserver"  # PUBLIC_URL of the tests' settings: the RP ID is "testserver"


def register(client: TestClient, access_token: str, authenticator: SoftwareAuthenticator, name: str = "Laptop") -> dict[str, Any]:
    """Register a new passkey of `authenticator` for the account of this (fresh) token: the passkey as listed."""
    options = client.post("/passkeys/register/options", headers=bearer(access_token))
    assert options.status_code == 200, options.text
    created = client.post(
        "/passkeys/register", json={"credential": authenticator.create(options.json()), "name": name}, headers=bearer(access_token)
    )
    assert created.status_code == 201, created.text
    passkey: dict[str, Any] = created.json()
    return passkey


def login_options(client: TestClient) -> dict[str, Any]:
    answer = client.post("/login/passkey/options")
    assert answer.status_code == 200, answer.text
    options: dict[str, Any] = answer.json()
    return options


def passwordless(client: TestClient, authenticator: SoftwareAuthenticator, **tweaks: Any) -> httpx2.Response:
    return client.post("/login/passkey", json={"credential": authenticator.get(login_options(client), **tweaks)})


def claims_of(client: TestClient, token: str) -> dict[str, Any]:
    return decode_token(client.app.state.authpaseto, token)  # type: ignore[attr-defined]


def outbox(client: TestClient) -> list[Message]:
    sent: list[Message] = client.app.state.mailer.outbox  # type: ignore[attr-defined]
    return sent


def mfa_token(client: TestClient, username: str = "alice") -> str:
    first = client.post("/login", json={"username": username, "password": PASSWORD})
    assert (first.status_code, first.json()["code"]) == (401, "mfa_required"), first.text
    assert "passkey" in first.json()["methods"]
    token: str = first.json()["mfa_token"]
    return token


def second_step_options(client: TestClient, token: str) -> dict[str, Any]:
    answer = client.post("/login/mfa/passkey/options", json={"mfa_token": token})
    assert answer.status_code == 200, answer.text
    options: dict[str, Any] = answer.json()
    return options


@pytest.fixture
def authenticator() -> SoftwareAuthenticator:
    return SoftwareAuthenticator(origin=ORIGIN)


@pytest.fixture
def registered(client: TestClient, tokens: dict[str, str], authenticator: SoftwareAuthenticator) -> dict[str, Any]:
    """Alice has one passkey (hardware-bound, counting), registered with her password-fresh token."""
    return register(client, tokens["access_token"], authenticator)


def test_a_passkey_is_registered_and_logs_in_alone(
    client: TestClient, tokens: dict[str, str], authenticator: SoftwareAuthenticator
) -> None:
    options = client.post("/passkeys/register/options", headers=bearer(tokens["access_token"])).json()
    assert options["rp"] == {"id": "testserver", "name": client.app.state.settings.app_name}  # type: ignore[attr-defined]
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    created = client.post(
        "/passkeys/register", json={"credential": authenticator.create(options), "name": "Laptop"}, headers=bearer(tokens["access_token"])
    )
    assert created.status_code == 201, created.text
    assert created.json() | {"id": 0, "created_at": ""} == {
        "id": 0,
        "name": "Laptop",
        "created_at": "",
        "last_used_at": None,
        "synced": False,
        "backed_up": False,
        "transports": ["internal"],
    }
    assert "passkey" in outbox(client)[-1].text and "Laptop" in outbox(client)[-1].text  # the owner hears of it

    answer = passwordless(client, authenticator)
    assert answer.status_code == 200, answer.text
    assert {"access_token", "refresh_token", "device_token"} <= answer.json().keys()
    access = claims_of(client, answer.json()["access_token"])
    assert access["amr"] == ["hwk", "mfa", "user"] and access["fresh"] is True and access["sub"] == "alice" and access["auth_time"]
    listed = client.get("/passkeys", headers=bearer(answer.json()["access_token"])).json()
    assert [each["name"] for each in listed] == ["Laptop"] and listed[0]["last_used_at"] is not None
    # The account has a second factor now: the password alone no longer logs in.
    assert client.post("/login", json={"username": "alice", "password": PASSWORD}).json()["methods"] == ["passkey"]


def test_a_synced_passkey_says_swk(client: TestClient, tokens: dict[str, str]) -> None:
    synced = SoftwareAuthenticator(origin=ORIGIN, backup_eligible=True, counts=False)  # a password manager's: counter always 0
    assert register(client, tokens["access_token"], synced)["synced"] is True
    for _ in range(2):  # a counter that stays 0 is no replay
        answer = passwordless(client, synced)
        assert answer.status_code == 200, answer.text
    assert claims_of(client, answer.json()["access_token"])["amr"] == ["mfa", "swk", "user"]


def test_a_passkey_is_the_second_step_after_a_password(
    client: TestClient, registered: dict[str, Any], authenticator: SoftwareAuthenticator
) -> None:
    token = mfa_token(client)
    options = second_step_options(client, token)
    assert [each["id"] for each in options["allowCredentials"]] == [b64url(authenticator.credentials[0].id)]
    assert options["userVerification"] == "preferred"
    # After the password, presence is enough: the password was the knowledge factor.
    answer = client.post("/login/mfa", json={"mfa_token": token, "passkey": authenticator.get(options, user_verified=False)})
    assert answer.status_code == 200, answer.text
    assert claims_of(client, answer.json()["access_token"])["amr"] == ["hwk", "mfa", "pwd"]


def test_a_re_authentication_proves_the_passkey_too(
    client: TestClient, registered: dict[str, Any], authenticator: SoftwareAuthenticator
) -> None:
    session = passwordless(client, authenticator).json()
    refreshed = client.post("/refresh", headers=bearer(session["refresh_token"])).json()["access_token"]
    headers = bearer(refreshed)
    assert client.delete(f"/passkeys/{registered['id']}", headers=headers).json()["code"] == "fresh_token_required"
    step = client.post("/fresh-login", json={"password": PASSWORD}, headers=headers).json()
    assert step["code"] == "mfa_required" and step["methods"] == ["passkey"]
    options = second_step_options(client, step["mfa_token"])
    fresh = client.post("/fresh-login/mfa", json={"mfa_token": step["mfa_token"], "passkey": authenticator.get(options)}, headers=headers)
    assert fresh.status_code == 200, fresh.text
    assert "mfa" in claims_of(client, fresh.json()["access_token"])["amr"]
    assert client.delete(f"/passkeys/{registered['id']}", headers=bearer(fresh.json()["access_token"])).status_code == 204


def test_a_passkey_of_another_account_is_refused_in_the_second_step(
    client: TestClient, registered: dict[str, Any], authenticator: SoftwareAuthenticator
) -> None:
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        users_service.create_user(session, client.app.state.settings, "bob", PASSWORD)  # type: ignore[attr-defined]
    bobs = SoftwareAuthenticator(origin=ORIGIN)
    register(client, login(client, "bob")["access_token"], bobs)
    alices_token = mfa_token(client)
    alices_options = second_step_options(client, alices_token)
    # Bob (who knows Alice's password) answers Alice's options with his own passkey.
    stranger = client.post(
        "/login/mfa", json={"mfa_token": alices_token, "passkey": bobs.get(alices_options, credential=bobs.credentials[0])}
    )
    assert (stranger.status_code, stranger.json()["code"]) == (401, "passkey_unknown")
    # And a challenge handed to Bob's second step is not one of Alice's.
    bobs_options = second_step_options(client, mfa_token(client, "bob"))
    swapped = client.post(
        "/login/mfa", json={"mfa_token": alices_token, "passkey": authenticator.get(bobs_options, credential=authenticator.credentials[0])}
    )
    assert swapped.json()["code"] == "passkey_challenge_invalid"
    # A passwordless assertion whose user handle names another account than its passkey's.
    forged = authenticator.get(login_options(client))
    forged["response"]["userHandle"] = bobs.get(login_options(client))["response"]["userHandle"]
    assert client.post("/login/passkey", json={"credential": forged}).json()["code"] == "passkey_invalid"


@pytest.mark.parametrize(
    ("tweak", "code"),
    [
        ({"origin": "http://evil.example"}, "passkey_origin_mismatch"),
        ({"rp_id": "evil.example"}, "passkey_rp_mismatch"),
        ({"user_verified": False}, "passkey_user_verification_required"),
        ({"sign_count": 1}, "passkey_replayed"),  # the registration's login below used 1 already
    ],
)
def test_passwordless_refusals(
    client: TestClient, registered: dict[str, Any], authenticator: SoftwareAuthenticator, tweak: dict[str, Any], code: str
) -> None:
    assert passwordless(client, authenticator).status_code == 200  # the counter is at 1 now
    refused = passwordless(client, authenticator, **tweak)
    assert (refused.status_code, refused.json()["code"]) == (401, code), refused.text
    assert passwordless(client, authenticator).status_code == 200  # the passkey itself still works


def test_a_challenge_is_good_once_for_one_ceremony_and_a_few_minutes(
    client: TestClient, registered: dict[str, Any], authenticator: SoftwareAuthenticator, clock: Clock
) -> None:
    options = login_options(client)
    assertion = authenticator.get(options)
    assert client.post("/login/passkey", json={"credential": assertion}).status_code == 200
    reused = client.post("/login/passkey", json={"credential": assertion})
    assert reused.json()["code"] == "passkey_challenge_invalid"
    again = authenticator.get(options)  # a new signature, a higher counter, the same challenge
    assert client.post("/login/passkey", json={"credential": again}).json()["code"] == "passkey_challenge_invalid"
    # A login's challenge is not a second step's (nor the reverse).
    step = client.post("/login/mfa", json={"mfa_token": mfa_token(client), "passkey": authenticator.get(login_options(client))})
    assert step.json()["code"] == "passkey_challenge_invalid"
    late = login_options(client)
    clock.move(seconds=client.app.state.settings.passkey_challenge_seconds + 1)  # type: ignore[attr-defined]
    expired = client.post("/login/passkey", json={"credential": authenticator.get(late)})
    assert expired.json()["code"] == "passkey_challenge_expired"


def test_an_unknown_passkey_and_what_is_no_passkey_at_all_are_refused(client: TestClient, registered: dict[str, Any]) -> None:
    stranger = SoftwareAuthenticator(origin=ORIGIN)
    options = login_options(client)
    stranger.create({"rp": {"id": "testserver"}, "user": {"id": "AAAA"}, "challenge": "AAAA"})  # never registered here
    unknown = client.post("/login/passkey", json={"credential": stranger.get(options)})
    assert (unknown.status_code, unknown.json()["code"]) == (401, "passkey_unknown")
    for junk in ({}, {"id": "x", "rawId": "x", "type": "public-key", "response": {"clientDataJSON": "!!"}}, {"response": "no"}):
        answer = client.post("/login/passkey", json={"credential": junk})
        assert (answer.status_code, answer.json()["code"]) == (401, "passkey_invalid"), answer.text


def test_failed_passkeys_count_as_guesses(
    make_client: Callable[..., TestClient], user: dict[str, str], authenticator: SoftwareAuthenticator
) -> None:
    client = make_client(login_address_free_failures=2, mfa_token_attempts=2)
    register(client, login(client)["access_token"], authenticator)
    token = mfa_token(client)  # the second step: per mfa_token, as for codes
    bad = [client.post("/login/mfa", json={"mfa_token": token, "passkey": {"id": "junk"}}).json()["code"] for _ in range(3)]
    assert bad == ["passkey_invalid", "passkey_invalid", "too_many_attempts"]
    # Passwordless: per client address, counted with wrong passwords.
    codes = [passwordless(client, authenticator, origin="http://evil.example").json()["code"] for _ in range(3)]
    assert codes == ["passkey_origin_mismatch", "passkey_origin_mismatch", "too_many_attempts"]


def test_registration_needs_a_fresh_token_and_a_verified_user(
    client: TestClient, tokens: dict[str, str], authenticator: SoftwareAuthenticator
) -> None:
    refreshed = client.post("/refresh", headers=bearer(tokens["refresh_token"])).json()["access_token"]
    assert client.post("/passkeys/register/options", headers=bearer(refreshed)).json()["code"] == "fresh_token_required"
    options = client.post("/passkeys/register/options", headers=bearer(tokens["access_token"])).json()
    unverified = authenticator.create(options, user_verified=False)
    refused = client.post("/passkeys/register", json={"credential": unverified}, headers=bearer(tokens["access_token"]))
    assert refused.json()["code"] == "passkey_user_verification_required"
    options = client.post("/passkeys/register/options", headers=bearer(tokens["access_token"])).json()
    elsewhere = client.post(
        "/passkeys/register",
        json={"credential": authenticator.create(options, origin="http://evil.example")},
        headers=bearer(tokens["access_token"]),
    )
    assert elsewhere.json()["code"] == "passkey_origin_mismatch"
    assert client.get("/passkeys", headers=bearer(tokens["access_token"])).json() == []
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        assert users_service.get_by_username(session, "alice").mfa_enabled is False  # type: ignore[union-attr]


def test_rename_and_remove_change_only_ones_own_and_the_last_one_turns_the_second_factor_off(
    client: TestClient, registered: dict[str, Any], authenticator: SoftwareAuthenticator
) -> None:
    proved = passwordless(client, authenticator).json()["access_token"]
    pending = mfa_token(client)
    second = register(client, proved, SoftwareAuthenticator(origin=ORIGIN), name="Phone")
    stale = client.post("/login/mfa/passkey/options", json={"mfa_token": pending})
    assert stale.json()["code"] == "invalid_mfa_token"  # a factor added: the account's stamp moved
    renamed = client.patch(f"/passkeys/{second['id']}", json={"name": "Old phone"}, headers=bearer(proved))
    assert renamed.status_code == 200 and renamed.json()["name"] == "Old phone"
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        users_service.create_user(session, client.app.state.settings, "bob", PASSWORD)  # type: ignore[attr-defined]
    bob = login(client, "bob")["access_token"]
    assert client.patch(f"/passkeys/{second['id']}", json={"name": "mine"}, headers=bearer(bob)).json()["code"] == "not_found"
    assert client.delete(f"/passkeys/{second['id']}", headers=bearer(bob)).json()["code"] == "not_found"
    assert client.delete(f"/passkeys/{second['id']}", headers=bearer(proved)).status_code == 204
    assert "passkey" in client.post("/login", json={"username": "alice", "password": PASSWORD}).json()["methods"]  # one left
    assert client.delete(f"/passkeys/{registered['id']}", headers=bearer(proved)).status_code == 204
    assert "Old phone" in outbox(client)[-2].text and "was removed" in outbox(client)[-1].subject
    assert "access_token" in client.post("/login", json={"username": "alice", "password": PASSWORD}).json()  # one step again


def test_an_administrators_reset_removes_passkeys_too(
    client: TestClient, registered: dict[str, Any], authenticator: SoftwareAuthenticator
) -> None:
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        alice = users_service.get_by_username(session, "alice")
        assert alice is not None and alice.mfa_enabled
        mfa_service.reset_factors(session, alice)
    assert passwordless(client, authenticator).json()["code"] == "passkey_unknown"
    assert "access_token" in client.post("/login", json={"username": "alice", "password": PASSWORD}).json()


def test_passkeys_need_a_host_name_in_public_url(make_client: Callable[..., TestClient]) -> None:
    client = make_client(public_url="http://127.0.0.1:8000")
    answer = client.post("/login/passkey/options")
    assert (answer.status_code, answer.json()["code"]) == (409, "passkeys_unavailable")
