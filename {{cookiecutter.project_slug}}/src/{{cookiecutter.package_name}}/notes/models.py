"""The table of the notes domain."""

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from ..database import utcnow


class Note(SQLModel, table=True):
    # One index serves a user's list, newest first: their rows only, already in order.
    __table_args__ = (Index("ix_note_owner_id_created_at", "owner_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="user.id", ondelete="CASCADE")  # an account's notes go with it
    title: str = Field(max_length=200)
    body: str = Field(default="", max_length=10_000)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
