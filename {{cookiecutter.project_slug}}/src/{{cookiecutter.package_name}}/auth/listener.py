"""PostgreSQL pushes revocations (and account changes) to every instance at once: NOTIFY at the change, LISTEN here.

The periodic read of auth/revocation.py stays, as the safety net for what a push can miss: the listening
connection drops, the server restarts, a pooler in front loses notifications. After every (re)connect
the listener reads once more, so nothing revoked while it was away is missed for longer than that.
LISTEN needs a session of its own for as long as it listens: it uses a dedicated connection, to
REVOCATION_LISTEN_URL (default: the database's), never one of the pool.
"""

import logging
from typing import Any

import anyio
import psycopg
from sqlalchemy.engine import make_url

from ..config import ENV_PREFIX
from ..database import CHANGES_CHANNEL, safe_url
from .revocation import RevokedFamilies

logger = logging.getLogger(__name__)
MAX_BACKOFF_SECONDS = 30


def listener_for(revoked: RevokedFamilies, url: str, connect_timeout: int) -> "RevocationListener | None":
    """The listener for REVOCATION_LISTEN_URL's value (default: the database's), or None, saying why, when
    that is `off` or not PostgreSQL: only PostgreSQL pushes (a SQLite URL would fail to connect forever)."""
    if url == "off":
        logger.info("revocations are not pushed (%sREVOCATION_LISTEN_URL=off): the periodic read carries them", ENV_PREFIX)
        return None
    if make_url(url).get_backend_name() != "postgresql":
        logger.info(
            "revocations are not pushed: %s is not a PostgreSQL URL (set %sREVOCATION_LISTEN_URL to one); the periodic read carries them",
            safe_url(url),
            ENV_PREFIX,
        )
        return None
    return RevocationListener(revoked, url, connect_timeout)


class RevocationListener:
    def __init__(self, revoked: RevokedFamilies, url: str, connect_timeout: int) -> None:
        self._revoked = revoked
        self._url = url
        # psycopg speaks libpq's URLs: the same address without SQLAlchemy's driver name.
        self._conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._options: dict[str, Any] = {
            "connect_timeout": connect_timeout,
            "application_name": "paseto-revocations",
            # An idle listener notices a server or network that went away.
            "keepalives": 1,
            "keepalives_idle": connect_timeout,
            "keepalives_interval": 1,
            "keepalives_count": 3,
            "tcp_user_timeout": connect_timeout * 1000,
        }
        self.listening = False
        self.connections = 0  # how many times it has (re)connected

    async def run(self) -> None:
        """Listen until cancelled; on any failure wait (1 s, doubling to 30 s), reconnect and read again."""
        backoff, warned = 1, False
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True, **self._options) as connection:
                    await connection.execute(f"LISTEN {CHANGES_CHANNEL}")
                    self.listening, self.connections, backoff = True, self.connections + 1, 1
                    if warned:
                        logger.warning("revocations are pushed again (LISTEN %s)", safe_url(self._url))
                    warned = False
                    await self._revoked.read_now()  # what was revoked while nobody listened
                    async for notification in connection.notifies():
                        self.take(notification.payload)
            except (psycopg.Error, OSError) as error:
                if not warned:
                    logger.warning(
                        "cannot listen for revocations at %s (%s); the periodic read goes on", safe_url(self._url), _first_line(error)
                    )
                warned = True
            finally:
                self.listening = False
            await anyio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def take(self, payload: str) -> None:
        """`family:<ids>` revoked sessions, `account:<names>` changed accounts (database.notify)."""
        kind, _, keys = payload.partition(":")
        if kind == "family":
            self._revoked.add(*keys.split(","))
        elif kind == "account":
            self._revoked.accounts_changed(*keys.split(","))


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
