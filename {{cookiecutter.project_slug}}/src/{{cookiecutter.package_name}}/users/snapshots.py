"""The accounts behind recent tokens, kept in memory: `CurrentUser` reads the database only on a miss.

Reading the user is most of what a route costs beyond checking its token (three round trips and ORM
work, in a worker thread). So each instance keeps an immutable snapshot of each account it has read
(never the ORM object, which a request could change or lazily load from), bounded in number, looked up
on the event loop.

A snapshot is never stale in a way that matters:
- the instance that changes an account (every change goes through users/service.py `change_account`)
  drops its snapshot at once (`drop`);
- every other instance hears of the change through the feed that carries revocations: pushed on
  PostgreSQL (NOTIFY), else the read every REVOCATION_SYNC_SECONDS (accounts whose `updated_at` moved);
- and a snapshot lives USER_CACHE_SECONDS at most, for what neither sees: a change made directly in
  SQL without touching `updated_at`.
A read racing a change cannot put back what the change dropped: each drop moves the name's generation
on, and a snapshot read under an older generation is not kept.

The requests that miss an account together share one read (`read`): when a busy account's snapshot
expires or is dropped, every request in flight misses it at once, and thirty reads of one row in thirty
worker threads, fighting the event loop for the GIL, were /users/me's slowest percent.
"""

import itertools
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from datetime import datetime

import anyio
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
        return cls(**{column.name: getattr(user, column.name) for column in fields(cls)})


@dataclass
class _Read:
    """A read in flight, which the requests that miss the same account meanwhile wait for."""

    done: anyio.Event = field(default_factory=anyio.Event)
    finished: bool = False
    snapshot: UserSnapshot | None = None
    error: Exception | None = None


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
        self._reads: dict[tuple[str, int], _Read] = {}  # (username, generation) -> its read in flight (event loop only)

    def get(self, username: str) -> UserSnapshot | None:
        entry = self._entries.get(username)
        if entry is None or time.monotonic() - entry[1] > self._lifetime:
            return None
        return entry[0]

    async def read(self, username: str, load: Callable[[str], UserSnapshot | None]) -> UserSnapshot | None:
        """The account's snapshot: from memory when recent, else `load`ed in a worker thread, once for every
        request that misses it meanwhile. None: no such account."""
        while (snapshot := self.get(username)) is None:
            generation = self.generation(username)
            # A request that missed before the last change must not get what it read: it waits only for a
            # read of the current generation.
            key = (username, generation)
            if (pending := self._reads.get(key)) is None:
                return await self._load(key, load)
            await pending.done.wait()
            if pending.error is not None:
                raise pending.error  # the same failure (503 database_unavailable), not one more try per request
            if pending.finished:
                return pending.snapshot
            # The reading request was cancelled: look again.
        return snapshot

    async def _load(self, key: tuple[str, int], load: Callable[[str], UserSnapshot | None]) -> UserSnapshot | None:
        username, generation = key
        pending = self._reads[key] = _Read()
        try:
            read_at = time.monotonic()
            pending.snapshot = await anyio.to_thread.run_sync(load, username)
            pending.finished = True
        except Exception as error:
            pending.error = error
            raise
        finally:
            del self._reads[key]
            pending.done.set()
        if pending.snapshot is not None:
            self.put(pending.snapshot, generation, read_at)
        return pending.snapshot

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

    def drop_outdated(self, changes: Iterable[tuple[str, datetime]]) -> None:
        """These accounts changed at these times (`updated_at`): drop their snapshots, except those read after the change.

        The feed's read looks 30 s back each second: without this, an account changed (or created) in the
        last 30 s would lose its snapshot every second, and its busy requests would all go to the database.
        """
        self.drop(*(username for username, updated_at in changes if not self._shows(username, updated_at)))

    def _shows(self, username: str, updated_at: datetime) -> bool:
        entry = self._entries.get(username)
        return entry is not None and entry[0].updated_at == updated_at

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
