"""Which sessions (token families) are revoked: known in memory, kept up to date in the background.

Checking a token must not cost a database round trip. Each instance keeps the ids of recently revoked
families in memory, and a task started with the app reads the revocations newer than its last read
about once a second: a logout on any instance is honoured everywhere within about a second, and at
once on the instance that did it (on PostgreSQL, at once on every instance too: auth/listener.py pushes
them, and this read is the safety net). A family is forgotten once every access token it issued has
expired, so memory and the cost of a read follow recent revocations, not the whole history.

If the database cannot be read for longer than `max_staleness_seconds`, logouts may be missing from
the set: token checks then fail closed (503 database_unavailable) rather than let a revoked token in.
"""

import logging
import math
import threading
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import anyio
from anyio.abc import TaskStatus
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from ..database import UNAVAILABLE_ERRORS, DatabaseUnavailable, as_utc, describe_failure, utcnow
from ..observability import metrics
from ..users.models import User
from ..users.snapshots import UserSnapshots
from .models import TokenFamily

logger = logging.getLogger(__name__)

# Each read looks this far behind the previous one: a revocation committed just after a read began
# carries an earlier time, and the clocks of several instances may disagree a little.
OVERLAP = timedelta(seconds=30)


class RevokedFamilies:
    def __init__(
        self,
        engine: Engine,
        *,
        access_token_lifetime: timedelta,
        sync_seconds: float,
        max_staleness_seconds: float,
        overlap: timedelta = OVERLAP,
        accounts: UserSnapshots | None = None,
    ) -> None:
        self._engine = engine
        # The same feed tells the user snapshots of changed accounts (users/snapshots.py).
        self.accounts = accounts
        self._overlap = overlap
        self._sync_seconds = sync_seconds
        self._max_staleness = max_staleness_seconds
        # After this long, every access token of a revoked family has expired (refresh tokens are
        # checked against the database when spent, so they need no memory here).
        self._remember_for = access_token_lifetime + overlap
        self._forget_at: dict[str, datetime] = {}
        self._read_until: datetime | None = None
        self._synced_at = -math.inf  # monotonic time of the last successful read
        self._lock = threading.Lock()  # writers only: the background read and add()
        self._failing = False

    # -- the check, on every request ----------------------------------------------------------------

    def __call__(self, claims: Mapping[str, Any]) -> bool:
        """The PASETO dependency's denylist loader. A token outside any family is refused."""
        family_id = claims.get("fam")
        return not isinstance(family_id, str) or self.is_revoked(family_id)

    def is_revoked(self, family_id: str) -> bool:
        if time.monotonic() - self._synced_at > self._max_staleness:
            raise DatabaseUnavailable("revoked sessions could not be read from the database recently")
        return family_id in self._forget_at

    # -- keeping it up to date ------------------------------------------------------------------------

    def add(self, *family_ids: str) -> None:
        """Refuse these families on this instance at once (call after the revocation is committed)."""
        forget_at = utcnow() + self._remember_for
        with self._lock:
            self._forget_at = self._forget_at | dict.fromkeys(family_ids, forget_at)

    def accounts_changed(self, *usernames: str) -> None:
        """These accounts changed: their snapshots go, here at once (the change's instance, or a push)."""
        if self.accounts is not None:
            self.accounts.drop(*usernames)

    def sync(self) -> int:
        """Read the revocations (and account changes) newer than the last read (the first time: all still
        relevant). Blocking."""
        started, started_monotonic = utcnow(), time.monotonic()
        since = self._read_until - self._overlap if self._read_until else started - self._remember_for
        query = select(TokenFamily.id, TokenFamily.revoked_at).where(col(TokenFamily.revoked_at) > since)
        with Session(self._engine) as session:
            rows = session.exec(query).all()
            if self.accounts is not None and self._read_until is not None:
                self.accounts.drop_outdated(session.exec(select(User.username, User.updated_at).where(col(User.updated_at) > since)))
        read = {family_id: as_utc(revoked_at) + self._remember_for for family_id, revoked_at in rows if revoked_at}
        with self._lock:
            # Swapped whole, so the request path reads without a lock.
            kept = {family_id: until for family_id, until in self._forget_at.items() if until > started}
            self._forget_at = kept | read
        self._read_until, self._synced_at = started, started_monotonic
        return len(rows)

    async def keep_in_sync(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Read now, report started, then re-read every `sync_seconds` until cancelled, off the event loop."""
        next_read = time.monotonic()
        await self._read_in_thread()
        task_status.started()
        while True:
            # Reads start on a fixed beat, so a slow read does not push every later one back.
            next_read += self._sync_seconds
            await anyio.sleep(max(0.0, next_read - time.monotonic()))
            next_read = max(next_read, time.monotonic())
            await self._read_in_thread()

    async def read_now(self) -> None:
        """Read at once, off the event loop (after the revocation listener has (re)connected)."""
        await self._read_in_thread()

    async def _read_in_thread(self) -> None:
        # One log line when reading starts failing and one when it works again, not one a second.
        try:
            await anyio.to_thread.run_sync(self.sync)
        except Exception as error:
            metrics.revocation_feed_lag(time.monotonic() - self._synced_at)
            if not self._failing:
                if isinstance(error, UNAVAILABLE_ERRORS):
                    cause = describe_failure(self._engine.url.render_as_string(), error)
                    logger.error("%s; token checks fail closed after %.0f s without a read", cause, self._max_staleness)
                else:
                    logger.exception("reading revoked sessions failed")
            self._failing = True
            return
        metrics.revocation_feed_lag(time.monotonic() - self._synced_at)
        if self._failing:
            logger.warning("revoked sessions are read from the database again")
        self._failing = False

    @property
    def synced(self) -> bool:
        """Whether a read has ever succeeded (until then every token check fails closed)."""
        return self._synced_at > -math.inf

    @property
    def size(self) -> int:
        """How many revoked families are held in memory."""
        return len(self._forget_at)
