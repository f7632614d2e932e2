"""Accounts: creating them, checking their passwords (throttled), changing them."""

import uuid
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from ..config import Settings
from ..database import notify, utcnow
from ..logs import security_event
from ..paseto import AuthPASETOException
from . import throttle
from .exceptions import InvalidCredentialsError, UserError
from .models import User
from .passwords import hasher_for
from .schemas import normalize_username
from .snapshots import Account


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
    """The active user with this password, or InvalidCredentialsError; 429 while guessing is throttled.

    A valid device token of this account (from an earlier login on the same client) exempts the attempt
    from the account-wide limit (users/throttle.py).

    The attempt is counted and the user read in one transaction, committed before the slow hash check.
    On success, the throttle's release and the account's confirmation stay in the session's open
    transaction for the caller to commit with its own work: a login is two transactions beside the hash.
    """
    name, hasher = normalize_username(username), hasher_for(settings)
    device = device_of(settings, device_token, name) if device_token else None
    with hasher.gated(throttle.address_group(client), known_device=device is not None):  # past the hashing bounds: 429 at once
        limits = throttle.login_limits(settings, name, client, device)
        reservation = throttle.reserve(session, limits, settings.login_failure_window_seconds)
        user = session.exec(select(User).where(User.username == name)).first()
        hashed, active = (user.hashed_password, user.is_active) if user else (None, False)
        session.commit()
        matches, new_hash = hasher.verify(password, hashed)
    if user is None or not matches or not active:
        security_event("login_failed", user=name, client=client)
        raise InvalidCredentialsError()
    throttle.release(session, reservation)
    # Confirm the account is still as checked: a password change or deactivation that committed during
    # the hash ended every session but the one the caller is about to start. This UPDATE (which also
    # stores an upgraded hash) locks the account's row until the caller commits, so such a change
    # either comes first and is seen here, or waits and then sees, and ends, the new session.
    confirm = update(User).where(col(User.id) == user.id, col(User.hashed_password) == hashed, col(User.is_active).is_(True))
    if session.exec(confirm.values(hashed_password=new_hash or hashed)).rowcount != 1:
        session.rollback()
        security_event("login_failed", user=name, client=client)
        raise InvalidCredentialsError()
    return user


def set_password(session: Session, settings: Settings, user: Account, password: str, client: str | None = None) -> None:
    check_password_rules(settings, password)
    hashed = _hash(settings, password, client)
    session.exec(update(User).where(col(User.id) == user.id).values(hashed_password=hashed, updated_at=utcnow()))
    notify(session, "account", [user.username])
    session.commit()


def replace_password(session: Session, settings: Settings, user: User, password: str, hashed_before: str, client: str) -> bool:
    """Set a new password only if the stored hash is still `hashed_before`: of two racing uses of one
    reset link, one wins. Returns whether it did; not committed."""
    check_password_rules(settings, password)
    hashed = _hash(settings, password, client)
    replace = update(User).where(col(User.id) == user.id, col(User.hashed_password) == hashed_before)
    if session.exec(replace.values(hashed_password=hashed, updated_at=utcnow())).rowcount != 1:
        return False
    notify(session, "account", [user.username])
    user.hashed_password = hashed
    return True


def set_active(session: Session, user: User, active: bool) -> None:
    _change(session, user, is_active=active)


def set_admin(session: Session, user: User, admin: bool) -> None:
    _change(session, user, is_admin=admin)


def _change(session: Session, user: User, **values: object) -> None:
    """Change an account and tell every instance (their user snapshots must go: users/snapshots.py)."""
    for name, value in values.items():
        setattr(user, name, value)
    user.updated_at = utcnow()
    session.add(user)
    notify(session, "account", [user.username])
    session.commit()


# -- device tokens (OWASP's device cookies) -----------------------------------------------------------------

DEVICE = "device"  # the purpose tokens' purpose


def issue_device_token(settings: Settings, username: str) -> str:
    """After a successful login: proof, for the next logins from this client, that it is a known device."""
    claims = {"sub": username, "dev": uuid.uuid4().hex}
    return settings.purpose_tokens().issue(DEVICE, claims, timedelta(days=settings.device_token_days))


def device_of(settings: Settings, token: str, username: str) -> str | None:
    """The device id of a valid device token of this account; None for anything else (never an error)."""
    try:
        claims = settings.purpose_tokens().read(DEVICE, token)
    except AuthPASETOException:
        return None
    device, owner = claims.get("dev"), claims.get("sub")
    return device if owner == username and isinstance(device, str) else None
