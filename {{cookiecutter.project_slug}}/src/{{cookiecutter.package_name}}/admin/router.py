"""The admin API: accounts, listed and looked after. Every route needs an administrator (403 admin_required
otherwise, checked against the database on each request); every change needs a fresh token too."""

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Path, Query, Response, status

from ..auth.dependencies import RevokedDep
from ..database import MAX_INTEGER, SessionDep
from ..errors import refusals
from ..mail import MailerDep
from ..mfa import notices
from ..users.dependencies import AdminUser, ClientAddress, FreshAdminUser, SettingsDep
from ..users.schemas import Text
from . import service
from .schemas import AccountPage, AccountView

router = APIRouter(prefix="/admin", tags=["admin (needs an administrator)"])
NO_SUCH_ACCOUNT = refusals(404)
NO_CONTENT: dict[str, Any] = {"status_code": status.HTTP_204_NO_CONTENT, "response_class": Response}
# Names from the URL pass the same text rule as names in a body (no NUL: PostgreSQL cannot store or compare one).
AccountName = Annotated[str, Path(max_length=256), Text]


@router.get("/users")
def list_accounts(
    admin: AdminUser,
    session: SessionDep,
    name: Annotated[str, Query(max_length=64, description="Part of the name, in any case"), Text] = "",
    offset: Annotated[int, Query(ge=0, le=MAX_INTEGER)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> AccountPage:
    """Accounts by name, a page at a time."""
    accounts, total = service.find_accounts(session, name, offset, limit)
    return AccountPage(items=[AccountView.of(account) for account in accounts], total=total, offset=offset, limit=limit)


@router.post("/users/{username}/deactivate", responses=refusals(404, 409))
def deactivate(
    username: AccountName, admin: FreshAdminUser, session: SessionDep, revoked: RevokedDep, client: ClientAddress
) -> AccountView:
    """Deactivate an account: it cannot log in, and every session of it ends at once. Not one's own (409 own_account)."""
    return AccountView.of(service.set_active(session, revoked, admin, username, False, client))


@router.post("/users/{username}/activate", responses=NO_SUCH_ACCOUNT)
def activate(username: AccountName, admin: FreshAdminUser, session: SessionDep, revoked: RevokedDep, client: ClientAddress) -> AccountView:
    """Let a deactivated account log in again."""
    return AccountView.of(service.set_active(session, revoked, admin, username, True, client))


@router.delete("/users/{username}/sessions", responses=NO_SUCH_ACCOUNT, **NO_CONTENT)
def end_sessions(username: AccountName, admin: FreshAdminUser, session: SessionDep, revoked: RevokedDep, client: ClientAddress) -> None:
    """End every session of an account (every device is logged out); the account stays as it is."""
    service.end_sessions(session, revoked, admin, username, client)


@router.post("/users/{username}/mfa/reset", responses=NO_SUCH_ACCOUNT, **NO_CONTENT)
def reset_mfa(
    username: AccountName,
    admin: FreshAdminUser,
    session: SessionDep,
    revoked: RevokedDep,
    settings: SettingsDep,
    mailer: MailerDep,
    background: BackgroundTasks,
    client: ClientAddress,
) -> None:
    """Remove every second factor of an account (its owner lost them all) and end every session of it; its owner is told by mail."""
    user = service.reset_mfa(session, revoked, admin, username, client)
    background.add_task(notices.send_factor_removed, settings, mailer, user, "reset")
