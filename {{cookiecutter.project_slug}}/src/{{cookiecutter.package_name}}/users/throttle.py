"""Limits on guessing, counted in the database so that every worker and instance shares them.

A password is checked only while every limit that applies has attempts left:

- `pair:` one client address guessing one account: a few free attempts, then each attempt must wait,
  twice as long after every failure (1 s, 2 s, 4 s ... up to the cap). It holds back only that
  address, so failing on purpose from elsewhere cannot lock the real owner out.
- `address:` one client address guessing many accounts (credential stuffing): the same, looser.
- `account:` one account guessed from many addresses: past a loose ceiling, attempts on the account
  go through at most one per second. That slows a botnet down (OWASP ASVS 5.0 section 6.3, NIST SP
  800-63B section 5.2.2); the owner is not queued behind it, because:
- `device:` a client that logged in before holds a device token (OWASP's device cookies), and its
  attempts count against that device instead of the account: a botnet cannot slow the owner's own
  devices down. A device that keeps failing waits like any address (a stolen token buys little).

Addresses are counted the way attackers hold them: an IPv6 /64, one customer's, is one address.
The hashing itself is bounded too (users/passwords.py, HashingGate): past it, 429 at once.
- `register:` registrations from one client address: every attempt counts, success or not.
- `mail:` mails of one kind to one account: at most one per interval (`once_per`).

An attempt is *reserved* before the password is checked, by one statement per limit that refuses it
while the key is blocked, so concurrent guesses cannot slip past the count. A failed check keeps its
reservation as a failure; a successful one gives it back and lifts the wait it set: a successful
login never leaves a lock behind.
"""

import ipaddress
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from ..config import Settings
from ..database import as_utc, utcnow
from ..logs import security_event
from .exceptions import TooManyAttemptsError
from .models import LoginThrottle

_UPSERTS: dict[str, Callable[..., Any]] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
_THROTTLE = LoginThrottle.__table__.c  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Limit:
    key: str
    free_attempts: int
    max_wait_seconds: int
    reset_on_success: bool = False  # a success forgives earlier failures too, not only its own attempt


@dataclass
class Reservation:
    limits: list[Limit]
    waits_set: dict[str, datetime] = field(default_factory=dict)  # key -> the wait this attempt set


def address_group(address: str) -> str:
    """How attackers are counted: an IPv6 address by its /64 (what one customer is given), others as they are."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip.ipv4_mapped or ip) if isinstance(ip, ipaddress.IPv6Address) else str(ip)


def login_limits(settings: Settings, account: str, address: str, device: str | None = None) -> list[Limit]:
    """The limits of one login attempt; `device` is the id of a valid device token of this account, if one came."""
    cap, group = settings.login_max_lockout_seconds, address_group(address)
    return [
        Limit(f"pair:{account}|{group}", settings.login_free_failures, cap, reset_on_success=True),
        Limit(f"address:{group}", settings.login_address_free_failures, cap),
        Limit(f"device:{device}", settings.login_device_free_failures, cap, reset_on_success=True)
        if device
        else Limit(f"account:{account}", settings.login_account_free_failures, 1),
    ]


def registration_limits(settings: Settings, address: str) -> list[Limit]:
    return [Limit(f"register:{address_group(address)}", settings.registration_free_attempts, settings.login_max_lockout_seconds)]


def _count(session: Session, key: str, now: datetime, window_start: datetime) -> int | None:
    """Count one attempt for the key; None if the key is blocked (nothing counted)."""
    new_window = _THROTTLE.window_started_at < window_start
    insert = _UPSERTS[session.get_bind().dialect.name](LoginThrottle).values(key=key, failures=1, window_started_at=now)
    upsert = insert.on_conflict_do_update(
        index_elements=[_THROTTLE.key],
        set_={
            "failures": case((new_window, 1), else_=_THROTTLE.failures + 1),
            "window_started_at": case((new_window, now), else_=_THROTTLE.window_started_at),
        },
        where=or_(_THROTTLE.blocked_until.is_(None), _THROTTLE.blocked_until <= now),
    ).returning(_THROTTLE.failures)
    # The row stays locked (PostgreSQL) or the database (SQLite) until commit: the count is exact.
    failures: int | None = session.exec(upsert).scalar_one_or_none()
    return failures


def _retry_after(session: Session, keys: list[str], now: datetime) -> int:
    query = select(func.max(_THROTTLE.blocked_until)).where(_THROTTLE.key.in_(keys))
    until = session.exec(query).scalar_one_or_none()  # type: ignore[call-overload]
    return max(1, math.ceil((as_utc(until) - now).total_seconds())) if until else 1


def reserve(session: Session, limits: list[Limit], window_seconds: int) -> Reservation:
    """Count an attempt against every limit, or raise 429 (with Retry-After) if one is blocked.

    Leaves the transaction open for the caller to commit (with its own reads) before the slow check.
    """
    now = utcnow()
    reservation = Reservation(limits)
    for limit in limits:
        failures = _count(session, limit.key, now, now - timedelta(seconds=window_seconds))
        if failures is None:
            session.rollback()
            retry_after = _retry_after(session, [limit.key for limit in limits], now)
            security_event("throttled", warning=True, limit=limit.key, retry_after=retry_after)
            raise TooManyAttemptsError(retry_after)
        if failures >= limit.free_attempts:
            # Set now, before the check, so that concurrent attempts wait; a success lifts it again.
            exponent = min(failures - limit.free_attempts, 20)
            until = now + timedelta(seconds=min(2**exponent, limit.max_wait_seconds))
            session.exec(update(LoginThrottle).where(col(LoginThrottle.key) == limit.key).values(blocked_until=until))
            reservation.waits_set[limit.key] = until
    return reservation


def release(session: Session, reservation: Reservation) -> None:
    """After a successful check: give the attempt back and lift the wait it set. Not committed here."""
    for limit in reservation.limits:
        row = col(LoginThrottle.key) == limit.key
        if limit.reset_on_success:
            session.exec(delete(LoginThrottle).where(row))
            continue
        own_wait = reservation.waits_set.get(limit.key)
        lifted = case((col(LoginThrottle.blocked_until) == own_wait, None), else_=col(LoginThrottle.blocked_until))
        session.exec(
            update(LoginThrottle)
            .where(row)
            .values(failures=case((col(LoginThrottle.failures) > 0, col(LoginThrottle.failures) - 1), else_=0), blocked_until=lifted)
        )


def once_per(session: Session, key: str, seconds: int) -> int | None:
    """Let something happen at most once per `seconds` for this key: None if it may now (and the key
    waits from now on), else the seconds left to wait. Not committed."""
    now = utcnow()
    return None if claim(session, key, seconds) else _retry_after(session, [key], now)


def claim(session: Session, key: str, seconds: int) -> bool:
    """`once_per` in one statement, whatever the answer: whether it may happen now. Not committed."""
    now = utcnow()
    until = now + timedelta(seconds=seconds)
    insert = _UPSERTS[session.get_bind().dialect.name](LoginThrottle).values(
        key=key, failures=1, window_started_at=now, blocked_until=until
    )
    upsert = insert.on_conflict_do_update(
        index_elements=[_THROTTLE.key],
        set_={"blocked_until": until, "window_started_at": now},
        where=or_(_THROTTLE.blocked_until.is_(None), _THROTTLE.blocked_until <= now),
    ).returning(_THROTTLE.key)
    return session.exec(upsert).scalar_one_or_none() is not None


def forget_account(session: Session, account: str) -> None:
    """Lift every guessing limit on an account (its owner has just proved who they are). Not committed."""
    session.exec(
        delete(LoginThrottle).where(
            or_(col(LoginThrottle.key) == f"account:{account}", col(LoginThrottle.key).startswith(f"pair:{account}|", autoescape=True))
        )
    )


def purge_expired(session: Session, window_seconds: int) -> int:
    """Delete counts whose window has passed and that block nothing: they count as no row. Returns how many.

    Every address that guesses leaves a row per account it tries, so without this the table only grows.
    """
    now = utcnow()
    expired = delete(LoginThrottle).where(
        col(LoginThrottle.window_started_at) < now - timedelta(seconds=window_seconds),
        or_(col(LoginThrottle.blocked_until).is_(None), col(LoginThrottle.blocked_until) <= now),
    )
    purged: int = session.exec(expired).rowcount
    session.commit()
    return purged
