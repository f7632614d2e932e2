"""What the notes API accepts and returns.

Every bound here is one the database holds on both SQLite and PostgreSQL: text passes the `Text` rule
(no NUL, no lone surrogate: PostgreSQL stores neither) and fits its column, and numbers fit theirs.
"""

from datetime import datetime
from typing import Annotated

from fastapi import Path, Query
from pydantic import BaseModel, Field

from ..database import MAX_INTEGER
from ..users.schemas import Text
from .models import Note

Title = Annotated[str, Field(min_length=1, max_length=200), Text]
Body = Annotated[str, Field(max_length=10_000), Text]
# Ids and offsets the columns (and OFFSET) hold: a larger one is a 422 here, not an error from the database.
NoteId = Annotated[int, Path(ge=1, le=MAX_INTEGER)]
Offset = Annotated[int, Query(ge=0, le=MAX_INTEGER)]
Limit = Annotated[int, Query(ge=1, le=100)]


class NoteCreate(BaseModel):
    title: Title
    body: Body = ""


class NoteUpdate(BaseModel):
    """The fields to change; those left out (or null) stay as they are."""

    title: Title | None = None
    body: Body | None = None


class NotePublic(BaseModel):
    id: int
    title: str
    body: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, note: Note) -> "NotePublic":
        return cls.model_validate(note, from_attributes=True)


class NotePage(BaseModel):
    items: list[NotePublic]
    total: int = Field(description="Notes of the user, on every page")
    offset: int
    limit: int
