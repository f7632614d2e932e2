"""What the admin API returns."""

from datetime import datetime

from pydantic import BaseModel, Field

from ..users.models import User


class AccountView(BaseModel):
    """An account as an administrator sees it."""

    username: str
    email: str | None
    email_verified: bool
    is_active: bool
    is_admin: bool
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> "AccountView":
        verified = user.email_verified_at is not None
        return cls(
            username=user.username,
            email=user.email,
            email_verified=verified,
            is_active=user.is_active,
            is_admin=user.is_admin,
            created_at=user.created_at,
        )


class AccountPage(BaseModel):
    items: list[AccountView]
    total: int = Field(description="Accounts that match, on every page")
    offset: int
    limit: int
