"""An account's life beyond logging in: registration, a forgotten password, a verified address.

Links in mails carry one-time tokens (paseto/purpose.py), each bound to its purpose. None is
stored, yet each works once, because it binds to what its use changes: a reset token to a
fingerprint of the password hash it was issued against (the reset changes the hash), a verification
token to the address it verifies and the address the account had when it was issued.
A request for a mail is answered before anything about the address is looked up (`send_reset_link`
runs as a background task, after the answer): the answer is the same, and as quick, for every address.
"""

import hashlib
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from ..auth import service as auth_service
from ..auth.revocation import RevokedFamilies
from ..config import Settings
from ..database import UNAVAILABLE_ERRORS, notify, utcnow
from ..logs import security_event
from ..mail import Mailer, compose
from ..paseto.exceptions import InvalidLinkError, UsedLinkError
from ..users import service as users_service
from ..users import throttle
from ..users.exceptions import TooManyAttemptsError, UserError
from ..users.models import User
from ..users.snapshots import Account

logger = logging.getLogger(__name__)
RESET, VERIFY = "password-reset", "email-verification"  # the one-time tokens' purposes


def _fingerprint(hashed_password: str) -> str:
    return hashlib.sha256(hashed_password.encode()).hexdigest()[:32]


def _owner(session: Session, claims: dict[str, Any]) -> User:
    subject = claims.get("sub")
    user = session.get(User, int(subject)) if isinstance(subject, str) and subject.isdigit() else None
    if user is None or not user.is_active:
        raise InvalidLinkError()
    return user


# -- registration ----------------------------------------------------------------------------------


def register(session: Session, settings: Settings, username: str, password: str, email: str | None, client: str) -> User:
    """A new account (when registration is open), limited per client address like logins."""
    if not settings.registration_open:
        raise UserError(403, "registration_closed", "Registration is closed")
    throttle.reserve(session, throttle.registration_limits(settings, client), settings.login_failure_window_seconds)
    session.commit()
    user = users_service.create_user(session, settings, username, password, email, client=client)
    security_event("user_registered", user=user.username, client=client)
    return user


# -- a forgotten password -----------------------------------------------------------------------------


def limit_mail_requests(session: Session, settings: Settings, client: str) -> None:
    """Count a request for a mail against its client address (429 past the limit); the same for every address asked about."""
    key = f"mail-request:{throttle.address_group(client)}"
    limits = [throttle.Limit(key, settings.mail_request_free_attempts, settings.login_max_lockout_seconds)]
    throttle.reserve(session, limits, settings.login_failure_window_seconds)
    session.commit()


def send_reset_link(engine: Engine, settings: Settings, mailer: Mailer, email: str, client: str) -> None:
    """After the answer: if an active account has this address, mail it a link to set a new password.

    At most one such mail per account per MAIL_INTERVAL_SECONDS: asking again is quietly ignored.
    """
    try:
        with Session(engine, expire_on_commit=False) as session:
            user = users_service.get_by_email(session, email)
            if user is None or not user.is_active or user.email is None:
                return
            if throttle.once_per(session, f"mail:reset:{user.id}", settings.mail_interval_seconds) is not None:
                return
            session.commit()
    except UNAVAILABLE_ERRORS as error:
        logger.warning("no reset mail sent (the database is unavailable): %s", type(error).__name__)
        return
    claims = {"sub": str(user.id), "pwd": _fingerprint(user.hashed_password)}
    token = settings.purpose_tokens().issue(RESET, claims, timedelta(minutes=settings.password_reset_minutes))
    security_event("password_reset_requested", user=user.username, client=client)
    link = settings.link("/password/reset", token=token)
    minutes = int(settings.password_reset_minutes)
    mailer.send(compose("password_reset", user.email, app_name=settings.app_name, username=user.username, link=link, minutes=minutes))


def reset_password(session: Session, settings: Settings, revoked: RevokedFamilies, token: str, password: str, client: str) -> User:
    """Set the password a reset link was sent for: every session ends, the guessing limits lift."""
    claims = settings.purpose_tokens().read(RESET, token)
    user = _owner(session, claims)
    hashed_before = user.hashed_password
    if claims.get("pwd") != _fingerprint(hashed_before):
        raise UsedLinkError()  # the password changed since the link was sent: by this link, or otherwise
    if not users_service.replace_password(session, settings, user, password, hashed_before, client):
        session.rollback()
        raise UsedLinkError()  # another use of the same link came first
    throttle.forget_account(session, user.username)
    session.commit()
    revoked.accounts_changed(user.username)
    assert user.id is not None
    ended = auth_service.revoke_user_sessions(session, revoked, user.id, reason="password_reset")
    security_event("password_reset", user=user.username, client=client, sessions_ended=ended)
    return user


def send_password_changed(settings: Settings, mailer: Mailer, user: Account) -> None:
    if user.email:
        forgot = settings.link("/password/forgot")
        mailer.send(compose("password_changed", user.email, app_name=settings.app_name, username=user.username, forgot_link=forgot))


# -- a verified address --------------------------------------------------------------------------------


def send_verification(settings: Settings, mailer: Mailer, user: Account, address: str) -> None:
    """Mail `address` a link that makes it the account's verified address (bound to the account's address now)."""
    claims = {"sub": str(user.id), "email": address, "from": user.email or ""}
    token = settings.purpose_tokens().issue(VERIFY, claims, timedelta(hours=settings.email_verification_hours))
    link = settings.link("/email/verify", token=token)
    hours = int(settings.email_verification_hours)
    mailer.send(
        compose("verify_email", address, app_name=settings.app_name, username=user.username, address=address, link=link, hours=hours)
    )


def verify_email(session: Session, settings: Settings, revoked: RevokedFamilies, token: str, client: str) -> User:
    """The address in the link becomes the account's, verified; 409 if another account took it meanwhile."""
    claims = settings.purpose_tokens().read(VERIFY, token)
    user = _owner(session, claims)
    address, before = claims.get("email"), claims.get("from")
    if not isinstance(address, str) or not isinstance(before, str):
        raise InvalidLinkError()
    if (user.email == address and user.email_verified_at is not None) or (user.email or "") != before:
        raise UsedLinkError()  # done already, or the account's address changed since the link was sent
    now = utcnow()
    unchanged = col(User.email) == user.email if user.email else col(User.email).is_(None)
    verify = update(User).where(col(User.id) == user.id, unchanged).values(email=address, email_verified_at=now, updated_at=now)
    try:
        if session.exec(verify).rowcount != 1:
            raise UsedLinkError()
        notify(session, "account", [user.username])
        session.commit()
    except IntegrityError:
        session.rollback()
        raise UserError(409, "email_taken", "That e-mail address is taken") from None
    revoked.accounts_changed(user.username)
    session.refresh(user)
    security_event("email_verified", user=user.username, client=client, changed=before != address)
    return user


def allow_verification_mail(session: Session, settings: Settings, user: Account) -> None:
    """At most one verification mail per account and interval (429 with the wait otherwise)."""
    wait = throttle.once_per(session, f"mail:verify:{user.id}", settings.mail_interval_seconds)
    session.commit()
    if wait is not None:
        raise TooManyAttemptsError(wait)


def resend_verification(session: Session, settings: Settings, user: Account) -> str:
    """The address to send a new verification link to (after the checks and the limit)."""
    if user.email is None:
        raise UserError(409, "no_email", "This account has no e-mail address")
    if user.email_verified_at is not None:
        raise UserError(409, "email_verified", "This address is verified already")
    allow_verification_mail(session, settings, user)
    return user.email


def send_email_change(settings: Settings, mailer: Mailer, user: Account, address: str) -> None:
    """A verification link to the new address, a notice to the old one; nothing changes until the link is used."""
    send_verification(settings, mailer, user, address)
    if user.email and user.email != address:
        forgot = settings.link("/password/forgot")
        context = {"app_name": settings.app_name, "username": user.username, "new_address": address, "forgot_link": forgot}
        mailer.send(compose("email_change_notice", user.email, **context))
