"""Password hashing: argon2id for new hashes; bcrypt still verifies old ones, and both are upgraded on login.

Each argon2id hash takes 64 MiB and a core for about 100 ms, so the work one process takes on is bounded
(`HashingGate`): a flood of logins, even of wrong ones, is refused at once instead of queueing threads
and memory.
"""

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from functools import cache

from passlib.context import CryptContext

from ..config import Settings
from ..observability import metrics
from .exceptions import TooManyAttemptsError


class HashingGate:
    """At most `total` hashes at once in this process, and `per_address` for one client address (group).

    Past either: TooManyAttemptsError (429) at once, without hashing. Waiting would only pile up threads
    (each holding a hash's memory) behind the ones already working. Logins from known devices (a valid
    device token, users/service.py) have `total` slots of their own: a botnet filling the strangers'
    slots cannot keep the owner's own devices out. Of those, one account holds at most half: an account
    holder looping logins with his own device token cannot keep another owner's devices out either.
    At most twice `total` hashes, then, ever.
    """

    def __init__(self, total: int, per_address: int) -> None:
        self._per_address = per_address
        self._per_account = max(1, total // 2)  # of the known devices' slots
        self._free = {False: threading.BoundedSemaphore(total), True: threading.BoundedSemaphore(total)}  # known device?
        self._lock = threading.Lock()
        self._busy: dict[tuple[str, str], int] = {}  # ("address", group) or ("account", name) -> hashes under way

    @contextmanager
    def slot(self, address: str, device_account: str | None = None) -> Iterator[None]:
        """A slot for one hash; `device_account`: the account of a known device the request comes from."""
        free = self._free[device_account is not None]
        holders = [(("address", address), self._per_address)]
        if device_account is not None:
            holders.append((("account", device_account), self._per_account))
        with self._lock:
            if any(self._busy.get(key, 0) >= bound for key, bound in holders) or not free.acquire(blocking=False):
                metrics.hash_refused()
                raise TooManyAttemptsError(1)
            for key, _ in holders:
                self._busy[key] = self._busy.get(key, 0) + 1
        metrics.hashing(device_account is not None, +1)
        try:
            yield
        finally:
            with self._lock:
                for key, _ in holders:
                    self._busy[key] -= 1
                    if not self._busy[key]:
                        del self._busy[key]
                free.release()
            metrics.hashing(device_account is not None, -1)


class PasswordHasher:
    def __init__(self, memory_kib: int, time_cost: int, parallelism: int, gate: HashingGate) -> None:
        self.context = CryptContext(
            schemes=["argon2", "bcrypt"],
            deprecated="auto",  # a hash of another scheme, or of other argon2 parameters, is rehashed on login
            argon2__type="ID",
            argon2__memory_cost=memory_kib,
            argon2__time_cost=time_cost,
            argon2__parallelism=parallelism,
        )
        self.gate = gate
        # Verified when the username is unknown, so that a missing account costs as long as a wrong password.
        self._dummy_hash = self.context.hash("not a real password")

    def hash(self, password: str) -> str:
        hashed: str = self.context.hash(password)
        return hashed

    def verify(self, password: str, hashed: str | None) -> tuple[bool, str | None]:
        """Return (matches, new hash to store or None). With `hashed=None` it burns the same time and fails."""
        try:
            if hashed is None:
                self.context.verify(password, self._dummy_hash)
                return False, None
            matches, new_hash = self.context.verify_and_update(password, hashed)
        except ValueError:  # passlib refuses passwords over 4 KiB; bcrypt 5 those over 72 bytes
            return False, None
        return bool(matches), new_hash

    def gated(self, client: str | None, device_account: str | None = None) -> AbstractContextManager[None]:
        """The gate's slot for a request's client (its address group), or none for the command line."""
        return self.gate.slot(client, device_account) if client is not None else nullcontext()


@cache
def _hasher(memory_kib: int, time_cost: int, parallelism: int, total: int, per_address: int) -> PasswordHasher:
    return PasswordHasher(memory_kib, time_cost, parallelism, HashingGate(total, per_address))


def hasher_for(settings: Settings) -> PasswordHasher:
    """The hasher (and its gate) for these settings, built once per process and set of parameters."""
    return _hasher(
        settings.password_hash_memory_kib,
        settings.password_hash_time_cost,
        settings.password_hash_parallelism,
        settings.password_hash_concurrency,
        settings.password_hash_per_address,
    )
