"""Password hashing: argon2id for new hashes; bcrypt still verifies old ones and is upgraded on login."""

from passlib.context import CryptContext

password_context = CryptContext(schemes=["argon2", "bcrypt"], deprecated="auto", argon2__type="ID")

# Verified when the username is unknown, so that a missing account costs as long as a wrong password.
_DUMMY_HASH = password_context.hash("not a real password")


def hash_password(password: str) -> str:
    hashed: str = password_context.hash(password)
    return hashed


def verify_password(password: str, hashed: str | None) -> tuple[bool, str | None]:
    """Return (matches, new hash to store or None). With `hashed=None` it burns the same time and fails."""
    try:
        if hashed is None:
            password_context.verify(password, _DUMMY_HASH)
            return False, None
        matches, new_hash = password_context.verify_and_update(password, hashed)
    except ValueError:  # passlib refuses passwords over 4 KiB; bcrypt 5 those over 72 bytes
        return False, None
    return bool(matches), new_hash
