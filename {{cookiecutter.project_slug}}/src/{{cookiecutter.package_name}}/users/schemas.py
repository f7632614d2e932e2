"""What the users API accepts and returns."""

from datetime import datetime

from pydantic import BaseModel, EmailStr, Field


class UserCreate(BaseModel):
    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    email: EmailStr | None = None
    password: str


class UserPublic(BaseModel):
    id: int
    username: str
    email: str | None
    is_active: bool
    created_at: datetime


class PasswordChange(BaseModel):
    current_password: str = Field(max_length=1024)
    new_password: str
