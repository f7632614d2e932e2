"""Guessing limits: they slow an attacker down, and an attacker cannot turn them against the account's owner.

The app's clock is frozen for every test here (the `clock` fixture): a wait the throttle sets lasts until
the test moves the clock past it, however slow the machine.
"""

import threading
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from {{ cookiecutter.package_name }}.users import service as users_service
from {{ cookiecutter.package_name }}.users.exceptions import TooManyAttemptsError
from {{ cookiecutter.package_name }}.users.passwords import HashingGate, hasher_for

from .conftest import PASSWORD, Clock, all_at_once, login

# For the tests that send many requests at once: they queue for a few pooled connections (and SQLite's one
# writer), and on a busy machine the last may wait longer than the default 5 s and be answered 503.
PATIENT_DATABASE = {"database_pool_timeout": 60, "database_connect_timeout": 60, "database_query_timeout": 60}


@pytest.fixture(autouse=True)
def frozen_clock(clock: Clock) -> Clock:
    """Every test here runs on the frozen clock (a test that moves it asks for `clock`: the same one)."""
    return clock


def from_address(client: TestClient, address: str) -> TestClient:
    """The same running app, reached from another client address."""
    return TestClient(client.app, client=(address, 50000), raise_server_exceptions=False)


def attempt(client: TestClient, username: str = "alice", password: str = "wrong password") -> int:
    return client.post("/login", json={"username": username, "password": password}).status_code


def test_repeated_failures_are_refused_with_429_and_retry_after(make_client: Callable[..., TestClient], user: dict[str, str]) -> None:
    client = make_client(login_free_failures=3)
    assert [attempt(client) for _ in range(3)] == [401, 401, 401]
    refused = client.post("/login", json={"username": "alice", "password": PASSWORD})  # even the right password, from here
    assert refused.status_code == 429
    assert refused.json()["code"] == "too_many_attempts"
    assert int(refused.headers["Retry-After"]) >= 1


def test_each_new_failure_doubles_the_wait(make_client: Callable[..., TestClient], user: dict[str, str], clock: Clock) -> None:
    client = make_client(login_free_failures=1, login_max_lockout_seconds=900)
    waits = []
    for _ in range(4):
        assert attempt(client) == 401
        refused = client.post("/login", json={"username": "alice", "password": "x"})
        assert refused.status_code == 429
        waits.append(int(refused.headers["Retry-After"]))
        clock.move(seconds=waits[-1])  # the wait runs out
    assert waits == [1, 2, 4, 8]


def test_success_resets_the_count_of_its_address(make_client: Callable[..., TestClient], user: dict[str, str]) -> None:
    client = make_client(login_free_failures=3)
    attempt(client), attempt(client)
    login(client)
    assert [attempt(client), attempt(client)] == [401, 401]  # two more allowed again


def test_the_count_is_shared_by_every_instance(make_client: Callable[..., TestClient], user: dict[str, str]) -> None:
    first, second = make_client(login_free_failures=2), make_client(login_free_failures=2)
    assert attempt(first) == 401
    assert attempt(second) == 401
    assert first.post("/login", json={"username": "alice", "password": PASSWORD}).status_code == 429


def test_one_address_trying_many_accounts_is_refused(make_client: Callable[..., TestClient], user: dict[str, str]) -> None:
    client = make_client(login_address_free_failures=3)
    assert [attempt(client, f"user{n}") for n in range(3)] == [401, 401, 401]
    assert attempt(client, "alice", PASSWORD) == 429
    assert attempt(from_address(client, "203.0.113.9"), "alice", PASSWORD) == 200  # only that address waits


def test_an_attacker_cannot_lock_the_owner_out(make_client: Callable[..., TestClient], user: dict[str, str]) -> None:
    client = make_client(login_free_failures=5)
    attacker = from_address(client, "198.51.100.66")
    assert [attempt(attacker, name) for name in ["ALICE", "alice", "Alice", "alice", "alice"]] == [401] * 5
    assert attempt(attacker, "alice", PASSWORD) == 429  # the attacker's address waits ...
    assert attempt(client, "alice", PASSWORD) == 200  # ... the owner, elsewhere, does not


def test_many_addresses_on_one_account_are_slowed_but_never_locked_out(
    make_client: Callable[..., TestClient], user: dict[str, str], clock: Clock
) -> None:
    client = make_client(login_account_free_failures=3, login_max_lockout_seconds=900)
    for n in range(12):  # a botnet: every guess from another address, each after the account's second
        clock.move(seconds=1)
        assert attempt(from_address(client, f"198.51.100.{n}")) == 401
    refused = client.post("/login", json={"username": "alice", "password": PASSWORD})
    assert (refused.status_code, refused.headers["Retry-After"]) == (429, "1")  # a second's wait, however many failures
    clock.move(seconds=1)
    assert attempt(client, "alice", PASSWORD) == 200


def test_a_successful_login_never_sets_a_lock(make_client: Callable[..., TestClient], user: dict[str, str]) -> None:
    client = make_client(login_address_free_failures=3, login_free_failures=3)
    assert [attempt(client, "bob"), attempt(client, "carol")] == [401, 401]
    assert attempt(client, "alice", PASSWORD) == 200  # the address's third attempt: a success
    assert attempt(client, "dave") == 401  # so the next attempt is not made to wait


def test_simultaneous_correct_logins_from_one_address_all_succeed(make_client: Callable[..., TestClient]) -> None:
    client = make_client(**PATIENT_DATABASE)
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        for n in range(64):
            users_service.create_user(session, client.app.state.settings, f"member{n}", PASSWORD)  # type: ignore[attr-defined]
    statuses = sorted(all_at_once([lambda n=n: attempt(client, f"member{n}", PASSWORD) for n in range(64)]))  # type: ignore[misc]
    assert statuses == [200] * 64


def test_concurrent_guesses_cannot_slip_past_the_count(make_client: Callable[..., TestClient], user: dict[str, str]) -> None:
    client = make_client(login_free_failures=3, **PATIENT_DATABASE)
    assert sorted(all_at_once([lambda: attempt(client)] * 12)) == [401] * 3 + [429] * 9


def test_wrong_current_password_on_change_counts_as_a_failed_login(make_client: Callable[..., TestClient], user: dict[str, str]) -> None:
    client = make_client(login_free_failures=2)
    headers = {"Authorization": f"Bearer {login(client)['access_token']}"}
    body = {"current_password": "wrong guess", "new_password": "a brand new passphrase"}
    assert [client.post("/users/me/password", headers=headers, json=body).status_code for _ in range(3)] == [401, 401, 429]


def test_registrations_from_one_address_are_limited(make_client: Callable[..., TestClient]) -> None:
    client = make_client(registration_free_attempts=3)
    statuses = [client.post("/register", json={"username": f"new{n}", "password": PASSWORD}).status_code for n in range(4)]
    assert statuses == [201, 201, 201, 429]
    other = from_address(client, "203.0.113.50")
    assert other.post("/register", json={"username": "new9", "password": PASSWORD}).status_code == 201


# -- known devices (OWASP's device cookies), address groups, hashing bounds ------------------------------


def test_a_known_device_logs_in_while_a_botnet_holds_the_account_back(make_client: Callable[..., TestClient], user: dict[str, str]) -> None:
    client = make_client(login_account_free_failures=3)
    device = client.post("/login", json={"username": "alice", "password": PASSWORD}).json()["device_token"]
    for n in range(3):  # many addresses, each guessing once: the account-wide limit is reached
        assert attempt(from_address(client, f"198.51.100.{n}")) == 401
    stranger = from_address(client, "203.0.113.7")
    assert attempt(stranger, "alice", PASSWORD) == 429  # a new device waits its second, like the botnet
    owner = from_address(client, "203.0.113.8")
    known = owner.post("/login", json={"username": "alice", "password": PASSWORD, "device_token": device})
    assert known.status_code == 200, known.text  # the owner's device is not queued behind the botnet
    assert known.json()["device_token"]


def test_a_device_token_is_worth_nothing_for_another_account_or_once_tampered(
    make_client: Callable[..., TestClient], user: dict[str, str]
) -> None:
    client = make_client(login_account_free_failures=1)
    client.post("/register", json={"username": "mallory", "password": PASSWORD})
    mallorys = client.post("/login", json={"username": "mallory", "password": PASSWORD}).json()["device_token"]
    assert attempt(from_address(client, "198.51.100.1")) == 401
    for token in (mallorys, mallorys[:-4] + "AAAA", "junk"):
        answer = from_address(client, "203.0.113.9").post("/login", json={"username": "alice", "password": PASSWORD, "device_token": token})
        assert answer.status_code == 429, token  # treated as a new device: the account-wide limit applies


def test_a_known_device_that_keeps_failing_waits_too(make_client: Callable[..., TestClient], user: dict[str, str]) -> None:
    client = make_client(login_device_free_failures=2, login_free_failures=100, login_address_free_failures=100)
    device = client.post("/login", json={"username": "alice", "password": PASSWORD}).json()["device_token"]
    guesses = [
        from_address(client, f"198.51.100.{n}").post("/login", json={"username": "alice", "password": "x" * 8, "device_token": device})
        for n in range(3)
    ]
    assert [guess.status_code for guess in guesses] == [401, 401, 429]  # a stolen device token buys two guesses


def test_a_device_token_dies_with_a_password_change(make_client: Callable[..., TestClient], user: dict[str, str]) -> None:
    client = make_client(login_account_free_failures=1)
    device = client.post("/login", json={"username": "alice", "password": PASSWORD}).json()["device_token"]
    assert attempt(from_address(client, "198.51.100.1")) == 401  # the account-wide limit is reached
    owner = from_address(client, "203.0.113.8")
    assert owner.post("/login", json={"username": "alice", "password": PASSWORD, "device_token": device}).status_code == 200
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined] # a reset, or `set-password`
        alice = users_service.get_by_username(session, "alice")
        assert alice is not None
        users_service.set_password(session, client.app.state.settings, alice, "a brand new passphrase")  # type: ignore[attr-defined]
    again = owner.post("/login", json={"username": "alice", "password": "a brand new passphrase", "device_token": device})
    assert again.status_code == 429  # a stranger again: whoever held the old password held this token too


def test_one_account_holds_at_most_half_of_the_known_devices_hashing_slots() -> None:
    gate = HashingGate(total=4, per_address=4)
    with gate.slot("198.51.100.1", device_account="mallory"), gate.slot("198.51.100.2", device_account="mallory"):
        with pytest.raises(TooManyAttemptsError), gate.slot("198.51.100.3", device_account="mallory"):
            pass  # his own device token, looping logins: no more than half
        with gate.slot("203.0.113.1", device_account="alice"), gate.slot("203.0.113.2", device_account="bob"):
            pass  # other owners' devices still get in


def test_a_browser_keeps_its_device_token_for_the_login_routes_only(client: TestClient, user: dict[str, str]) -> None:
    response = client.post("/login/browser", json={"username": "alice", "password": PASSWORD})
    cookie = next(header for header in response.headers.get_list("set-cookie") if header.startswith("device_token="))
    assert "Path=/login" in cookie and "HttpOnly" in cookie and "Max-Age=" in cookie


@pytest.mark.parametrize(
    ("first", "second", "shared"), [("2001:db8:1:2::1", "2001:db8:1:2::ffff", True), ("2001:db8:1:2::1", "2001:db8:1:3::1", False)]
)
def test_ipv6_addresses_are_counted_by_their_64(
    make_client: Callable[..., TestClient], user: dict[str, str], first: str, second: str, shared: bool
) -> None:
    client = make_client(login_free_failures=2)
    assert [attempt(from_address(client, first)) for _ in range(2)] == [401, 401]
    assert attempt(from_address(client, second), "alice", PASSWORD) == (429 if shared else 200)


def test_hashing_is_bounded_per_address_and_per_worker_but_not_for_known_devices(
    make_client: Callable[..., TestClient], user: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client(password_hash_concurrency=2, password_hash_per_address=1)
    device = client.post("/login", json={"username": "alice", "password": PASSWORD}).json()["device_token"]
    hasher = hasher_for(client.app.state.settings)  # type: ignore[attr-defined]
    hashing, release = threading.Semaphore(0), threading.Event()
    verify = hasher.verify

    def slow_wrong_guesses(password: str, hashed: str | None) -> tuple[bool, str | None]:
        if password != PASSWORD:  # the guesses hold their slots until the test lets them go
            hashing.release()
            release.wait(60)
        return verify(password, hashed)

    monkeypatch.setattr(hasher, "verify", slow_wrong_guesses)
    here, there, elsewhere = client, from_address(client, "198.51.100.1"), from_address(client, "198.51.100.2")
    first = threading.Thread(target=attempt, args=(here,))
    second = threading.Thread(target=attempt, args=(there,))
    first.start()
    assert hashing.acquire(timeout=60)
    assert attempt(here, "alice", PASSWORD) == 429  # this address hashes already: refused at once, not queued
    second.start()
    assert hashing.acquire(timeout=60)
    assert attempt(elsewhere, "alice", PASSWORD) == 429  # the worker hashes as much as it may for strangers: refused at once
    known = elsewhere.post("/login", json={"username": "alice", "password": PASSWORD, "device_token": device})
    assert known.status_code == 200, known.text  # a known device has slots of its own: the guesses cannot take them
    release.set()
    first.join(60)
    second.join(60)
    assert attempt(elsewhere, "alice", PASSWORD) == 200
