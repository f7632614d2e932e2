"""Password hashing: argon2id for new hashes; bcrypt still verifies old ones, and both are upgraded on login."""

from functools import cache

from passlib.context import CryptContext

from ..config import Settings


class PasswordHasher:
    def __init__(self, memory_kib: int, time_cost: int, parallelism: int) -> None:
        self.context = CryptContext(
            schemes=["argon2", "bcrypt"],
            deprecated="auto",  # a hash of another scheme, or of other argon2 parameters, is rehashed on login
            argon2__type="ID",
            argon2__memory_cost=memory_kib,
            argon2__time_cost=time_cost,
            argon2__parallelism=parallelism,
        )
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


@cache
def _hasher(memory_kib: int, time_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(memory_kib, time_cost, parallelism)


def hasher_for(settings: Settings) -> PasswordHasher:
    """The hasher for these settings' argon2 parameters (built once per set of parameters)."""
    return _hasher(settings.password_hash_memory_kib, settings.password_hash_time_cost, settings.password_hash_parallelism)
