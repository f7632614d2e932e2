"""The tables of the users domain: accounts, and the counts that limit password guessing."""

import secrets
from datetime import datetime

from sqlmodel import Field, SQLModel

from ..database import utcnow


def new_security_stamp() -> str:
    return secrets.token_hex(16)


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    # Stored in its canonical form (Unicode NFKC, case-folded: users/schemas.py), so unique means unique.
    username: str = Field(unique=True, index=True, max_length=64)
    email: str | None = Field(default=None, unique=True, max_length=254)  # stored lower-case
    email_verified_at: datetime | None = None  # when the owner proved they read mail at `email`
    hashed_password: str
    is_active: bool = True
    is_admin: bool = False  # read from here on every admin request, never from a token: a demotion takes effect at once
    # A second factor is on (a confirmed TOTP, or a passkey): logins ask for it, fresh tokens must have proved it (mfa/).
    mfa_enabled: bool = False
    # A new random value whenever the account's security state changes (password, address, verification,
    # activation): every one-time link and device token carries the stamp it was issued under, so any
    # later change kills it, and no sequence of changes can bring the old stamp back (users/service.py).
    security_stamp: str = Field(default_factory=new_security_stamp, max_length=32)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow, index=True)  # every change moves it: instances read what changed


class LoginThrottle(SQLModel, table=True):
    """Attempts counted for one key (users/throttle.py), shared by every instance."""

    key: str = Field(primary_key=True, max_length=320)
    failures: int = 0
    window_started_at: datetime = Field(default_factory=utcnow)
    blocked_until: datetime | None = None
