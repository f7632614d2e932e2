"""The table of the activity domain: one row per security event of an account (merged refusals: one per hour)."""

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from ..database import utcnow


class SecurityEvent(SQLModel, table=True):
    """Something that happened to an account: who did it, when, from where.

    Refusals that anyone can repeat (a wrong password) are merged: one row per account, kind, address
    group and hour (`merge_key`), whose `count` grows and whose `last_at` moves (activity/service.py).
    Other events have no merge key: one row each. Rows go SECURITY_EVENT_DAYS after their last time.
    """

    __table_args__ = (
        # The owner's list and an administrator's list of one account, newest first: their rows, in order.
        Index("ix_securityevent_user_id_last_at", "user_id", "last_at"),
        Index("ix_securityevent_type_last_at", "type", "last_at"),  # an administrator's list by kind
        Index("ix_securityevent_last_at", "last_at"),  # every account's, newest first; the purge
        # The merge: two refusals of one window meet on this key, whichever comes first inserts.
        UniqueConstraint("user_id", "merge_key", name="uq_securityevent_user_id_merge_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", ondelete="CASCADE")  # an account's events go with it
    type: str = Field(max_length=40)  # an EventType (activity/events.py)
    first_at: datetime = Field(default_factory=utcnow)
    last_at: datetime = Field(default_factory=utcnow)
    count: int = 1
    client_address: str = Field(default="", max_length=64)
    user_agent: str = Field(default="", max_length=200)
    # "self" (the account's own session or credentials), "anonymous" (someone trying them), "system" (the
    # app, the CLI), or "admin:<name>".
    actor: str = Field(default="self", max_length=80)
    detail: str = Field(default="", max_length=200)  # a few `name=value` pairs, as in the log line
    merge_key: str | None = Field(default=None, max_length=120)
