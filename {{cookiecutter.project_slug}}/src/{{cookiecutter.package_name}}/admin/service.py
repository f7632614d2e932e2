"""What an administrator may do to accounts. Each change is a security event naming the administrator."""

from sqlalchemy import func
from sqlmodel import Session, col, select

from ..activity import service as activity
from ..activity.events import EventType
from ..auth import service as auth_service
from ..auth.revocation import RevokedFamilies
from ..mfa import service as mfa_service
from ..users import service as users_service
from ..users.exceptions import UserError
from ..users.models import User
from ..users.schemas import normalize_username
from ..users.snapshots import Account


def find_accounts(session: Session, name: str, offset: int, limit: int) -> tuple[list[User], int]:
    """Accounts whose name contains `name` (compared in canonical form), by name; and how many match in all."""
    matching = col(User.username).contains(normalize_username(name), autoescape=True) if name else True
    total = session.exec(select(func.count()).select_from(User).where(matching)).one()
    page = session.exec(select(User).where(matching).order_by(col(User.username)).offset(offset).limit(limit))
    return list(page), total


def account(session: Session, username: str) -> tuple[User, int]:
    """The account and its id; 404 for a name no account has."""
    user = users_service.get_by_username(session, username)
    if user is None or user.id is None:
        raise UserError(404, "not_found", "No such account")
    return user, user.id


def set_active(session: Session, revoked: RevokedFamilies, admin: Account, username: str, active: bool, client: str) -> User:
    """(De)activate an account; deactivating ends every session of it at once. Never one's own: the last
    administrator would lock everyone out of the admin API."""
    user, user_id = account(session, username)
    if user_id == admin.id and not active:
        raise UserError(409, "own_account", "Administrators cannot deactivate their own account")
    if active:  # stored with the change (change_account commits)
        activity.record(session, EventType.ADMIN_ACTIVATED_ACCOUNT, user.username, client, actor=activity.admin(admin.username))
        users_service.set_active(session, user, active)
        return user
    users_service.set_active(session, user, active)
    # Stored with the end of the account's sessions, the deactivation's last step: it says how many ended.
    event = activity.Event(EventType.ADMIN_DEACTIVATED_ACCOUNT, user.username, client, actor=activity.admin(admin.username))
    auth_service.revoke_user_sessions(session, revoked, user_id, reason="deactivated", event=event)
    return user


def end_sessions(session: Session, revoked: RevokedFamilies, admin: Account, username: str, client: str) -> int:
    user, user_id = account(session, username)
    event = activity.Event(EventType.ADMIN_ENDED_SESSIONS, user.username, client, actor=activity.admin(admin.username))
    return auth_service.revoke_user_sessions(session, revoked, user_id, reason="ended_by_admin", event=event)


def reset_mfa(session: Session, revoked: RevokedFamilies, admin: Account, username: str, client: str) -> User:
    """Remove every second factor of an account (its owner lost them all): the password alone logs in again.
    Every session of it ends too: whoever holds one may be who took the factors."""
    user, user_id = account(session, username)
    mfa_service.reset_factors(session, user)
    event = activity.Event(EventType.ADMIN_RESET_MFA, user.username, client, actor=activity.admin(admin.username))
    auth_service.revoke_user_sessions(session, revoked, user_id, reason="mfa_reset", event=event)
    return user
