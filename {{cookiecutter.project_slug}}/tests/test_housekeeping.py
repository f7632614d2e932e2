"""Housekeeping: rows that decide nothing any more (ended sessions, old guessing counts) are deleted."""

import time
from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from {{ cookiecutter.package_name }}.database import utcnow
from {{ cookiecutter.package_name }}.housekeeping import purge
from {{ cookiecutter.package_name }}.users.models import LoginThrottle

from .conftest import make_settings

WINDOW = 3600  # login_failure_window_seconds


def add_counts(engine: Engine) -> None:
    now = utcnow()
    with Session(engine) as session:
        session.add(LoginThrottle(key="old", failures=3, window_started_at=now - timedelta(seconds=WINDOW + 60)))
        session.add(
            LoginThrottle(
                key="old-but-blocked",
                failures=99,
                window_started_at=now - timedelta(seconds=WINDOW + 60),
                blocked_until=now + timedelta(minutes=5),
            )
        )
        session.add(LoginThrottle(key="current", failures=1, window_started_at=now - timedelta(seconds=60)))
        session.commit()


def keys(engine: Engine) -> set[str]:
    with Session(engine) as session:
        return set(session.exec(select(LoginThrottle.key)))


def test_purge_deletes_guessing_counts_past_their_window_that_block_nothing(
    make_client: Callable[..., TestClient], database_url: str
) -> None:
    engine = make_client().app.state.engine  # type: ignore[attr-defined]
    add_counts(engine)
    assert purge(engine, make_settings(database_url, login_failure_window_seconds=WINDOW)).guessing_counts == 1
    assert keys(engine) == {"old-but-blocked", "current"}


def test_the_app_purges_when_it_starts(make_client: Callable[..., TestClient]) -> None:
    first = make_client(login_failure_window_seconds=WINDOW)
    engine = first.app.state.engine  # type: ignore[attr-defined]
    add_counts(engine)
    make_client(login_failure_window_seconds=WINDOW)  # another instance starts: it tidies up in the background
    deadline = time.monotonic() + 60
    while "old" in keys(engine):
        assert time.monotonic() < deadline, "the old count was not purged"
        time.sleep(0.05)
    assert keys(engine) == {"old-but-blocked", "current"}
    with Session(engine) as session:
        assert session.exec(select(LoginThrottle).where(col(LoginThrottle.key) == "current")).one().failures == 1
