"""Accounts: creating them, checking their passwords (throttled), changing them.

Every change to an account goes through `change_account`: one place that moves `updated_at`, renews the
security stamp when the change touches what proves who the owner is, and tells every instance, so no
snapshot of the old account (users/snapshots.py) and no token issued under the old stamp outlives it.
"""

import uuid
from datetime import timedelta
from typing import Any, NoReturn

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from ..activity import service as activity
from ..activity.events import EventType
from ..config import Settings
from ..database import notify, utcnow
from ..paseto import AuthPASETOException
from . import throttle
from .exceptions import InvalidCredentialsError, UserError
from .models import User, new_security_stamp
from .passwords import hasher_for
from .schemas import normalize_username
from .snapshots import Account, snapshots_of

# A change to any of these renews the account's security stamp: its one-time links and device tokens die.
SECURITY_FIELDS = frozenset({"hashed_password", "email", "email_verified_at", "is_active", "mfa_enabled"})


def check_password_rules(settings: Settings, password: str) -> None:
    # Length only, as NIST SP 800-63B asks: composition rules make passwords weaker, not stronger.
    if len(password) < settings.password_min_length:
        raise UserError(422, "password_too_short", f"Password must be at least {settings.password_min_length} characters")
    if len(password) > settings.password_max_length:
        raise UserError(422, "password_too_long", f"Password must be at most {settings.password_max_length} characters")


def get_by_username(session: Session, username: str) -> User | None:
    return session.exec(select(User).where(User.username == normalize_username(username))).first()


def get_by_email(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == email.lower())).first()


def get_active(session: Session, username: str) -> User | None:
    """The account, if it exists and may log in."""
    user = get_by_username(session, username)
    return user if user is not None and user.is_active else None


def _hash(settings: Settings, password: str, client: str | None) -> str:
    """A new hash; for a request's `client`, within the hashing bounds (429 past them)."""
    hasher = hasher_for(settings)
    with hasher.gated(throttle.address_group(client) if client is not None else None):
        return hasher.hash(password)


def create_user(
    session: Session,
    settings: Settings,
    username: str,
    password: str,
    email: str | None = None,
    *,
    email_verified: bool = False,
    client: str | None = None,
) -> User:
    """A new account, or 409. The password is hashed first, so a taken name costs as long as a new one."""
    check_password_rules(settings, password)
    hashed = _hash(settings, password, client)
    verified_at = utcnow() if email and email_verified else None
    user = User(username=normalize_username(username), email=email and email.lower(), email_verified_at=verified_at, hashed_password=hashed)
    session.add(user)
    try:
        session.flush()  # the account's row first: its event finds it by name (a taken name fails here)
        actor = activity.SELF if client is not None else activity.SYSTEM  # registered, or made by an operator
        activity.record(session, EventType.USER_REGISTERED, user.username, client, actor=actor)
        session.commit()
    except IntegrityError:  # the unique constraints decide, so concurrent registrations cannot both win
        session.rollback()
        if get_by_username(session, user.username) is not None:
            raise UserError(409, "username_taken", "That username is taken") from None
        raise UserError(409, "email_taken", "That e-mail address is taken") from None
    return user


def check_password(
    session: Session, settings: Settings, username: str, password: str, client: str, device_token: str | None = None
) -> User:
    """The active user with this password, or InvalidCredentialsError; 429 while guessing is throttled (`check_login`)."""
    return check_login(session, settings, username, password, client, device_token)[0]


def check_login(
    session: Session,
    settings: Settings,
    username: str,
    password: str,
    client: str,
    device_token: str | None = None,
    *,
    user_agent: str | None = None,
) -> tuple[User, bool]:
    """The active user with this password, and whether the client is a known device of theirs; or
    InvalidCredentialsError; 429 while guessing is throttled.

    A valid device token of this account (from an earlier login on the same client, issued under the
    account's current security stamp) exempts the attempt from the account-wide limit (users/throttle.py).

    The attempt is counted and the user read in one transaction, committed before the slow hash check.
    On success, the throttle's release and the account's confirmation stay in the session's open
    transaction for the caller to commit with its own work: a login is two transactions beside the hash.
    A refusal is a security event of the account (activity/): stored for a name no account has too, which
    stores nothing but costs the same.
    """
    name, hasher = normalize_username(username), hasher_for(settings)
    device = known_device(session, settings, device_token, name) if device_token else None
    # Past the hashing bounds: 429 at once. A known device hashes in slots of its own, a few per account.
    with hasher.gated(throttle.address_group(client), device_account=name if device else None):
        limits = throttle.login_limits(settings, name, client, device)
        reservation = throttle.reserve(session, limits, settings.login_failure_window_seconds)
        user = session.exec(select(User).where(User.username == name)).first()
        hashed, active = (user.hashed_password, user.is_active) if user else (None, False)
        session.commit()
        matches, new_hash = hasher.verify(password, hashed)
    if user is None or not matches or not active:
        _refused(session, name, client, user_agent)
    throttle.release(session, reservation)
    # Confirm the account is still as checked: a password change or deactivation that committed during
    # the hash ended every session but the one the caller is about to start. This UPDATE (which also
    # stores an upgraded hash of the same password: the stamp stays) locks the account's row until the
    # caller commits, so such a change either comes first and is seen here, or waits and then sees, and
    # ends, the new session.
    confirm = update(User).where(col(User.id) == user.id, col(User.hashed_password) == hashed, col(User.is_active).is_(True))
    if session.exec(confirm.values(hashed_password=new_hash or hashed)).rowcount != 1:
        session.rollback()
        _refused(session, name, client, user_agent)
    return user, device is not None


def _refused(session: Session, name: str, client: str, user_agent: str | None) -> NoReturn:
    activity.record(session, EventType.LOGIN_FAILED, name, client, actor=activity.ANONYMOUS, user_agent=user_agent)
    session.commit()
    raise InvalidCredentialsError()


def change_account(session: Session, user: Account, *, unless_stamp_moved: str | None = None, **values: Any) -> User | None:
    """Change an account's columns: the one way every change to an account is made. Commits.

    One UPDATE that moves `updated_at` and, when a SECURITY_FIELDS column changes, renews the security
    stamp (every one-time link and device token of the account dies with it). The change reaches every
    instance: this one's snapshot of the account goes at once, the others' at their next read of changes
    (pushed at once on PostgreSQL). With `unless_stamp_moved`: only if the account's stamp is still that
    one, so of two racing uses of one link exactly one wins. Returns the changed account (None: unchanged).
    """
    unknown = values.keys() - User.model_fields.keys() or values.keys() & {"id", "security_stamp", "updated_at"}
    assert not unknown, f"not a column change_account may set: {sorted(unknown)}"
    changes: dict[str, Any] = {**values, "updated_at": utcnow()}
    if SECURITY_FIELDS & values.keys():
        changes["security_stamp"] = new_security_stamp()
    query = update(User).where(col(User.id) == user.id)
    if unless_stamp_moved is not None:
        query = query.where(col(User.security_stamp) == unless_stamp_moved)
    if session.exec(query.values(**changes)).rowcount != 1:
        session.rollback()
        return None
    notify(session, "account", [user.username])
    session.commit()  # a unique column (the address) may refuse it here: IntegrityError, for the caller
    if (snapshots := snapshots_of(session.get_bind())) is not None:
        snapshots.drop(user.username)
    row = session.get(User, user.id)  # the caller's own row object when it passed one (no query then)
    assert row is not None
    for name, value in changes.items():  # shown as changed, without writing it again
        set_committed_value(row, name, value)
    return row


def set_password(
    session: Session, settings: Settings, user: Account, password: str, client: str | None = None, *, unless_stamp_moved: str | None = None
) -> User | None:
    """A new password (within the length rules); with `unless_stamp_moved`, only if the account is as it was."""
    check_password_rules(settings, password)
    return change_account(session, user, unless_stamp_moved=unless_stamp_moved, hashed_password=_hash(settings, password, client))


def set_active(session: Session, user: User, active: bool) -> None:
    change_account(session, user, is_active=active)


def set_admin(session: Session, user: User, admin: bool) -> None:
    change_account(session, user, is_admin=admin)


# -- device tokens (OWASP's device cookies) -----------------------------------------------------------------

DEVICE = "device"  # the purpose tokens' purpose


def issue_device_token(settings: Settings, user: User) -> str:
    """After a successful login: proof, for the next logins from this client, that it is a known device.
    It dies with the account's security stamp (a password reset or change, a new address, a deactivation)."""
    claims = {"sub": user.username, "dev": uuid.uuid4().hex, "stamp": user.security_stamp}
    return settings.purpose_tokens().issue(DEVICE, claims, timedelta(days=settings.device_token_days))


def known_device(session: Session, settings: Settings, token: str, username: str) -> str | None:
    """The device id of a valid device token of this account under its current stamp; None for anything else."""
    try:
        claims = settings.purpose_tokens().read(DEVICE, token)
    except AuthPASETOException:
        return None
    device = claims.get("dev")
    if claims.get("sub") != username or not isinstance(device, str):
        return None
    stamp = session.exec(select(User.security_stamp).where(User.username == username)).first()
    session.commit()  # a read only: end it before the throttle's transaction starts
    return device if stamp is not None and claims.get("stamp") == stamp else None
