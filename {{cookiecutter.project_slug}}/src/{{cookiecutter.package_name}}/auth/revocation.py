"""Which token families are revoked, known in memory and re-read from the database about once a second.

Checking a token must not cost a database round trip per request. Each instance keeps the set of
revoked family ids; the first request after `sync_seconds` reloads it. A logout on any instance is
therefore honoured everywhere within about a second, and at once on the instance that did it.
"""

import threading
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from ..database import utcnow
from .models import TokenFamily


class RevokedFamilies:
    def __init__(self, engine: Engine, sync_seconds: float, access_token_lifetime: timedelta) -> None:
        self._engine = engine
        self._sync_seconds = sync_seconds
        # A family's access tokens may outlive its last refresh token by up to one access lifetime.
        self._remember_for = access_token_lifetime
        self._revoked: frozenset[str] = frozenset()
        self._revoked_here: set[str] = set()  # by this instance, maybe newer than the last database read
        self._synced_at = float("-inf")
        self._sync_lock = threading.Lock()
        self._state_lock = threading.Lock()

    def sync(self) -> None:
        started = time.monotonic()
        with Session(self._engine) as session:
            query = select(TokenFamily.id).where(
                col(TokenFamily.revoked_at).is_not(None), TokenFamily.expires_at > utcnow() - self._remember_for
            )
            in_database = frozenset(session.exec(query))
        with self._state_lock:
            # A logout committed after the read above is still known here.
            self._revoked_here -= in_database
            self._revoked = in_database | self._revoked_here
        self._synced_at = started

    def _sync_if_stale(self) -> None:
        if time.monotonic() - self._synced_at < self._sync_seconds:
            return
        # One thread reloads; the others go on with the set they have, at most one interval old.
        if self._sync_lock.acquire(blocking=self._synced_at == float("-inf")):
            try:
                if time.monotonic() - self._synced_at >= self._sync_seconds:
                    self.sync()
            finally:
                self._sync_lock.release()

    def add(self, *family_ids: str) -> None:
        """Refuse these families on this instance at once (call after the revocation is committed)."""
        with self._state_lock:
            self._revoked_here.update(family_ids)
            self._revoked = self._revoked | set(family_ids)

    def is_revoked(self, family_id: str) -> bool:
        self._sync_if_stale()
        return family_id in self._revoked

    def __call__(self, claims: Mapping[str, Any]) -> bool:
        """The PASETO dependency's denylist loader. A token outside any family is refused."""
        family_id = claims.get("fam")
        return not isinstance(family_id, str) or self.is_revoked(family_id)
