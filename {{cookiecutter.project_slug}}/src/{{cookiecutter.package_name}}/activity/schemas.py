"""What the activity API returns."""

from datetime import datetime
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, Field

from ..auth.devices import device_name
from ..database import MAX_INTEGER, as_utc
from .events import LABELS, EventType
from .models import SecurityEvent

Offset = Annotated[int, Query(ge=0, le=MAX_INTEGER)]
Limit = Annotated[int, Query(ge=1, le=100)]


class EventView(BaseModel):
    """One event; a merged refusal says how many times it happened between `first_at` and `last_at`."""

    id: int
    user: str
    type: EventType
    description: str
    first_at: datetime
    last_at: datetime
    count: int
    client_address: str
    user_agent: str
    device: str = Field(description='The user agent as a person names it ("Firefox on Android")')
    actor: str = Field(description='"self", "anonymous" (someone trying the account), "system" or "admin:<name>"')
    detail: str

    @classmethod
    def of(cls, row: SecurityEvent, username: str) -> "EventView":
        assert row.id is not None
        kind = EventType(row.type)
        return cls(
            id=row.id,
            user=username,
            type=kind,
            description=LABELS[kind],
            first_at=as_utc(row.first_at),
            last_at=as_utc(row.last_at),
            count=row.count,
            client_address=row.client_address,
            user_agent=row.user_agent,
            device=device_name(row.user_agent) if row.user_agent else "",
            actor=row.actor,
            detail=row.detail,
        )


class EventPage(BaseModel):
    items: list[EventView]
    total: int = Field(description="Events that match, on every page")
    offset: int
    limit: int
