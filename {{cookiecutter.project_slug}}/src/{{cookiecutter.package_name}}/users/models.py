"""The User table."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from ..database import utcnow


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, index=True, max_length=64)
    email: str | None = Field(default=None, unique=True, max_length=254)
    hashed_password: str
    is_active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
