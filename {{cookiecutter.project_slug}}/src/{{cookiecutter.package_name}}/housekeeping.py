"""Housekeeping: deleting what no longer counts, at start-up and then every hour (and by `purge` in the CLI).

Rows of ended sessions and of guessing counts whose window has passed decide nothing any more; left
alone, every login and every guessed name would grow the tables for ever. Security events are kept
SECURITY_EVENT_DAYS after their last time, then go too.
"""

import contextlib
from dataclasses import dataclass
from datetime import timedelta

import anyio
from anyio.abc import TaskStatus
from sqlalchemy import Engine
from sqlmodel import Session

from .activity import service as activity_service
from .auth import service as auth_service
from .config import Settings
from .database import UNAVAILABLE_ERRORS
from .users import throttle

INTERVAL_SECONDS = 3600


@dataclass(frozen=True)
class Purged:
    sessions: int
    guessing_counts: int
    security_events: int = 0


def purge(engine: Engine, settings: Settings) -> Purged:
    """Delete sessions whose every token has expired, guessing counts past their window, and security events
    older than SECURITY_EVENT_DAYS. Blocking."""
    with Session(engine) as session:
        sessions = auth_service.purge_expired(session, timedelta(minutes=settings.access_token_minutes))
        counts = throttle.purge_expired(session, settings.login_failure_window_seconds)
        events = activity_service.purge_expired(session, settings.security_event_days)
    return Purged(sessions, counts, events)


async def keep_tidy(engine: Engine, settings: Settings, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
    """Purge now (before the app serves), then every hour, off the event loop, until cancelled.

    A round that meets a database outage is skipped: the revocation reader reports outages.
    """
    while True:
        with contextlib.suppress(*UNAVAILABLE_ERRORS):
            await anyio.to_thread.run_sync(purge, engine, settings)
        task_status.started()
        task_status = anyio.TASK_STATUS_IGNORED
        await anyio.sleep(INTERVAL_SECONDS)
