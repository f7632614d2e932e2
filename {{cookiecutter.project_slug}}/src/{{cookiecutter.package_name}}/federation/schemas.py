"""What the federation API returns."""

from datetime import datetime

from pydantic import BaseModel

from ..database import as_utc
from .models import Identity


class IdentityView(BaseModel):
    id: int
    provider: str
    email: str | None  # as the provider gave it at the last login: shown, never used to link
    connected_at: datetime
    last_login_at: datetime | None

    @classmethod
    def of(cls, row: Identity) -> "IdentityView":
        assert row.id is not None
        last = as_utc(row.last_login_at) if row.last_login_at else None
        return cls(id=row.id, provider=row.provider, email=row.email, connected_at=as_utc(row.created_at), last_login_at=last)
