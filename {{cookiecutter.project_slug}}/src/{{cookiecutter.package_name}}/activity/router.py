"""Security activity: an account's own (`/users/me/activity`), and every account's for administrators.

Newest first (by the last time of a merged refusal), a page at a time. The admin routes need an
administrator (403 admin_required otherwise, checked against the database on each request); reading
changes nothing, so no fresh token.
"""

from typing import Annotated

from fastapi import APIRouter, Query

from ..admin import service as admin_service
from ..admin.router import AccountName
from ..database import SessionDep
from ..errors import refusals
from ..users.dependencies import AdminUser, CurrentUser
from . import service
from .events import EventType
from .models import SecurityEvent
from .schemas import EventPage, EventView, Limit, Offset

router = APIRouter(tags=["activity"])
admin_router = APIRouter(prefix="/admin", tags=["admin (needs an administrator)"])


def _page(found: tuple[list[tuple[SecurityEvent, str]], int], offset: int, limit: int) -> EventPage:
    rows, total = found
    return EventPage(items=[EventView.of(row, name) for row, name in rows], total=total, offset=offset, limit=limit)


@router.get("/users/me/activity")
def my_activity(user: CurrentUser, session: SessionDep, offset: Offset = 0, limit: Limit = 20) -> EventPage:
    """Your account's security events (logins, refusals, sessions ended, changes), newest first."""
    assert user.id is not None
    return _page(service.page(session, offset, limit, user_id=user.id), offset, limit)


@admin_router.get("/users/{username}/activity", responses=refusals(404))
def account_activity(username: AccountName, admin: AdminUser, session: SessionDep, offset: Offset = 0, limit: Limit = 50) -> EventPage:
    """One account's security events, newest first."""
    _, user_id = admin_service.account(session, username)
    return _page(service.page(session, offset, limit, user_id=user_id), offset, limit)


@admin_router.get("/activity")
def all_activity(
    admin: AdminUser,
    session: SessionDep,
    type: Annotated[EventType | None, Query(description="Only events of this kind")] = None,  # noqa: A002 - the API's name
    offset: Offset = 0,
    limit: Limit = 50,
) -> EventPage:
    """Every account's security events, newest first; `type` keeps one kind (422 for a kind that does not exist)."""
    return _page(service.page(session, offset, limit, type=type), offset, limit)
