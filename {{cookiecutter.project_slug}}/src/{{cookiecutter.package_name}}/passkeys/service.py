"""An account's passkeys: registering one (a second factor, and a passwordless login), listing, renaming,
removing. The ceremonies themselves (challenges, signatures, counters) are in ceremonies.py; adding or
removing a passkey changes the account's second-factor state (mfa/service.py `update_mfa_enabled`: its
security stamp moves, so pending second steps and device tokens die)."""

import secrets
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from webauthn.helpers import base64url_to_bytes

from ..activity import service as activity
from ..activity.events import EventType
from ..config import Settings
from ..mfa import service as mfa_service
from ..users.exceptions import UserError
from ..users.snapshots import Account
from . import ceremonies
from .models import Passkey
from .schemas import PasskeyView

MAX_PASSKEYS = 20  # per account: each one is a row and an entry of every second step's allowCredentials


def passkeys_of(session: Session, user: Account) -> list[Passkey]:
    return list(session.exec(select(Passkey).where(Passkey.user_id == user.id).order_by(col(Passkey.created_at), col(Passkey.id))))


def view(passkey: Passkey) -> PasskeyView:
    assert passkey.id is not None
    return PasskeyView(
        id=passkey.id,
        name=passkey.name,
        created_at=passkey.created_at,
        last_used_at=passkey.last_used_at,
        synced=ceremonies.is_synced(passkey),
        backed_up=passkey.backed_up,
        transports=[hint for hint in passkey.transports.split(",") if hint],
    )


def registration_options(session: Session, settings: Settings, user: Account, client: str) -> dict[str, Any]:
    existing = passkeys_of(session, user)
    if len(existing) >= MAX_PASSKEYS:
        raise UserError(409, "too_many_passkeys", f"An account has at most {MAX_PASSKEYS} passkeys: remove one first")
    # The account's user handle on its authenticators: random, kept with its passkeys (never its name or id).
    handle = base64url_to_bytes(existing[0].user_handle) if existing else secrets.token_bytes(32)
    return ceremonies.registration_options(session, settings, user, existing, client, handle)


def register(session: Session, settings: Settings, user: Account, credential: dict[str, Any], name: str, client: str) -> Passkey:
    """Store the passkey the browser made for this account's options; the account has a second factor from now on."""
    new = ceremonies.verify_registration(session, settings, user, credential)
    if len(passkeys_of(session, user)) >= MAX_PASSKEYS:
        raise UserError(409, "too_many_passkeys", f"An account has at most {MAX_PASSKEYS} passkeys: remove one first")
    assert user.id is not None
    passkey = Passkey(user_id=user.id, name=name.strip() or "Passkey", **vars(new))
    session.add(passkey)
    try:
        session.flush()
    except IntegrityError:  # the unique credential id decides, for concurrent registrations too
        session.rollback()
        raise UserError(409, "passkey_exists", "That passkey is registered already") from None
    activity.record(session, EventType.MFA_ADDED, user.username, client, method="passkey", passkey=passkey.id)
    session.commit()
    session.refresh(passkey)
    mfa_service.update_mfa_enabled(session, user)
    return passkey


def rename(session: Session, user: Account, passkey_id: int, name: str) -> Passkey:
    passkey = _own(session, user, passkey_id)
    passkey.name = name.strip() or passkey.name
    session.add(passkey)
    session.commit()
    session.refresh(passkey)
    return passkey


def remove(session: Session, user: Account, passkey_id: int, client: str) -> str:
    """Delete one of the account's passkeys (its name is returned); with its last second factor gone, the
    password alone logs in again."""
    passkey = _own(session, user, passkey_id)
    name = passkey.name
    session.delete(passkey)
    activity.record(session, EventType.MFA_REMOVED, user.username, client, method="passkey", passkey=passkey_id)
    session.commit()
    mfa_service.update_mfa_enabled(session, user)
    return name


def _own(session: Session, user: Account, passkey_id: int) -> Passkey:
    """The caller's passkey of this id; 404 for any other (another account's is not even said to exist)."""
    passkey = session.get(Passkey, passkey_id)
    if passkey is None or passkey.user_id != user.id:
        raise UserError(404, "not_found", "No such passkey")
    return passkey
