"""Login throttling: a few free attempts, then each attempt must wait, twice as long after every failure.

Counts live in the database (LoginThrottle), so the limit holds across workers and instances.
An attempt is counted *before* the password is checked, in one UPDATE that also refuses it while
the key is blocked: concurrent guesses cannot all slip past a check made before any was counted.
Keys: one per account (a successful login resets it) and one per client address (a success only
gives its own attempt back, so an attacker cannot unlock the address by logging into their own account).
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from ..database import utcnow
from .exceptions import TooManyAttemptsError
from .models import LoginThrottle


@dataclass(frozen=True)
class Limit:
    key: str
    free_attempts: int


def account_key(username: str) -> str:
    return f"user:{username.strip().casefold()}"


def address_key(address: str) -> str:
    return f"ip:{address}"


def _refuse_if_blocked(session: Session, keys: list[str], now: datetime) -> None:
    rows = session.exec(select(LoginThrottle).where(col(LoginThrottle.key).in_(keys)))
    waits = [(row.blocked_until - now).total_seconds() for row in rows if row.blocked_until and row.blocked_until > now]
    if waits:
        raise TooManyAttemptsError(retry_after=math.ceil(max(waits)))


def _count(session: Session, limit: Limit, now: datetime, window: timedelta, max_lockout_seconds: int) -> None:
    """Count one attempt for the key; block the key once its free attempts are used up."""
    row = LoginThrottle
    window_over = col(row.window_started_at) < now - window
    not_blocked = or_(col(row.blocked_until).is_(None), col(row.blocked_until) <= now)
    bump = (
        update(row)
        .where(col(row.key) == limit.key, not_blocked)
        .values(
            failures=case((window_over, 1), else_=col(row.failures) + 1),
            window_started_at=case((window_over, now), else_=col(row.window_started_at)),
        )
    )
    counted = session.exec(bump).rowcount == 1
    if not counted:  # no row yet, or blocked
        try:
            with session.begin_nested():
                session.add(LoginThrottle(key=limit.key, failures=1, window_started_at=now))
            counted = True
        except IntegrityError:  # the row exists: a concurrent attempt inserted it, or it is blocked
            counted = session.exec(bump).rowcount == 1
    if not counted:  # blocked by a concurrent attempt since the first look
        session.rollback()
        _refuse_if_blocked(session, [limit.key], now)
        raise TooManyAttemptsError(retry_after=1)
    # The UPDATE holds the row (PostgreSQL) or the database (SQLite) until commit: this count is exact.
    attempts = session.exec(select(row.failures).where(col(row.key) == limit.key)).one()
    if attempts >= limit.free_attempts:
        lockout = min(2 ** (attempts - limit.free_attempts), max_lockout_seconds)
        session.exec(update(row).where(col(row.key) == limit.key).values(blocked_until=now + timedelta(seconds=lockout)))
    session.commit()


def count_attempt(session: Session, limits: list[Limit], window_seconds: int, max_lockout_seconds: int) -> None:
    """Count a login attempt against every key, or raise 429 (with Retry-After) if one is blocked."""
    now = utcnow()
    _refuse_if_blocked(session, [limit.key for limit in limits], now)
    for limit in limits:
        _count(session, limit, now, timedelta(seconds=window_seconds), max_lockout_seconds)


def forgive(session: Session, account: str, address: str) -> None:
    """After a successful login: clear the account's count, give the address its attempt back."""
    session.exec(delete(LoginThrottle).where(col(LoginThrottle.key) == account))
    session.exec(
        update(LoginThrottle)
        .where(col(LoginThrottle.key) == address, col(LoginThrottle.failures) > 0)
        .values(failures=col(LoginThrottle.failures) - 1)
    )
    session.commit()
