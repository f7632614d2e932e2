"""Server-side state of the refresh-token pattern: token families and login failure counts."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from ..database import utcnow


class TokenFamily(SQLModel, table=True):
    """One login session: every refresh token descends from the login that started it.

    Only the newest refresh token of a family may be spent; its SHA-256 is kept (never the token).
    Access tokens carry the family id in their `fam` claim, so revoking a family stops them too.
    """

    id: str = Field(primary_key=True, max_length=32)
    user_id: int = Field(index=True)
    current_token_hash: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)
    revoked_at: datetime | None = Field(default=None, index=True)
    revoked_reason: str | None = Field(default=None, max_length=32)


class LoginThrottle(SQLModel, table=True):
    """Failed logins for one key (`user:<name>` or `ip:<address>`), shared by every instance."""

    key: str = Field(primary_key=True, max_length=320)
    failures: int = 0
    window_started_at: datetime = Field(default_factory=utcnow)
    blocked_until: datetime | None = None
