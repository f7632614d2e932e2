"""Login throttling: failures slow an account (and an address) down, then refuse it with 429."""

import threading
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session

from {{ cookiecutter.package_name }}.auth.models import LoginThrottle
from {{ cookiecutter.package_name }}.database import utcnow

from .conftest import PASSWORD, login


def fail(client: TestClient, username: str = "alice") -> int:
    return client.post("/login", json={"username": username, "password": "wrong password"}).status_code


def unblock(client: TestClient) -> None:
    """Let the lockout run out without waiting for it."""
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        session.exec(update(LoginThrottle).values(blocked_until=utcnow()))
        session.commit()


def test_repeated_failures_are_refused_with_429_and_retry_after(make_client: Callable[..., TestClient], user: dict[str, str]) -> None:
    client = make_client(login_free_failures=3)
    assert [fail(client) for _ in range(3)] == [401, 401, 401]
    refused = client.post("/login", json={"username": "alice", "password": PASSWORD})  # even the right password
    assert refused.status_code == 429
    assert refused.json()["code"] == "too_many_attempts"
    assert int(refused.headers["Retry-After"]) >= 1


def test_each_new_failure_doubles_the_wait(make_client: Callable[..., TestClient], user: dict[str, str]) -> None:
    client = make_client(login_free_failures=1, login_max_lockout_seconds=900)
    waits = []
    for _ in range(4):
        assert fail(client) == 401
        waits.append(int(client.post("/login", json={"username": "alice", "password": "x"}).headers["Retry-After"]))
        unblock(client)
    assert waits == [1, 2, 4, 8]


def test_success_resets_the_account_counter(make_client: Callable[..., TestClient], user: dict[str, str]) -> None:
    client = make_client(login_free_failures=3)
    fail(client), fail(client)
    login(client)
    assert [fail(client), fail(client)] == [401, 401]  # two more allowed again


def test_the_count_is_shared_by_every_instance(make_client: Callable[..., TestClient], user: dict[str, str]) -> None:
    first, second = make_client(login_free_failures=2), make_client(login_free_failures=2)
    assert fail(first) == 401
    assert fail(second) == 401
    assert first.post("/login", json={"username": "alice", "password": PASSWORD}).status_code == 429


def test_one_address_trying_many_accounts_is_refused(make_client: Callable[..., TestClient], user: dict[str, str]) -> None:
    client = make_client(login_free_failures=100, login_ip_free_failures=3)
    assert [fail(client, f"user{n}") for n in range(3)] == [401, 401, 401]
    refused = client.post("/login", json={"username": "alice", "password": PASSWORD})
    assert refused.status_code == 429


def test_other_accounts_are_not_locked_by_one(make_client: Callable[..., TestClient], user: dict[str, str]) -> None:
    client = make_client(login_free_failures=2)
    client.post("/register", json={"username": "bob", "password": "bobs password"})
    fail(client), fail(client)
    assert client.post("/login", json={"username": "bob", "password": "bobs password"}).status_code == 200


def test_concurrent_guesses_cannot_slip_past_the_count(make_client: Callable[..., TestClient], user: dict[str, str]) -> None:
    client = make_client(login_free_failures=3)
    barrier = threading.Barrier(12)
    statuses: list[int] = []

    def guess() -> None:
        barrier.wait()
        statuses.append(fail(client))

    threads = [threading.Thread(target=guess) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [401] * 3 + [429] * 9


def test_wrong_current_password_on_change_counts_as_a_failed_login(make_client: Callable[..., TestClient], user: dict[str, str]) -> None:
    client = make_client(login_free_failures=2)
    headers = {"Authorization": f"Bearer {login(client)['access_token']}"}
    body = {"current_password": "wrong guess", "new_password": "a brand new passphrase"}
    assert [client.post("/users/me/password", headers=headers, json=body).status_code for _ in range(3)] == [401, 401, 429]
