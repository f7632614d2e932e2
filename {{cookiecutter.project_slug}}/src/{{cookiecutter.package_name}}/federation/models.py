"""The table of federated identities: a person's account at a provider (provider, `sub`), linked to one of ours."""

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from ..database import utcnow


class Identity(SQLModel, table=True):
    """One provider's account of a person, linked to an account here by its owner. The link is by `sub`, the
    provider's stable id for the person, never by e-mail address: an address can change hands, a `sub` does not."""

    __table_args__ = (UniqueConstraint("provider", "subject"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", ondelete="CASCADE", index=True)
    provider: str = Field(max_length=32)  # the name in OIDC_PROVIDERS
    subject: str = Field(max_length=255)  # OpenID Connect's `sub` (at most 255 ASCII characters)
    email: str | None = Field(default=None, max_length=254)  # as the provider said it at the last login: shown, never matched
    created_at: datetime = Field(default_factory=utcnow)
    last_login_at: datetime | None = None
