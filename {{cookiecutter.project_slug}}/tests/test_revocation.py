"""The in-memory set of revoked sessions: read incrementally, bounded in memory, failing closed when stale."""

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from {{ cookiecutter.package_name }}.auth import revocation
from {{ cookiecutter.package_name }}.auth.models import TokenFamily
from {{ cookiecutter.package_name }}.auth.revocation import OVERLAP, RevokedFamilies
from {{ cookiecutter.package_name }}.database import DatabaseUnavailable, make_engine, utcnow
from {{ cookiecutter.package_name }}.users import service as users_service

from .conftest import PASSWORD, Clock, bearer, create_tables, make_settings


def add_families(engine: Engine, count: int, revoked_ago: timedelta | None, prefix: str, now: datetime | None = None) -> list[str]:
    ids = [f"{prefix}{n:08d}" for n in range(count)]
    now = now or utcnow()
    with Session(engine) as session:
        for family_id in ids:
            revoked_at = now - revoked_ago if revoked_ago is not None else None
            session.add(
                TokenFamily(id=family_id, user_id=1, current_token_hash="0" * 64, expires_at=now, ends_at=now, revoked_at=revoked_at)
            )
        session.commit()
    return ids


@pytest.fixture
def engine(database_url: str) -> Engine:
    """A migrated database with one user (id 1), the owner of the families the tests add."""
    create_tables(database_url)
    settings = make_settings(database_url)
    engine = make_engine(settings)
    with Session(engine) as session:
        users_service.create_user(session, settings, "owner", PASSWORD)
    return engine


def revoked_families(
    engine: Engine, access_minutes: float = 15, max_staleness: float = 60, overlap: timedelta = OVERLAP
) -> RevokedFamilies:
    lifetime = timedelta(minutes=access_minutes)
    return RevokedFamilies(engine, access_token_lifetime=lifetime, sync_seconds=1, max_staleness_seconds=max_staleness, overlap=overlap)


def test_only_revocations_of_the_last_access_lifetime_are_read_and_kept(engine: Engine) -> None:
    old = add_families(engine, 50, revoked_ago=timedelta(days=3), prefix="old")
    recent = add_families(engine, 5, revoked_ago=timedelta(minutes=1), prefix="new")
    live = add_families(engine, 5, revoked_ago=None, prefix="live")
    revoked = revoked_families(engine, access_minutes=15)
    revoked.sync()
    assert revoked.size == 5
    assert all(revoked.is_revoked(family) for family in recent)
    assert not any(revoked.is_revoked(family) for family in old + live)


def test_each_read_after_the_first_reads_only_newer_revocations(engine: Engine) -> None:
    add_families(engine, 200, revoked_ago=OVERLAP * 2, prefix="before")
    revoked = revoked_families(engine)
    revoked.sync()
    assert revoked.size == 200
    newer = add_families(engine, 3, revoked_ago=timedelta(seconds=0), prefix="after")
    assert revoked.sync() == 3  # rows read: not the 200 it already knows
    assert all(revoked.is_revoked(family) for family in newer)


def test_families_leave_memory_once_their_access_tokens_have_expired(engine: Engine, clock: Clock) -> None:
    add_families(engine, 10, revoked_ago=timedelta(seconds=0), prefix="fam", now=clock.now())
    revoked = revoked_families(engine, access_minutes=1, overlap=timedelta(0))  # access tokens live a minute
    revoked.sync()
    assert revoked.size == 10
    clock.move(seconds=59)
    revoked.sync()
    assert revoked.size == 10  # their access tokens may still be alive
    clock.move(seconds=2)
    revoked.sync()
    assert revoked.size == 0


def test_checks_fail_closed_when_the_set_is_too_old(engine: Engine, clock: Clock) -> None:
    clock.freeze_monotonic_in(revocation)  # the set's age is timed on time.monotonic()
    revoked = revoked_families(engine, max_staleness=60)
    with pytest.raises(DatabaseUnavailable):
        revoked.is_revoked("any")  # never read: nothing is known
    revoked.sync()
    assert not revoked.is_revoked("any")
    clock.move(seconds=59)
    assert not revoked.is_revoked("any")  # not yet too old
    clock.move(seconds=2)
    with pytest.raises(DatabaseUnavailable):
        revoked.is_revoked("any")


def test_token_routes_answer_503_when_revocations_cannot_be_read(
    make_client: Callable[..., TestClient], user: dict[str, str], clock: Clock
) -> None:
    clock.freeze_monotonic_in(revocation)  # before the app starts: its first read is timed on the clock
    # After its first read, the background read waits an hour: the set only ages, as when the database is down.
    client = make_client(revocation_max_staleness_seconds=60, revocation_sync_seconds=3600)
    login = client.post("/login", json={"username": "alice", "password": "correct horse battery staple"}).json()
    assert client.get("/protected", headers=bearer(login["access_token"])).status_code == 200
    clock.move(seconds=61)
    refused = client.get("/protected", headers=bearer(login["access_token"]))
    assert (refused.status_code, refused.json()["code"], refused.headers["Retry-After"]) == (503, "database_unavailable", "5")
    assert client.get("/health").status_code == 200
