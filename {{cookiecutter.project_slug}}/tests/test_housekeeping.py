"""Housekeeping: rows that decide nothing any more (ended sessions, old guessing counts) are deleted."""

from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from {{ cookiecutter.package_name }}.database import make_engine, utcnow
from {{ cookiecutter.package_name }}.housekeeping import purge
from {{ cookiecutter.package_name }}.users.models import LoginThrottle

from .conftest import create_tables, make_settings

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


def test_purge_deletes_guessing_counts_past_their_window_that_block_nothing(database_url: str) -> None:
    create_tables(database_url)  # no app running: nothing else purges
    settings = make_settings(database_url, login_failure_window_seconds=WINDOW)
    engine = make_engine(settings)
    add_counts(engine)
    assert purge(engine, settings).guessing_counts == 1
    assert keys(engine) == {"old-but-blocked", "current"}
    engine.dispose()


def test_the_app_purges_when_it_starts(make_client: Callable[..., TestClient]) -> None:
    first = make_client(login_failure_window_seconds=WINDOW)
    engine = first.app.state.engine  # type: ignore[attr-defined]
    add_counts(engine)
    make_client(login_failure_window_seconds=WINDOW)  # another instance starts: it tidies up before it serves
    assert keys(engine) == {"old-but-blocked", "current"}
    with Session(engine) as session:
        assert session.exec(select(LoginThrottle).where(col(LoginThrottle.key) == "current")).one().failures == 1
