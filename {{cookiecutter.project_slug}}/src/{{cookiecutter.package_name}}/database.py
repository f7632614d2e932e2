"""The database engine, the per-request session, and what a database fault looks like.

SQLite by default, PostgreSQL by URL. The schema comes from Alembic (`migrations/`), never from here.
Every wait on the database is bounded (connect, pool checkout, SQLite's lock wait), so a database
that is down or stuck costs a request a few seconds and a 503, never a hang.
"""

import contextlib
import importlib
import logging
import os
import re
import socket
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import anyio
from fastapi import Depends, Request
from sqlalchemy import Engine, MetaData, event, exc, func
from sqlalchemy.engine import make_url
from sqlmodel import Session, SQLModel, create_engine, select

from .config import ENV_PREFIX, DatabaseSettings
from .errors import refuses
from .sqlite import sqlite_engine

logger = logging.getLogger(__name__)

_SECRET_PARAMETER = re.compile(r"password|secret|token", re.IGNORECASE)
# What one worker can have in flight: the threads of AnyIO's default limiter, which FastAPI runs sync
# routes and dependencies in (40). The pool's default size, so no request waits for a connection.
THREAD_LIMIT = 40
# Raised by the driver or the pool when the database cannot answer now (as opposed to a bug).
UNAVAILABLE_ERRORS = (exc.OperationalError, exc.InterfaceError, exc.TimeoutError)
# The largest value an Integer column holds on PostgreSQL (SQLite holds more): the bound of ids and offsets
# taken from a request, so a larger one is refused as input rather than met by the database.
MAX_INTEGER = 2**31 - 1


class DatabaseUnavailable(Exception):
    """The database cannot be reached, or data read from it is too old to trust. Answered with 503."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """SQLite hands datetimes back without a time zone; every time stored here is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# PostgreSQL's channel for changes every instance must hear of at once (auth/listener.py listens):
# "family:<ids>" revoked sessions, "account:<names>" changed accounts. Delivered at commit, or never.
CHANGES_CHANNEL = "app_changes"
_NOTIFY_BATCH = 100  # keys per notification: PostgreSQL caps a payload at 8000 bytes


def notify(session: Session, kind: str, keys: list[str]) -> None:
    """On PostgreSQL, tell every instance of these changes when the session's transaction commits."""
    if session.get_bind().dialect.name != "postgresql":
        return  # elsewhere the periodic read (auth/revocation.py) carries them
    for start in range(0, len(keys), _NOTIFY_BATCH):
        session.exec(select(func.pg_notify(CHANGES_CHANNEL, f"{kind}:{','.join(keys[start : start + _NOTIFY_BATCH])}")))


def table_metadata() -> MetaData:
    """Every table of the app: each module named `models` in the package is imported (found, not listed),
    so a new domain's tables reach Alembic's autogenerate, the drift test and the tests' `create_all`."""
    package = __package__ or __name__
    root = Path(__file__).parent
    for path in sorted(root.rglob("models.py")):
        importlib.import_module(".".join([package, *path.relative_to(root).with_suffix("").parts]))
    return SQLModel.metadata


def safe_url(url: str) -> str:
    """The URL without its password, fit for logs and terminals: in the user part or in the query (libpq's
    `?password=`, `?sslpassword=`)."""
    parsed = make_url(url)
    hidden = {name: "xxxxx" for name in parsed.query if _SECRET_PARAMETER.search(name)}
    return parsed.update_query_dict(hidden).render_as_string(hide_password=True)


def describe_failure(url: str, error: BaseException) -> str:
    """One line naming the setting and the cause, instead of a driver's traceback."""
    cause = str(getattr(error, "orig", None) or error).strip()
    first_line = cause.splitlines()[0] if cause else type(error).__name__
    return f"cannot use the database {ENV_PREFIX}DATABASE_URL={safe_url(url)}: {first_line}"


def make_engine(settings: DatabaseSettings) -> Engine:
    url, timeout = settings.database_url, settings.database_connect_timeout
    sqlite = url.startswith("sqlite")
    options: dict[str, Any] = {"hide_parameters": True}  # errors and logs never show values (hashes, names)
    if not (sqlite and make_url(url).database in (None, "", ":memory:")):  # in-memory SQLite has no pool to size
        pool_size = settings.database_pool_size or THREAD_LIMIT
        options |= {"pool_size": pool_size, "max_overflow": 0, "pool_timeout": settings.database_pool_timeout}
    if not sqlite:
        connect = {
            "connect_timeout": timeout,
            "options": f"-c statement_timeout={int(settings.database_query_timeout * 1000)}",
            # A server that stops acknowledging (host down, network cut) fails in-flight queries too.
            "tcp_user_timeout": timeout * 1000,
            "keepalives_idle": timeout,
            "keepalives_interval": 1,
            "keepalives_count": 3,
        }
        return create_engine(url, **options, connect_args=connect)
    return sqlite_engine(url, options, timeout)  # writers queue: sqlite.py


class HungQueryGuard:
    """Cuts off a connection that has waited on PostgreSQL for longer than the query timeout.

    A server that is down refuses connections at once. One that hangs (its processes stopped, its
    machine frozen) leaves the client's kernel acknowledging what is sent: nothing notices, the
    server's own statement_timeout cannot fire, and a query waits for ever. So every connection the
    pool lends out is timed, and once a second `watch` shuts down the socket of any lent for longer
    than the limit: the waiting query fails at once, the request answers 503, the pool replaces it.
    """

    def __init__(self, engine: Engine, timeout_seconds: float) -> None:
        self._timeout = timeout_seconds
        self._lent: dict[int, tuple[float, Any]] = {}  # pool record -> (lent at, psycopg connection)
        event.listen(engine, "checkout", self._lend)
        event.listen(engine, "checkin", self._return)

    def _lend(self, dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        self._lent[id(record)] = (time.monotonic(), dbapi_connection)

    def _return(self, _dbapi_connection: Any, record: Any) -> None:
        self._lent.pop(id(record), None)

    def cut_overdue(self) -> int:
        """Shut down the sockets of connections lent out for too long; returns how many."""
        now, cut = time.monotonic(), 0
        for key, (lent_at, connection) in list(self._lent.items()):
            if now - lent_at <= self._timeout:
                continue
            self._lent.pop(key, None)  # cut once; the pool drops the broken connection when it is returned
            with contextlib.suppress(OSError), socket.socket(fileno=os.dup(connection.pgconn.socket)) as sock:
                sock.shutdown(socket.SHUT_RDWR)
            cut += 1
        return cut

    async def watch(self) -> None:
        while True:
            await anyio.sleep(1)
            if cut := self.cut_overdue():
                logger.error("cut off %d database connection(s) that waited more than %.0f s for an answer", cut, self._timeout)


@refuses(503)
async def get_session(request: Request) -> AsyncIterator[Session]:
    """A session for the request. Routes that use it are sync (`def`), so its queries run in a worker thread.

    Made and closed on the event loop, saving two thread hops: closing costs no I/O unless a
    transaction is still open (the route failed half-way), and then it is rolled back in a thread.
    Objects stay loaded after a commit, so reading them later does not quietly open a new transaction.
    """
    session = Session(request.app.state.engine, expire_on_commit=False)
    try:
        yield session
    finally:
        if session.in_transaction():
            await anyio.to_thread.run_sync(session.close)
        else:
            session.close()


SessionDep = Annotated[Session, Depends(get_session)]


async def get_engine(request: Request) -> Engine:
    """The app's engine, for work that outlives the request's session (a background task opens its own)."""
    engine: Engine = request.app.state.engine
    return engine


EngineDep = Annotated[Engine, Depends(get_engine)]
