"""The accounts behind recent tokens, kept in memory: `CurrentUser` reads the database only on a miss.

Reading the user is most of what a route costs beyond checking its token (three round trips and ORM
work, in a worker thread). So each instance keeps an immutable snapshot of each account it has read
(never the ORM object, which a request could change or lazily load from), bounded in number, looked up
on the event loop.

A snapshot is never stale in a way that matters:
- the instance that changes an account (deactivation, password, address, administrator role) drops
  its snapshot at once (`drop`);
- every other instance hears of the change through the feed that carries revocations: pushed on
  PostgreSQL (NOTIFY), else the read every REVOCATION_SYNC_SECONDS (accounts whose `updated_at` moved);
- and a snapshot lives USER_CACHE_SECONDS at most, for what neither sees: a change made directly in
  SQL without touching `updated_at`.
A read racing a change cannot put back what the change dropped: each drop moves the name's generation
on, and a snapshot read under an older generation is not kept.
"""

import itertools
import threading
import time
import weakref
from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy import Connection, Engine

from .models import User

__all__ = ["SECRET_COLUMNS", "Account", "UserSnapshot", "UserSnapshots", "snapshots_of"]

# Columns a request never needs to know (tests/test_user_snapshots.py checks every other column is here).
SECRET_COLUMNS = frozenset({"hashed_password", "security_stamp"})


@dataclass(frozen=True)
class UserSnapshot:
    """What a request may know of an account: its row as read, without its secrets.

    A field added to the User table is added here too, with the same name: `of` copies every field by name.
    """

    id: int
    username: str
    email: str | None
    email_verified_at: datetime | None
    is_active: bool
    is_admin: bool
    mfa_enabled: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, user: User) -> "UserSnapshot":
        assert user.id is not None
        return cls(**{field.name: getattr(user, field.name) for field in fields(cls)})


# What services that only read an account accept: the row itself, or a snapshot of it.
Account = User | UserSnapshot


class UserSnapshots:
    def __init__(self, capacity: int, lifetime_seconds: float) -> None:
        self._capacity = capacity
        self._lifetime = lifetime_seconds
        self._entries: dict[str, tuple[UserSnapshot, float]] = {}  # username -> (snapshot, read at)
        self._generations: dict[str, int] = {}
        self._floor = 0  # the generation of every name not in _generations
        self._lock = threading.Lock()  # for writers; a read is one dict lookup

    def get(self, username: str) -> UserSnapshot | None:
        entry = self._entries.get(username)
        if entry is None or time.monotonic() - entry[1] > self._lifetime:
            return None
        return entry[0]

    def generation(self, username: str) -> int:
        """Taken before reading the row; `put` keeps the snapshot only if no change came in between."""
        return self._generations.get(username, self._floor)

    def put(self, snapshot: UserSnapshot, generation: int, read_at: float) -> None:
        if self._capacity <= 0 or self._lifetime <= 0:
            return
        with self._lock:
            if self._generations.get(snapshot.username, self._floor) != generation:
                return
            if len(self._entries) >= self._capacity:
                # Full: keep the newer half (dicts keep insertion order), as the token cache does.
                self._entries = dict(itertools.islice(self._entries.items(), len(self._entries) // 2, None))
            self._entries[snapshot.username] = (snapshot, read_at)

    def drop(self, *usernames: str) -> None:
        """These accounts changed: forget them, and keep out any snapshot read before now."""
        with self._lock:
            for username in usernames:
                self._entries.pop(username, None)
                self._generations[username] = self._generations.get(username, self._floor) + 1
            if len(self._generations) > 4 * max(self._capacity, 1):
                # Bounded too: forget them all, moving every name past any generation a read in flight holds.
                self._floor = max(self._generations.values()) + 1
                self._generations = {}

    @property
    def size(self) -> int:
        return len(self._entries)

    def serve(self, engine: Engine) -> None:
        """Be the snapshots of the accounts in this engine's database: a change made through it drops them at once."""
        _SNAPSHOTS_BY_ENGINE[engine] = self


_SNAPSHOTS_BY_ENGINE: "weakref.WeakKeyDictionary[Engine, UserSnapshots]" = weakref.WeakKeyDictionary()


def snapshots_of(bind: Engine | Connection) -> UserSnapshots | None:
    """The snapshots an app keeps of the accounts behind this engine (none for the command line)."""
    return _SNAPSHOTS_BY_ENGINE.get(bind.engine)
