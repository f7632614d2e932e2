"""Recording security events, reading them back, and forgetting them after SECURITY_EVENT_DAYS.

`record` is the one call: it adds the event's row in the caller's transaction (so a change that rolls
back leaves no event behind) and writes its log line (logs.py) once that transaction commits. The row
is one INSERT ... SELECT that finds the account by name in the same statement: no read first, and an
event of a name no account has stores nothing (anyone can invent names; the log line still tells).

Refusals (events.MERGED) are merged: one row per account, kind, client address group (an IPv6 /64 is
one address, as the guessing limits count them) and clock hour, whose count grows. The insert and the
merge are one statement (`INSERT ... ON CONFLICT DO UPDATE` on the row's merge key), so concurrent
refusals on any worker add up exactly, on SQLite and PostgreSQL. The hour is the guessing limits'
window (LOGIN_FAILURE_WINDOW_SECONDS' default): a flood from one address is at most 24 rows a day,
and the owner still sees when it happened.
"""

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, func, literal, true
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from ..database import utcnow
from ..logs import security_event
from ..users.models import User
from ..users.throttle import address_group
from .events import MERGED, EventType
from .models import SecurityEvent

SELF, ANONYMOUS, SYSTEM = "self", "anonymous", "system"
_UPSERTS: dict[str, Callable[..., Any]] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
_COLUMNS = SecurityEvent.__table__.c  # type: ignore[attr-defined]
_PENDING_LINES = "security_event_lines"  # Session.info: log lines waiting for their transaction's commit


def admin(name: str) -> str:
    """The actor of an administrator's change."""
    return f"admin:{name}"


@dataclass(frozen=True)
class Event:
    """An event to record: for a caller that hands the recording to a function which commits (auth's
    `revoke_user_sessions` adds how many sessions it ended)."""

    type: EventType
    username: str
    client: str | None
    actor: str = SELF
    user_agent: str | None = None
    warning: bool = False
    fields: Mapping[str, object] = field(default_factory=dict)


def record(
    session: Session,
    type: EventType,  # noqa: A002 - the event's kind, as the API names it
    username: str,
    client: str | None,
    *,
    actor: str = SELF,
    user_agent: str | None = None,
    warning: bool = False,
    **fields: object,
) -> None:
    """Store an event of the account `username` in the session's transaction, and log it when that commits. Not committed.

    `fields` go into the log line and, but for the session id (`family`), into the row's `detail`.
    """
    write(session, Event(type, username, client, actor, user_agent, warning, fields))


def write(session: Session, event: Event, **more: object) -> None:
    """`record` for an Event, with `more` fields."""
    now, fields = utcnow(), {**event.fields, **more}
    row = {
        "type": literal(str(event.type)),
        "first_at": literal(now, _COLUMNS.first_at.type),
        "last_at": literal(now, _COLUMNS.last_at.type),
        "count": literal(1),
        "client_address": literal((event.client or "")[:64]),
        "user_agent": literal(_printable(event.user_agent or "")[:200]),
        "actor": literal(event.actor[:80]),
        "detail": literal(_detail(fields)),
        "merge_key": literal(_merge_key(event.type, event.client, now), _COLUMNS.merge_key.type),
    }
    account = select(col(User.id), *(value.label(name) for name, value in row.items())).where(col(User.username) == event.username)
    statement = _UPSERTS[session.get_bind().dialect.name](SecurityEvent).from_select(["user_id", *row], account)
    if event.type in MERGED:
        excluded = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=[_COLUMNS.user_id, _COLUMNS.merge_key],
            set_={
                "count": _COLUMNS["count"] + 1,
                "last_at": excluded.last_at,
                "client_address": excluded.client_address,
                "user_agent": excluded.user_agent,
            },
        )
    session.exec(statement)
    _log_at_commit(session, event, fields)


def _merge_key(type: EventType, client: str | None, now: datetime) -> str | None:  # noqa: A002
    if type not in MERGED:
        return None
    return f"{type}|{address_group(client or '')}|{now:%Y-%m-%dT%H}"[:120]


def _detail(fields: Mapping[str, object]) -> str:
    text = " ".join(f"{name}={value}" for name, value in fields.items() if value is not None and name != "family")
    return _printable(text)[:200]


def _printable(text: str) -> str:
    return "".join(character for character in text if character.isprintable())


# -- the log line, at commit ------------------------------------------------------------------------


def _log_at_commit(session: Session, event: Event, fields: Mapping[str, object]) -> None:
    """The event's log line is written when its transaction commits, and never if it rolls back: the log
    and the table tell the same story."""
    pending: list[Event] | None = session.info.get(_PENDING_LINES)
    if pending is None:
        pending = session.info[_PENDING_LINES] = []
        sqlalchemy_event.listen(session, "after_commit", _write_lines)
        sqlalchemy_event.listen(session, "after_rollback", _drop_lines)
    pending.append(Event(event.type, event.username, event.client, event.actor, event.user_agent, event.warning, fields))


def _write_lines(session: Session) -> None:
    pending: list[Event] = session.info.get(_PENDING_LINES, [])
    while pending:
        item = pending.pop(0)
        by_admin = {"admin": item.actor.removeprefix("admin:")} if item.actor.startswith("admin:") else {}
        ordered = {**by_admin, "user": item.username, "family": item.fields.get("family"), "client": item.client, **item.fields}
        security_event(str(item.type), warning=item.warning, **ordered)


def _drop_lines(session: Session) -> None:
    session.info.get(_PENDING_LINES, []).clear()


# -- reading ---------------------------------------------------------------------------------------------


def page(
    session: Session,
    offset: int,
    limit: int,
    *,
    user_id: int | None = None,
    type: EventType | None = None,  # noqa: A002
) -> tuple[list[tuple[SecurityEvent, str]], int]:
    """Events newest first (by their last time), with their account's name; and how many match in all."""
    conditions: list[ColumnElement[bool]] = [true()]
    if user_id is not None:
        conditions.append(col(SecurityEvent.user_id) == user_id)
    if type is not None:
        conditions.append(col(SecurityEvent.type) == str(type))
    total: int = session.exec(select(func.count()).select_from(SecurityEvent).where(*conditions)).one()
    query = (
        select(SecurityEvent, User.username)
        .join(User, col(User.id) == col(SecurityEvent.user_id))
        .where(*conditions)
        .order_by(col(SecurityEvent.last_at).desc(), col(SecurityEvent.id).desc())
        .offset(offset)
        .limit(limit)
    )
    return [(row, name) for row, name in session.exec(query)], total


def recent(session: Session, user_id: int, limit: int = 10) -> list[SecurityEvent]:
    """The account's latest events, for its dashboard."""
    return [row for row, _ in page(session, 0, limit, user_id=user_id)[0]]


def purge_expired(session: Session, days: float) -> int:
    """Delete events whose last time is more than `days` ago; returns how many."""
    result = session.exec(delete(SecurityEvent).where(col(SecurityEvent.last_at) < utcnow() - timedelta(days=days)))
    session.commit()
    purged: int = result.rowcount
    return purged


# -- what a notice may say of an address ----------------------------------------------------------------


def approximate_address(address: str | None) -> str | None:
    """An address as a notice names it: its network (an IPv4 /24, an IPv6 /64), enough to recognise one's
    own provider, not to point at one machine; None for what is no IP address."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 64
    return str(ipaddress.ip_network((ip, prefix), strict=False))
