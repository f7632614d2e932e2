"""The accounts behind recent tokens, kept in memory (users/snapshots.py): never stale in a way that matters.

Each account change is seen at once by the instance that made it, and by another instance within the
feed's bound (its next read of changes, REVOCATION_SYNC_SECONDS: 0.2 s here; on PostgreSQL a push).
"""

import functools
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import fields
from datetime import timedelta

import anyio
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from {{ cookiecutter.package_name }}.users import service as users_service
from {{ cookiecutter.package_name }}.users import snapshots as snapshots_module
from {{ cookiecutter.package_name }}.users.models import User
from {{ cookiecutter.package_name }}.users.snapshots import SECRET_COLUMNS, UserSnapshot, UserSnapshots

from .conftest import PASSWORD, Clock, bearer, login

BOUND = 10.0  # seconds: the feed's bound (0.2 s here) with room for a busy machine


def seen_within_bound(condition: Callable[[], bool], what: str) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < BOUND, f"{what} not seen within {BOUND:.0f} s"
        time.sleep(0.02)
    return time.monotonic() - started


@pytest.fixture
def two_instances(make_client: Callable[..., TestClient], client: TestClient, user: dict[str, str]) -> tuple[TestClient, TestClient]:
    """The test's instance, and another on the same database with the same key (and its own memory)."""
    key = client.app.state.settings.paseto_key  # type: ignore[attr-defined]
    return client, make_client(paseto_key=key)


def me(client: TestClient, tokens: dict[str, str]) -> dict[str, object]:
    answer: dict[str, object] = client.get("/users/me", headers=bearer(tokens["access_token"])).json()
    return answer


def test_a_deactivation_is_seen_at_once_here_and_within_the_bound_elsewhere(two_instances: tuple[TestClient, TestClient]) -> None:
    here, there = two_instances
    with Session(here.app.state.engine) as session:  # type: ignore[attr-defined]
        root = users_service.create_user(session, here.app.state.settings, "root", PASSWORD)  # type: ignore[attr-defined]
        users_service.set_admin(session, root, True)
    admin, alice = login(here, "root"), login(here)
    assert me(here, alice)["username"] == "alice" and me(there, alice)["username"] == "alice"  # both remember her
    assert here.post("/admin/users/alice/deactivate", headers=bearer(admin["access_token"])).status_code == 200
    assert here.get("/users/me", headers=bearer(alice["access_token"])).status_code == 401  # at once, here
    took = seen_within_bound(lambda: there.get("/users/me", headers=bearer(alice["access_token"])).status_code == 401, "the deactivation")
    print(f"\na deactivation reached the other instance's /users/me in {took * 1000:.0f} ms")
    assert here.post("/admin/users/alice/activate", headers=bearer(admin["access_token"])).status_code == 200
    alice = login(here)  # her sessions ended with the deactivation
    seen_within_bound(lambda: there.get("/users/me", headers=bearer(alice["access_token"])).status_code == 200, "the activation")


def test_an_address_change_reaches_the_verified_only_routes_elsewhere(two_instances: tuple[TestClient, TestClient]) -> None:
    here, there = two_instances
    tokens = login(here)
    assert there.get("/verified-only", headers=bearer(tokens["access_token"])).json()["code"] == "email_unverified"
    here.post("/email/verify/resend", headers=bearer(tokens["access_token"]))
    link = here.app.state.mailer.outbox[-1].text  # type: ignore[attr-defined]
    token = link.split("token=", 1)[1].split()[0]
    assert here.post("/email/verify", json={"token": token}).status_code == 204
    assert me(here, tokens)["email_verified"] is True  # at once, here
    seen_within_bound(lambda: there.get("/verified-only", headers=bearer(tokens["access_token"])).status_code == 200, "the verification")


def test_a_role_change_by_another_process_is_seen_within_the_bound(two_instances: tuple[TestClient, TestClient]) -> None:
    here, there = two_instances
    tokens = login(here)
    assert there.get("/admin/users", headers=bearer(tokens["access_token"])).json()["code"] == "admin_required"
    with Session(here.app.state.engine) as session:  # type: ignore[attr-defined] # as `set-admin alice` does
        alice = users_service.get_by_username(session, "alice")
        assert alice is not None
        users_service.set_admin(session, alice, True)
    for instance in (here, there):
        seen_within_bound(functools.partial(is_admin, instance, tokens), "the promotion")


def is_admin(client: TestClient, tokens: dict[str, str]) -> bool:
    return client.get("/admin/users", headers=bearer(tokens["access_token"])).status_code == 200


def test_a_change_through_the_users_service_is_seen_at_once(client: TestClient, tokens: dict[str, str]) -> None:
    assert me(client, tokens)["email"] == "alice@example.com"  # remembered now
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined] # as any account change is made
        alice = users_service.get_by_username(session, "alice")
        assert alice is not None
        assert users_service.change_account(session, alice, email="alice@changed.example")
    assert me(client, tokens)["email"] == "alice@changed.example"


def test_a_snapshot_holds_every_column_but_the_secrets() -> None:
    # A column added to User goes into UserSnapshot too (same name), unless it is a secret.
    assert set(User.model_fields) - SECRET_COLUMNS == {field.name for field in fields(UserSnapshot)}


def snapshot(name: str) -> UserSnapshot:
    return UserSnapshot.of(User(id=1, username=name, hashed_password="not read"))


def test_the_cache_is_bounded() -> None:
    cache = UserSnapshots(capacity=4, lifetime_seconds=60)
    for n in range(50):
        cache.put(snapshot(f"user{n}"), cache.generation(f"user{n}"), time.monotonic())
        assert cache.size <= 4
    assert cache.get("user49") is not None and cache.get("user0") is None


def test_a_read_that_raced_a_change_is_not_kept() -> None:
    cache = UserSnapshots(capacity=4, lifetime_seconds=60)
    generation = cache.generation("alice")  # a read starts ...
    cache.drop("alice")  # ... the account changes meanwhile ...
    cache.put(snapshot("alice"), generation, time.monotonic())  # ... and what the read found is already old
    assert cache.get("alice") is None


def test_a_snapshot_lives_no_longer_than_its_lifetime(clock: Clock) -> None:
    clock.freeze_monotonic_in(snapshots_module)
    cache = UserSnapshots(capacity=4, lifetime_seconds=5)
    cache.put(snapshot("alice"), cache.generation("alice"), clock.monotonic())
    clock.move(seconds=4)
    assert cache.get("alice") is not None
    clock.move(seconds=2)
    assert cache.get("alice") is None


def test_the_feed_drops_a_snapshot_read_before_a_change_and_keeps_one_read_after() -> None:
    """The feed reports every account changed in its last 30 s, each second: a snapshot that shows the
    change stays (else a just-changed busy account would go to the database every second)."""
    cache, alice = UserSnapshots(capacity=4, lifetime_seconds=60), snapshot("alice")
    cache.put(alice, cache.generation("alice"), time.monotonic())
    cache.drop_outdated([("alice", alice.updated_at)])
    assert cache.get("alice") == alice
    cache.drop_outdated([("alice", alice.updated_at + timedelta(microseconds=1))])
    assert cache.get("alice") is None
    generation = cache.generation("bob")  # a read of bob in flight when the feed reports a change of his ...
    cache.drop_outdated([("bob", alice.updated_at)])
    cache.put(snapshot("bob"), generation, time.monotonic())  # ... is not kept: it may predate the change
    assert cache.get("bob") is None


class SlowLoad:
    """A database read that takes as long as the test wants: it returns once `finish` is called."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls, self.error, self._finish = 0, error, threading.Event()

    def __call__(self, name: str) -> UserSnapshot:
        self.calls += 1
        assert self._finish.wait(BOUND), "the test never finished the read"
        if self.error:
            raise self.error
        return snapshot(name)

    def finish(self) -> None:
        self._finish.set()


def run_in_own_thread(main: Callable[[], Awaitable[None]]) -> None:
    """anyio.run in a thread of its own: the browser tests' Playwright keeps an event loop in the main thread."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            anyio.run(main)
        except BaseException as error:  # handed to the test's thread
            failures.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(120)
    assert not thread.is_alive(), "the reads did not finish within 120 s"
    if failures:
        raise failures[0]


def test_the_requests_that_miss_an_account_together_share_one_read() -> None:
    """An expired snapshot of a busy account: every request in flight misses it at once, and one read serves them."""
    cache, load, found = UserSnapshots(capacity=4, lifetime_seconds=60), SlowLoad(), []

    async def request() -> None:
        found.append(await cache.read("alice", load))

    async def main() -> None:
        async with anyio.create_task_group() as requests:
            for _ in range(32):
                requests.start_soon(request)
            await anyio.wait_all_tasks_blocked()  # all 32 wait: one on the read, 31 on it
            load.finish()

    run_in_own_thread(main)
    assert load.calls == 1 and len(found) == 32 and all(each == found[0] and each is not None for each in found)
    assert cache.get("alice") == found[0]  # and it is kept


def test_a_request_that_missed_after_a_change_does_not_share_a_read_from_before() -> None:
    cache, before, after = UserSnapshots(capacity=4, lifetime_seconds=60), SlowLoad(), SlowLoad()

    async def main() -> None:
        async with anyio.create_task_group() as requests:
            requests.start_soon(cache.read, "alice", before)
            await anyio.wait_all_tasks_blocked()
            cache.drop("alice")  # the account changed while the first read was in flight
            requests.start_soon(cache.read, "alice", after)
            await anyio.wait_all_tasks_blocked()
            before.finish()
            after.finish()

    run_in_own_thread(main)
    assert before.calls == 1 and after.calls == 1


def test_a_failed_read_fails_every_request_that_waited_for_it() -> None:
    cache, load, failures = UserSnapshots(capacity=4, lifetime_seconds=60), SlowLoad(error=ConnectionError("down")), []

    async def request() -> None:
        try:
            await cache.read("alice", load)
        except ConnectionError as error:
            failures.append(error)

    async def main() -> None:
        async with anyio.create_task_group() as requests:
            for _ in range(8):
                requests.start_soon(request)
            await anyio.wait_all_tasks_blocked()
            load.finish()

    run_in_own_thread(main)
    assert load.calls == 1 and len(failures) == 8 and cache.get("alice") is None
