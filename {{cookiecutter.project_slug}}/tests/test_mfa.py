"""Second factors: an authenticator app (TOTP) with recovery codes, the two-step login, and fresh tokens
that mean "proved the strongest factor". Codes are computed here from the secret, on the test's clock."""

from collections.abc import Callable

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from {{ cookiecutter.package_name }}.mfa import totp as totp_module
from {{ cookiecutter.package_name }}.mfa.models import RecoveryCode, TotpCredential
from {{ cookiecutter.package_name }}.paseto.tokens import decode_token

from .conftest import PASSWORD, Clock, bearer, login

STEP = 30  # seconds: one TOTP code each


@pytest.fixture
def totp_clock(clock: Clock) -> Clock:
    """The TOTP codes' clock too: a test moves it a step to get the next code, never waits for one."""
    clock.freeze_monotonic_in(totp_module)
    return clock


def code_now(secret: str, clock: Clock) -> str:
    return pyotp.TOTP(secret).at(clock.now())


def enrol(client: TestClient, tokens: dict[str, str], clock: Clock) -> tuple[str, list[str]]:
    """Set up an authenticator app for the account of these (fresh) tokens: its secret and recovery codes."""
    setup = client.post("/mfa/totp/setup", headers=bearer(tokens["access_token"]))
    assert setup.status_code == 200, setup.text
    secret = setup.json()["secret"]
    assert setup.json()["otpauth_uri"].startswith("otpauth://totp/") and setup.json()["qr_svg"].startswith("<svg")
    confirmed = client.post("/mfa/totp/confirm", json={"code": code_now(secret, clock)}, headers=bearer(tokens["access_token"]))
    assert confirmed.status_code == 200, confirmed.text
    codes: list[str] = confirmed.json()["recovery_codes"]
    clock.move(seconds=STEP)  # the confirming code is spent: the next login uses the next one
    return secret, codes


def first_step(client: TestClient) -> dict[str, object]:
    answer = client.post("/login", json={"username": "alice", "password": PASSWORD})
    assert (answer.status_code, answer.json()["code"]) == (401, "mfa_required"), answer.text
    body: dict[str, object] = answer.json()
    return body


def second_step(client: TestClient, mfa_token: object, **factor: str) -> dict[str, object]:
    answer: dict[str, object] = client.post("/login/mfa", json={"mfa_token": mfa_token, **factor}).json()
    return answer


def claims_of(client: TestClient, token: str) -> dict[str, object]:
    return decode_token(client.app.state.authpaseto, token)  # type: ignore[attr-defined]


@pytest.fixture
def enrolled(client: TestClient, tokens: dict[str, str], totp_clock: Clock) -> tuple[str, list[str]]:
    return enrol(client, tokens, totp_clock)


def test_a_password_alone_no_longer_logs_in_and_the_second_step_does(
    client: TestClient, enrolled: tuple[str, list[str]], totp_clock: Clock
) -> None:
    secret, _ = enrolled
    first = first_step(client)
    assert first["methods"] == ["totp", "recovery_code"] and "access_token" not in first
    tokens = second_step(client, first["mfa_token"], code=code_now(secret, totp_clock))
    assert {"access_token", "refresh_token", "device_token"} <= tokens.keys(), tokens
    access = claims_of(client, str(tokens["access_token"]))
    assert access["amr"] == ["mfa", "otp", "pwd"] and access["fresh"] is True and "auth_time" in access


def test_a_code_is_accepted_once_even_within_its_window(client: TestClient, enrolled: tuple[str, list[str]], totp_clock: Clock) -> None:
    secret, _ = enrolled
    code = code_now(secret, totp_clock)
    assert "access_token" in second_step(client, first_step(client)["mfa_token"], code=code)
    replay = second_step(client, first_step(client)["mfa_token"], code=code)
    assert replay["code"] == "code_used"
    earlier = pyotp.TOTP(secret).at(totp_clock.now().timestamp() - STEP)  # still in the window, but older than the last accepted
    assert second_step(client, first_step(client)["mfa_token"], code=earlier)["code"] == "code_used"


def test_wrong_codes_are_refused_and_an_mfa_token_takes_only_a_few(
    make_client: Callable[..., TestClient], user: dict[str, str], totp_clock: Clock
) -> None:
    client = make_client(mfa_token_attempts=3)
    secret, _ = enrol(client, login(client), totp_clock)
    mfa_token = first_step(client)["mfa_token"]
    assert [second_step(client, mfa_token, code="000000")["code"] for _ in range(3)] == ["invalid_code"] * 3
    spent = second_step(client, mfa_token, code=code_now(secret, totp_clock))
    assert spent["code"] == "too_many_attempts"  # the right code, too late for this token
    assert "access_token" in second_step(client, first_step(client)["mfa_token"], code=code_now(secret, totp_clock))


def test_a_recovery_code_works_once(client: TestClient, enrolled: tuple[str, list[str]]) -> None:
    _, codes = enrolled
    assert len(codes) == 10 and len(set(codes)) == 10
    assert "access_token" in second_step(client, first_step(client)["mfa_token"], recovery_code=codes[0].upper())
    again = second_step(client, first_step(client)["mfa_token"], recovery_code=codes[0])
    assert again["code"] == "code_used"
    assert second_step(client, first_step(client)["mfa_token"], recovery_code="not-a-code")["code"] == "invalid_code"
    assert client.get("/mfa", headers=bearer(login_with(client, recovery_code=codes[1])["access_token"])).json()["recovery_codes_left"] == 8


def login_with(client: TestClient, **factor: str) -> dict[str, str]:
    tokens = second_step(client, first_step(client)["mfa_token"], **factor)
    assert "access_token" in tokens, tokens
    return {key: str(value) for key, value in tokens.items()}


def test_an_mfa_token_is_good_for_nothing_else(client: TestClient, enrolled: tuple[str, list[str]], totp_clock: Clock) -> None:
    secret, _ = enrolled
    mfa_token = str(first_step(client)["mfa_token"])
    assert client.get("/protected", headers=bearer(mfa_token)).status_code == 401
    as_link = client.post("/password/reset", json={"token": mfa_token, "new_password": "a brand new passphrase"})
    assert as_link.json()["code"] == "link_invalid"
    assert second_step(client, "v4.local.forged", code=code_now(secret, totp_clock))["code"] == "invalid_mfa_token"
    client.post("/password/forgot", json={"email": "alice@example.com"})
    reset_link = client.app.state.mailer.outbox[-1].text  # type: ignore[attr-defined]
    reset_token = reset_link.split("token=", 1)[1].split()[0]
    assert second_step(client, reset_token, code=code_now(secret, totp_clock))["code"] == "invalid_mfa_token"


def test_an_mfa_token_dies_with_a_password_change(client: TestClient, enrolled: tuple[str, list[str]], totp_clock: Clock) -> None:
    secret, _ = enrolled
    stale = first_step(client)["mfa_token"]
    tokens = login_with(client, code=code_now(secret, totp_clock))
    change = {"current_password": PASSWORD, "new_password": "a brand new passphrase"}
    assert client.post("/users/me/password", json=change, headers=bearer(tokens["access_token"])).status_code == 204
    totp_clock.move(seconds=STEP)
    assert second_step(client, stale, code=code_now(secret, totp_clock))["code"] == "invalid_mfa_token"


def test_a_refresh_keeps_how_the_login_was_proved_and_is_never_fresh(
    client: TestClient, enrolled: tuple[str, list[str]], totp_clock: Clock
) -> None:
    secret, _ = enrolled
    tokens = login_with(client, code=code_now(secret, totp_clock))
    refreshed = client.post("/refresh", headers=bearer(tokens["refresh_token"])).json()
    before, after = claims_of(client, tokens["access_token"]), claims_of(client, refreshed["access_token"])
    assert (after["amr"], after["auth_time"], after["fresh"]) == (before["amr"], before["auth_time"], False)
    answer = client.post("/introspect", data={"token": refreshed["access_token"]})
    assert answer.status_code == 401  # no listed client here: introspection is tested with amr in test_resource_servers.py


def test_fresh_means_the_strongest_factor(client: TestClient, tokens: dict[str, str], totp_clock: Clock) -> None:
    password_only = tokens  # fresh, from before the second factor
    secret, _ = enrol(client, tokens, totp_clock)
    refused = client.post("/fresh-only", headers=bearer(password_only["access_token"]))
    assert (refused.status_code, refused.json()["code"]) == (401, "fresh_token_required")
    asked = client.post("/fresh-login", json={"password": PASSWORD}, headers=bearer(password_only["access_token"]))
    assert asked.json()["code"] == "mfa_required"
    step = {"mfa_token": asked.json()["mfa_token"], "code": code_now(secret, totp_clock)}
    fresh = client.post("/fresh-login/mfa", json=step, headers=bearer(password_only["access_token"]))
    assert fresh.status_code == 200, fresh.text
    assert "mfa" in list(claims_of(client, fresh.json()["access_token"])["amr"])  # type: ignore[call-overload]
    assert client.post("/fresh-only", headers=bearer(fresh.json()["access_token"])).status_code == 200
    totp_clock.move(seconds=STEP)
    login_token = first_step(client)["mfa_token"]  # a login's second step is no re-authentication, nor the reverse
    step = {"mfa_token": str(login_token), "code": code_now(secret, totp_clock)}
    wrong = client.post("/fresh-login/mfa", json=step, headers=bearer(password_only["access_token"]))
    assert wrong.json()["code"] == "invalid_mfa_token"


def test_a_device_token_does_not_skip_the_second_factor(client: TestClient, enrolled: tuple[str, list[str]], totp_clock: Clock) -> None:
    secret, _ = enrolled
    device = login_with(client, code=code_now(secret, totp_clock))["device_token"]
    answer = client.post("/login", json={"username": "alice", "password": PASSWORD, "device_token": device})
    assert answer.json()["code"] == "mfa_required"


def test_removing_the_authenticator_needs_a_fresh_token_that_proved_it(
    client: TestClient, tokens: dict[str, str], totp_clock: Clock
) -> None:
    secret, _ = enrol(client, tokens, totp_clock)
    assert client.delete("/mfa/totp", headers=bearer(tokens["access_token"])).json()["code"] == "fresh_token_required"
    proved = login_with(client, code=code_now(secret, totp_clock))
    assert client.post("/mfa/recovery-codes", headers=bearer(proved["access_token"])).status_code == 200
    assert client.delete("/mfa/totp", headers=bearer(proved["access_token"])).status_code == 204
    assert "access_token" in client.post("/login", json={"username": "alice", "password": PASSWORD}).json()  # one step again


def test_the_secret_is_sealed_at_rest_and_the_codes_hashed(client: TestClient, tokens: dict[str, str], totp_clock: Clock) -> None:
    secret, codes = enrol(client, tokens, totp_clock)
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        stored = session.exec(select(TotpCredential)).one()
        hashes = list(session.exec(select(RecoveryCode.code_sha256)))
    assert secret not in stored.sealed_secret and stored.sealed_secret.startswith("v4.local.")
    assert len(hashes) == 10 and not set(codes) & set(hashes)


def test_a_code_that_is_not_one_is_refused_at_set_up(client: TestClient, tokens: dict[str, str]) -> None:
    client.post("/mfa/totp/setup", headers=bearer(tokens["access_token"]))
    for code in ("000000", "12345", "abcdef"):
        refused = client.post("/mfa/totp/confirm", json={"code": code}, headers=bearer(tokens["access_token"]))
        assert (refused.status_code, refused.json()["code"]) == (401, "invalid_code")
    assert client.get("/mfa", headers=bearer(tokens["access_token"])).json()["methods"] == []
