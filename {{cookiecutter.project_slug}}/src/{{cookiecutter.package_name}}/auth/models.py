"""Server-side state of the refresh-token pattern: one row per login session (token family)."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from ..database import utcnow


class TokenFamily(SQLModel, table=True):
    """One login session: every refresh token descends from the login that started it.

    Only the newest refresh token of a family may be spent; its SHA-256 is kept (never the token).
    Access tokens carry the family id in their `fam` claim, so revoking a family stops them too.
    """

    id: str = Field(primary_key=True, max_length=32)
    user_id: int = Field(foreign_key="user.id", ondelete="CASCADE", index=True)  # an account's sessions go with it
    current_token_hash: str = Field(max_length=64)
    # The token spent by the last refresh, and when: with a grace period, it may be retried briefly.
    previous_token_hash: str | None = Field(default=None, max_length=64)
    rotated_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    # Two bounds: the idle one moves with each refresh (expires_at); the absolute one never does (ends_at).
    expires_at: datetime = Field(index=True)
    ends_at: datetime
    # The device, as of its last login or refresh: what the owner sees in their list of sessions.
    last_used_at: datetime = Field(default_factory=utcnow)
    client_address: str = Field(default="", max_length=64)
    user_agent: str = Field(default="", max_length=200)
    revoked_at: datetime | None = Field(default=None, index=True)
    revoked_reason: str | None = Field(default=None, max_length=32)
