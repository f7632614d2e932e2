"""The refresh-token pattern: log in, rotate refresh tokens, detect reuse, revoke sessions."""

import hashlib
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from ..config import Settings
from ..database import utcnow
from ..paseto import AuthPASETO
from ..paseto.exceptions import RevokedTokenError
from ..users import service as users_service
from ..users.models import User
from . import throttle
from .exceptions import InvalidCredentialsError, TokenReusedError
from .models import TokenFamily
from .revocation import RevokedFamilies


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_password(session: Session, settings: Settings, username: str, password: str, client: str) -> User:
    """The user with this password, or InvalidCredentialsError; throttled per account and address."""
    account, address = throttle.account_key(username), throttle.address_key(client)
    limits = [throttle.Limit(account, settings.login_free_failures), throttle.Limit(address, settings.login_ip_free_failures)]
    throttle.count_attempt(session, limits, settings.login_failure_window_seconds, settings.login_max_lockout_seconds)
    user = users_service.authenticate(session, username, password)
    if user is None:
        raise InvalidCredentialsError()
    throttle.forgive(session, account, address)
    return user


def start_session(session: Session, auth: AuthPASETO, user: User) -> IssuedTokens:
    """Login: a new family, a fresh access token and its first refresh token."""
    family_id = uuid.uuid4().hex
    refresh_token = auth.create_refresh_token(subject=user.username, user_claims={"fam": family_id})
    access_token = auth.create_access_token(subject=user.username, fresh=True, user_claims={"fam": family_id})
    assert user.id is not None
    session.add(
        TokenFamily(
            id=family_id,
            user_id=user.id,
            current_token_hash=_digest(refresh_token),
            expires_at=utcnow() + auth.config.refresh_token_expires,
        )
    )
    session.commit()
    return IssuedTokens(access_token, refresh_token)


def rotate(session: Session, auth: AuthPASETO, revoked: RevokedFamilies, presented: str, claims: dict[str, Any]) -> IssuedTokens:
    """Refresh: spend the presented refresh token for a new pair. A spent token revokes its family."""
    family_id = claims["fam"]
    refresh_token = auth.create_refresh_token(subject=claims["sub"], user_claims={"fam": family_id})
    # Compare-and-swap: of two requests racing with the same token, exactly one matches.
    swapped = session.exec(
        update(TokenFamily)
        .where(
            col(TokenFamily.id) == family_id,
            col(TokenFamily.current_token_hash) == _digest(presented),
            col(TokenFamily.revoked_at).is_(None),
        )
        .values(current_token_hash=_digest(refresh_token), expires_at=utcnow() + auth.config.refresh_token_expires)
    )
    if swapped.rowcount == 1:
        session.commit()
        access_token = auth.create_access_token(subject=claims["sub"], fresh=False, user_claims={"fam": family_id})
        return IssuedTokens(access_token, refresh_token)
    session.rollback()
    family = session.get(TokenFamily, family_id)
    if family is None or family.revoked_at is not None:
        raise RevokedTokenError()
    revoke_families(session, revoked, [family_id], reason="reuse")
    raise TokenReusedError()


def fresh_access_token(auth: AuthPASETO, claims: dict[str, Any]) -> str:
    """Re-authentication: a fresh access token in the same family, after the password was checked."""
    return auth.create_access_token(subject=claims["sub"], fresh=True, user_claims={"fam": claims["fam"]})


def revoke_families(session: Session, revoked: RevokedFamilies, family_ids: list[str], reason: str) -> None:
    if not family_ids:
        return
    session.exec(
        update(TokenFamily)
        .where(col(TokenFamily.id).in_(family_ids), col(TokenFamily.revoked_at).is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )
    session.commit()
    revoked.add(*family_ids)


def revoke_user_sessions(session: Session, revoked: RevokedFamilies, user_id: int, reason: str, keep: str | None = None) -> None:
    """Log a user out everywhere (except, optionally, the family `keep`)."""
    query = select(TokenFamily.id).where(TokenFamily.user_id == user_id, col(TokenFamily.revoked_at).is_(None))
    revoke_families(session, revoked, [family for family in session.exec(query) if family != keep], reason)


def purge_expired(session: Session, access_token_lifetime: timedelta) -> int:
    """Delete families whose last refresh token, and every access token, has expired; returns how many."""
    result = session.exec(delete(TokenFamily).where(col(TokenFamily.expires_at) < utcnow() - access_token_lifetime))
    session.commit()
    return result.rowcount
