"""The second factors' tables: an account's TOTP secret (sealed) and its recovery codes (hashed)."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from ..database import utcnow


class TotpCredential(SQLModel, table=True):
    """An account's authenticator app: pending until a first code confirms it, then a second factor."""

    user_id: int = Field(primary_key=True, foreign_key="user.id", ondelete="CASCADE")
    sealed_secret: str = Field(max_length=512)  # PurposeTokens.seal: never stored or logged in the clear
    confirmed_at: datetime | None = None
    # The time step of the last accepted code: a code is accepted once, even within its 30-second window.
    last_used_step: int | None = None
    created_at: datetime = Field(default_factory=utcnow)


class RecoveryCode(SQLModel, table=True):
    """One single-use recovery code, kept as its SHA-256 (the code is random: no slow hash is needed)."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", ondelete="CASCADE", index=True)
    code_sha256: str = Field(max_length=64)
    used_at: datetime | None = None
