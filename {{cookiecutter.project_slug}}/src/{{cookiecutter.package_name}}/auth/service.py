"""The refresh-token pattern: start a session, rotate refresh tokens, detect reuse, revoke sessions."""

import hashlib
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, NoReturn

from sqlalchemy import delete, or_, update
from sqlmodel import Session, col, select

from ..activity import service as activity
from ..activity.events import EventType
from ..activity.notices import NewDevice, new_device_notice
from ..config import Settings
from ..database import as_utc, notify, utcnow
from ..logs import security_event
from ..mfa import service as mfa_service
from ..mfa.exceptions import InvalidMfaTokenError, MfaRequiredError
from ..observability import metrics
from ..paseto import AuthPASETO, AuthPASETOException
from ..paseto.exceptions import RevokedTokenError
from ..paseto.tokens import decode_token
from ..passkeys import ceremonies as passkey_ceremonies
from ..users import service as users_service
from ..users import throttle
from ..users.exceptions import InvalidCredentialsError, UserError
from ..users.models import User
from ..users.snapshots import Account
from .exceptions import SessionExpiredError, TokenReusedError
from .models import TokenFamily
from .revocation import RevokedFamilies
from .schemas import SessionView


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str | None = None  # None when only the access token is renewed (fresh login)
    device_token: str | None = None  # after a password check: this client is a known device from now on
    new_device: NewDevice | None = None  # a login from a client without a device token: what to mail its owner
    refresh_expires_in: float | None = None  # seconds: the refresh lifetime, or less where the session ends sooner


def token_digest(token: str) -> str:
    """What a session stores of its newest refresh token: enough to recognise it, useless to steal."""
    return hashlib.sha256(token.encode()).hexdigest()


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def log_in(
    session: Session,
    settings: Settings,
    auth: AuthPASETO,
    username: str,
    password: str,
    client: str,
    *,
    user_agent: str = "",
    device_token: str | None = None,
) -> IssuedTokens:
    """Check the password (throttled), then start a session; with REQUIRE_VERIFIED_EMAIL, only for a verified address.

    An account with a second factor gets no session yet: MfaRequiredError carries the token of the second
    step (`complete_login`). A device token never skips it.
    """
    with metrics.outcomes("login"):  # success, or the refusal's code (mfa_required: the second step follows)
        user, known = users_service.check_login(session, settings, username, password, client, device_token, user_agent=user_agent)
        if settings.require_verified_email and user.email_verified_at is None:
            session.commit()  # the password was right: the attempt is given back, as for any success
            raise UserError(403, "email_unverified", "Verify your e-mail address first: the link is in the mail we sent")
        if user.mfa_enabled:
            activity.record(session, EventType.MFA_REQUESTED, user.username, client, user_agent=user_agent)
            session.commit()
            mfa_token = mfa_service.issue_mfa_token(settings, user, known_device=known)
            raise MfaRequiredError(mfa_token, mfa_service.methods(session, user))
        tokens = start_session(session, settings, auth, user, client, user_agent, new_device=not known)
    return replace(tokens, device_token=users_service.issue_device_token(settings, user))


def complete_login(
    session: Session,
    settings: Settings,
    auth: AuthPASETO,
    mfa_token: str,
    client: str,
    *,
    user_agent: str = "",
    code: str | None = None,
    recovery_code: str | None = None,
    passkey: dict[str, Any] | None = None,
) -> IssuedTokens:
    """The second step: an mfa_token and a factor (a TOTP code, a recovery code or a passkey) for the session."""
    with metrics.outcomes("login"):
        pending = mfa_service.read_mfa_token(session, settings, mfa_token)
        if pending.family is not None:
            raise InvalidMfaTokenError()  # a re-authentication's token is no login
        proved = mfa_service.prove(session, settings, pending, client, code=code, recovery_code=recovery_code, passkey=passkey)
        amr = sorted({*pending.amr, *proved, "mfa"})
        auth_time = datetime.fromisoformat(pending.auth_time)
        new_device = not pending.known_device
        tokens = start_session(
            session, settings, auth, pending.user, client, user_agent, amr=amr, auth_time=auth_time, new_device=new_device
        )
    return replace(tokens, device_token=users_service.issue_device_token(settings, pending.user))


def log_in_with_passkey(
    session: Session, settings: Settings, auth: AuthPASETO, credential: dict[str, Any], client: str, *, user_agent: str = ""
) -> IssuedTokens:
    """A passwordless login: a passkey that verified its user is two factors at once (the device, and the PIN or
    biometric that unlocked it), so the session starts with `mfa`. Failures count against the client's address
    as wrong passwords do (users/throttle.py); a success gives its attempt back."""
    with metrics.outcomes("login"):
        limit = throttle.Limit(
            f"address:{throttle.address_group(client)}", settings.login_address_free_failures, settings.login_max_lockout_seconds
        )
        reservation = throttle.reserve(session, [limit], settings.login_failure_window_seconds)
        session.commit()
        try:
            passkey = passkey_ceremonies.verify_assertion(session, settings, credential, "login", client=client)
        except AuthPASETOException:
            session.rollback()
            security_event("login_failed", method="passkey", client=client)
            raise
        user = session.get(User, passkey.user_id)
        if user is None or not user.is_active:
            session.rollback()
            raise InvalidCredentialsError()
        throttle.release(session, reservation)
        session.commit()
        if settings.require_verified_email and user.email_verified_at is None:
            raise UserError(403, "email_unverified", "Verify your e-mail address first: the link is in the mail we sent")
        amr = sorted({passkey_ceremonies.amr_of(passkey), "user", "mfa"})
        tokens = start_session(session, settings, auth, user, client, user_agent, amr=amr)
    return replace(tokens, device_token=users_service.issue_device_token(settings, user))


def start_session(
    session: Session,
    settings: Settings,
    auth: AuthPASETO,
    user: User,
    client: str,
    user_agent: str = "",
    *,
    amr: list[str] | None = None,
    auth_time: datetime | None = None,
    new_device: bool = False,
) -> IssuedTokens:
    """Login: a new family, a fresh access token and its first refresh token. Commits the session.

    The family ends when unused for the refresh lifetime, or SESSION_MAX_DAYS after now, whichever
    comes first; refresh tokens carry that absolute end (`end`), so none outlives it, and no access token
    does either. An account keeps at most MAX_SESSIONS_PER_ACCOUNT: past it, the session used longest ago ends.
    Every token of the session says how and when the person proved who they are (`amr`, RFC 8176, and
    `auth_time`): a refresh keeps both. `new_device`: a password login from a client without a device token
    of the account (its owner is told by mail: activity/notices.py); never the login of a registration.
    """
    assert user.id is not None
    family_id, now = uuid.uuid4().hex, utcnow()
    ends_at = now + timedelta(days=settings.session_max_days)
    expires_at = min(now + auth.config.refresh_token_expires, ends_at)
    proof = {"amr": amr or ["pwd"], "auth_time": _iso(auth_time or now)}
    claims = {"fam": family_id, "end": _iso(ends_at), **proof}
    refresh_token = auth.create_refresh_token(subject=user.username, expires_time=expires_at - now, user_claims=claims)
    access_token = _access_token(auth, user.username, family_id, ends_at - now, fresh=True, proof=proof)
    family = TokenFamily(
        id=family_id,
        user_id=user.id,
        current_token_hash=token_digest(refresh_token),
        created_at=now,
        expires_at=expires_at,
        ends_at=ends_at,
        last_used_at=now,
        client_address=client,
        user_agent=user_agent,
    )
    session.add(family)
    activity.record(session, EventType.LOGIN, user.username, client, user_agent=user_agent, family=family_id, new_device=new_device or None)
    session.commit()
    _end_sessions_past_the_limit(session, user, settings.max_sessions_per_account)
    expires_in = (expires_at - now).total_seconds()
    notice = new_device_notice(settings, user.username, user.email, client, user_agent, now) if new_device else None
    return IssuedTokens(access_token, refresh_token, refresh_expires_in=expires_in, new_device=notice)


def _access_token(auth: AuthPASETO, username: str, family_id: str, session_left: timedelta, fresh: bool, proof: dict[str, Any]) -> str:
    """An access token of the family, expiring after its lifetime or when the session ends, whichever is first."""
    lifetime = min(auth.config.access_token_expires, session_left)
    return auth.create_access_token(subject=username, fresh=fresh, expires_time=lifetime, user_claims={"fam": family_id, **proof})


def _proof(claims: dict[str, Any]) -> dict[str, Any]:
    """How the session's person proved who they are, as its tokens carry it (tokens from before amr: a password)."""
    return {"amr": claims.get("amr") or ["pwd"], "auth_time": claims.get("auth_time") or claims.get("iat")}


def _end_sessions_past_the_limit(session: Session, user: User, limit: int) -> None:
    """Logins that never log out (a script, a flood) cannot grow an account's sessions without bound."""
    assert user.id is not None
    surplus = [family.id for family in live_sessions(session, user.id)[limit:]]
    if surplus:
        ended = len(surplus)
        activity.record(session, EventType.SESSIONS_OVER_LIMIT_ENDED, user.username, None, actor=activity.SYSTEM, sessions_ended=ended)
        revoke_families(session, None, surplus, reason="session_limit")


def rotate(
    session: Session,
    auth: AuthPASETO,
    revoked: RevokedFamilies,
    claims: dict[str, Any],
    client: str,
    *,
    user_agent: str = "",
    grace_seconds: float = 0,
) -> IssuedTokens:
    """Refresh: spend the presented refresh token for a new pair. A spent token revokes its family.

    The new refresh token expires after the refresh lifetime, but never past the session's absolute end.
    """
    family_id, presented = claims["fam"], token_digest(auth.get_encoded_token() or "")
    now = utcnow()
    ends_at = _ends_at(claims, now + auth.config.refresh_token_expires)
    expires_at = min(now + auth.config.refresh_token_expires, ends_at)
    if expires_at <= now:
        raise SessionExpiredError()
    proof = _proof(claims)
    refresh_token = auth.create_refresh_token(
        subject=claims["sub"], expires_time=expires_at - now, user_claims={"fam": family_id, "end": _iso(ends_at), **proof}
    )
    family = col(TokenFamily.id) == family_id
    live = (col(TokenFamily.revoked_at).is_(None), col(TokenFamily.ends_at) > now)
    renewed = {"current_token_hash": token_digest(refresh_token), "last_used_at": now, "client_address": client, "user_agent": user_agent}
    # Compare-and-swap: of two requests racing with the same token, exactly one matches.
    spend = update(TokenFamily).where(family, *live, col(TokenFamily.current_token_hash) == presented)
    swapped = session.exec(spend.values(previous_token_hash=presented, rotated_at=now, expires_at=expires_at, **renewed)).rowcount == 1
    if not swapped and grace_seconds:
        # A retry of the refresh just made (its answer was lost): replace that answer's tokens. The window
        # stays counted from that refresh (rotated_at is kept), so retries cannot stretch it.
        retry = update(TokenFamily).where(
            family,
            *live,
            col(TokenFamily.previous_token_hash) == presented,
            col(TokenFamily.rotated_at) > now - timedelta(seconds=grace_seconds),
        )
        swapped = session.exec(retry.values(**renewed)).rowcount == 1
    if swapped:
        session.commit()
        security_event("refresh", user=claims["sub"], family=family_id, client=client)
        access_token = _access_token(auth, claims["sub"], family_id, ends_at - now, fresh=False, proof=proof)
        return IssuedTokens(access_token, refresh_token, refresh_expires_in=(expires_at - now).total_seconds())
    session.rollback()
    _refuse_refresh_token(session, revoked, claims, client)


def require_newest_refresh_token(session: Session, revoked: RevokedFamilies, claims: dict[str, Any], token: str, client: str) -> None:
    """A refresh token is worth something only while it is its session's newest: wherever one is presented
    without being spent (logout, /revoke, introspection), a spent one ends its session as reuse, and
    one of an ended session raises RevokedTokenError (or SessionExpiredError)."""
    now = utcnow()
    newest = select(TokenFamily.id).where(
        col(TokenFamily.id) == claims.get("fam"),
        col(TokenFamily.current_token_hash) == token_digest(token),
        col(TokenFamily.revoked_at).is_(None),
        col(TokenFamily.expires_at) > now,
        col(TokenFamily.ends_at) > now,
    )
    if session.exec(newest).first() is None:
        _refuse_refresh_token(session, revoked, claims, client)


def _refuse_refresh_token(session: Session, revoked: RevokedFamilies | None, claims: dict[str, Any], client: str) -> NoReturn:
    """A refresh token that is not its session's newest: the session has ended, or the token was spent (reuse)."""
    family_id = claims.get("fam")
    row = session.get(TokenFamily, family_id) if isinstance(family_id, str) else None
    if row is None or row.revoked_at is not None:
        raise RevokedTokenError()
    if as_utc(row.ends_at) <= utcnow() or as_utc(row.expires_at) <= utcnow():
        raise SessionExpiredError()
    reused = EventType.REFRESH_TOKEN_REUSED
    activity.record(session, reused, claims["sub"], client, actor=activity.ANONYMOUS, warning=True, family=row.id)
    revoke_families(session, revoked, [row.id], reason="reuse")
    metrics.reuse_detected()
    raise TokenReusedError()


def _ends_at(claims: dict[str, Any], fallback: datetime) -> datetime:
    """The session's absolute end, as its refresh token carries it."""
    try:
        return datetime.fromisoformat(claims["end"])
    except (KeyError, TypeError, ValueError):
        return fallback


def require_live_session(session: Session, family_id: str) -> datetime:
    """Only a session that has not ended (logged out, or past its refresh token's lifetime) may go on: its absolute end."""
    now = utcnow()
    live = select(TokenFamily.ends_at).where(
        col(TokenFamily.id) == family_id,
        col(TokenFamily.revoked_at).is_(None),
        col(TokenFamily.expires_at) > now,
        col(TokenFamily.ends_at) > now,
    )
    ends_at = session.exec(live).first()
    if ends_at is None:
        raise RevokedTokenError()
    return as_utc(ends_at)


def describe_session(session: Session, claims: dict[str, Any]) -> SessionView:
    """What the page may know of its session: the access token's claims, and when the session's refresh token expires."""
    expires_at = session.exec(select(TokenFamily.expires_at).where(col(TokenFamily.id) == claims["fam"])).first()
    return SessionView(
        user=claims["sub"],
        family=claims["fam"],
        fresh=claims["fresh"],
        issued_at=claims["iat"],
        expires_at=claims["exp"],
        refresh_expires_at=as_utc(expires_at).isoformat(timespec="seconds") if expires_at else None,
    )


def reauthenticate(session: Session, settings: Settings, auth: AuthPASETO, claims: dict[str, Any], password: str, client: str) -> str:
    """Re-enter the password: a fresh access token in the same family (no new refresh token).

    An account with a second factor must prove it too: MfaRequiredError carries the token of that step
    (`reauthenticate_mfa`), bound to this session.
    """
    ends_at = require_live_session(session, claims["fam"])  # a fresh token must not outlive the session
    user = users_service.check_password(session, settings, claims["sub"], password, client)
    if not user.mfa_enabled:
        activity.record(session, EventType.FRESH_LOGIN, claims["sub"], client, family=claims["fam"])
    session.commit()
    if user.mfa_enabled:
        raise MfaRequiredError(mfa_service.issue_mfa_token(settings, user, family=claims["fam"]), mfa_service.methods(session, user))
    proof = {"amr": ["pwd"], "auth_time": _iso(utcnow())}
    return _access_token(auth, claims["sub"], claims["fam"], ends_at - utcnow(), fresh=True, proof=proof)


def reauthenticate_mfa(
    session: Session,
    settings: Settings,
    auth: AuthPASETO,
    claims: dict[str, Any],
    mfa_token: str,
    client: str,
    *,
    code: str | None = None,
    recovery_code: str | None = None,
    passkey: dict[str, Any] | None = None,
) -> str:
    """The second step of a re-authentication: a fresh access token that proved the strongest factor."""
    pending = mfa_service.read_mfa_token(session, settings, mfa_token)
    if pending.family != claims["fam"] or pending.user.username != claims["sub"]:
        raise InvalidMfaTokenError()  # for another session, or a login's
    ends_at = require_live_session(session, claims["fam"])
    proved = mfa_service.prove(session, settings, pending, client, code=code, recovery_code=recovery_code, passkey=passkey)
    activity.record(session, EventType.FRESH_LOGIN, claims["sub"], client, family=claims["fam"], mfa=True)
    session.commit()
    proof = {"amr": sorted({*pending.amr, *proved, "mfa"}), "auth_time": pending.auth_time}
    return _access_token(auth, claims["sub"], claims["fam"], ends_at - utcnow(), fresh=True, proof=proof)


def change_password(
    session: Session,
    settings: Settings,
    revoked: RevokedFamilies,
    user: Account,
    family_id: str,
    client: str,
    *,
    current_password: str,
    new_password: str,
) -> None:
    """Check the current password and set the new one; every session but this one (`family_id`) ends."""
    users_service.check_password_rules(settings, new_password)
    users_service.check_password(session, settings, user.username, current_password, client)
    session.commit()  # end the throttle's transaction before the new hash takes its ~100 ms
    users_service.set_password(session, settings, user, new_password, client)
    assert user.id is not None
    # Stored with the end of the other sessions, the change's last step (its log line says how many ended).
    event = activity.Event(EventType.PASSWORD_CHANGED, user.username, client, fields={"family": family_id})
    revoke_user_sessions(session, revoked, user.id, reason="password_changed", keep=family_id, event=event)


def log_out(session: Session, revoked: RevokedFamilies, claims: dict[str, Any], client: str) -> None:
    """End this session (the family of the token presented)."""
    activity.record(session, EventType.LOGOUT, claims["sub"], client, family=claims["fam"])
    revoke_families(session, revoked, [claims["fam"]], reason="logout")


def log_out_everywhere(session: Session, revoked: RevokedFamilies, user: Account, client: str) -> None:
    assert user.id is not None
    revoke_user_sessions(session, revoked, user.id, reason="logout_all", event=activity.Event(EventType.LOGOUT_ALL, user.username, client))


def revoke_families(session: Session, revoked: RevokedFamilies | None, family_ids: list[str], reason: str) -> None:
    """Revoke these sessions in the database and here at once; every other instance refuses them within the
    revocation read (a second), or at once on PostgreSQL, where the commit notifies them (auth/listener.py)."""
    if family_ids:
        session.exec(
            update(TokenFamily)
            .where(col(TokenFamily.id).in_(family_ids), col(TokenFamily.revoked_at).is_(None))
            .values(revoked_at=utcnow(), revoked_reason=reason)
        )
        notify(session, "family", family_ids)
    session.commit()
    metrics.sessions_revoked(reason, len(family_ids))
    if revoked is not None:
        revoked.add(*family_ids)


def revoke_user_sessions(
    session: Session,
    revoked: RevokedFamilies | None,
    user_id: int,
    reason: str,
    keep: str | None = None,
    *,
    event: activity.Event | None = None,
) -> int:
    """Log a user out everywhere (except, optionally, the family `keep`); returns how many sessions ended.

    `event`: the security event this is part of, recorded in the same transaction with `sessions_ended`.
    """
    query = select(TokenFamily.id).where(TokenFamily.user_id == user_id, col(TokenFamily.revoked_at).is_(None))
    families = [family for family in session.exec(query) if family != keep]
    if event is not None:
        activity.write(session, event, sessions_ended=len(families))
    revoke_families(session, revoked, families, reason)
    return len(families)


def live_sessions(session: Session, user_id: int) -> list[TokenFamily]:
    """The user's sessions that may still refresh, the one used last first."""
    now = utcnow()
    query = select(TokenFamily).where(
        col(TokenFamily.user_id) == user_id,
        col(TokenFamily.revoked_at).is_(None),
        col(TokenFamily.expires_at) > now,
        col(TokenFamily.ends_at) > now,
    )
    return list(session.exec(query.order_by(col(TokenFamily.last_used_at).desc(), col(TokenFamily.id))))


def end_session(session: Session, revoked: RevokedFamilies, user: Account, family_id: str, client: str) -> None:
    """End one of the user's sessions (a device); 404 for any id that is not a live session of theirs."""
    assert user.id is not None
    if not any(family.id == family_id for family in live_sessions(session, user.id)):
        raise UserError(404, "not_found", "No such session")
    activity.record(session, EventType.SESSION_ENDED, user.username, client, family=family_id)
    revoke_families(session, revoked, [family_id], reason="ended")


def revoke_token(session: Session, auth: AuthPASETO, revoked: RevokedFamilies, token: str, client: str) -> None:
    """RFC 7009: end the session a token (refresh or access) belongs to. Nothing happens, and nothing is
    said, for a token that is not valid or whose session has ended: the answer is the same either way.
    A spent refresh token is reuse (its session ends as such), never a key to anything else."""
    try:
        claims = decode_token(auth.config, token)
        family_id = claims.get("fam")
        if not isinstance(family_id, str) or revoked.is_revoked(family_id):
            return
        if claims["type"] == "refresh":
            require_newest_refresh_token(session, revoked, claims, token, client)
    except AuthPASETOException:
        return
    activity.record(session, EventType.TOKEN_REVOKED, claims["sub"], client, family=family_id)
    revoke_families(session, revoked, [family_id], reason="revoked")


def purge_expired(session: Session, access_token_lifetime: timedelta) -> int:
    """Delete families whose last refresh token, and every access token, has expired; returns how many."""
    ended = utcnow() - access_token_lifetime
    result = session.exec(delete(TokenFamily).where(or_(col(TokenFamily.expires_at) < ended, col(TokenFamily.ends_at) < ended)))
    session.commit()
    return result.rowcount
