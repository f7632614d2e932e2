"""An account's life beyond logging in: registration, a forgotten password, a verified address.

Links in mails carry one-time tokens (paseto/purpose.py), each bound to its purpose. None is
stored, yet each works once, because each is bound to the state of the account it was issued
against: the account's security stamp, which every change to its password, address, verification or
activation renews (users/service.py). Using the link changes that state, and so does any other change
since it was mailed: no later sequence of changes (an address changed and changed back) can revive it.
A request for a mail is answered before anything about the address is looked up (`send_reset_link`
runs as a background task, after the answer), and the work after the answer is the same for every
address: the answer is the same, and as quick, whether or not an account has it, and so is the next one.
"""

import hashlib
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from ..activity import service as activity
from ..activity.events import EventType
from ..auth import service as auth_service
from ..auth.revocation import RevokedFamilies
from ..config import Settings
from ..database import UNAVAILABLE_ERRORS, utcnow
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
# Who a reset link is made for when no account has the address: the same work, mailed to nobody.
NOBODY = (0, "nobody", "0" * 32)


def _owner(session: Session, claims: dict[str, Any]) -> tuple[User, str]:
    """The active account a link was issued for, and the stamp it was issued under: still the account's, or it is used."""
    subject, stamp = claims.get("sub"), claims.get("stamp")
    user = session.get(User, int(subject)) if isinstance(subject, str) and subject.isdigit() else None
    if user is None or not user.is_active or not isinstance(stamp, str):
        raise InvalidLinkError()
    if stamp != user.security_stamp:
        raise UsedLinkError()  # the account changed since the link was sent: by this link, or otherwise
    return user, stamp


def current_stamp(session: Session, user: Account) -> str:
    """The account's security stamp now, to bind a link to (a snapshot does not carry it)."""
    stamp: str = session.exec(select(User.security_stamp).where(User.id == user.id)).one()
    return stamp


# -- registration ----------------------------------------------------------------------------------


def register(session: Session, settings: Settings, username: str, password: str, email: str | None, client: str) -> User:
    """A new account (when registration is open), limited per client address like logins."""
    if not settings.registration_open:
        raise UserError(403, "registration_closed", "Registration is closed")
    throttle.reserve(session, throttle.registration_limits(settings, client), settings.login_failure_window_seconds)
    session.commit()
    return users_service.create_user(session, settings, username, password, email, client=client)  # the event too


# -- a forgotten password -----------------------------------------------------------------------------


def limit_mail_requests(session: Session, settings: Settings, client: str) -> None:
    """Count a request for a mail against its client address (429 past the limit); the same for every address asked about."""
    key = f"mail-request:{throttle.address_group(client)}"
    limits = [throttle.Limit(key, settings.mail_request_free_attempts, settings.login_max_lockout_seconds)]
    throttle.reserve(session, limits, settings.login_failure_window_seconds)
    session.commit()


def send_reset_link(engine: Engine, settings: Settings, mailer: Mailer, email: str, client: str) -> None:
    """After the answer: if an active account has this address, mail it a link to set a new password.

    The same work for every address, so nothing after the answer (the next request's wait behind this
    one's database write and CPU) tells a known address from an unknown one: one read, the address's
    mail count, a token and a mail composed; only a known account's mail is then sent. At most one such
    mail per address per MAIL_INTERVAL_SECONDS: asking again is quietly ignored.
    """
    # Columns, not an ORM object: building one for a known address only would be work of its own.
    account = select(User.id, User.username, User.security_stamp).where(User.email == email.lower(), col(User.is_active))
    key = f"mail:reset:{hashlib.sha256(email.lower().encode()).hexdigest()}"  # no unknown address is stored
    try:
        with Session(engine) as session:
            found = session.exec(account).first()
            due = throttle.claim(session, key, settings.mail_interval_seconds)  # one statement, due or not
            session.commit()
    except UNAVAILABLE_ERRORS as error:
        logger.warning("no reset mail sent (the database is unavailable): %s", type(error).__name__)
        return
    user_id, username, stamp = found or NOBODY
    lifetime = timedelta(minutes=settings.password_reset_minutes)
    token = settings.purpose_tokens().issue(RESET, {"sub": str(user_id), "stamp": stamp}, lifetime)
    link, minutes = settings.link("/password/reset", token=token), int(settings.password_reset_minutes)
    message = compose("password_reset", email, app_name=settings.app_name, username=username, link=link, minutes=minutes)
    if found is not None and due:
        security_event("password_reset_requested", user=username, client=client)
        mailer.send(message)


def reset_password(session: Session, settings: Settings, revoked: RevokedFamilies, token: str, password: str, client: str) -> User:
    """Set the password a reset link was sent for: every session ends, the guessing limits lift."""
    user, stamp = _owner(session, settings.purpose_tokens().read(RESET, token))
    if not users_service.set_password(session, settings, user, password, client, unless_stamp_moved=stamp):
        raise UsedLinkError()  # another use of the same link (or another change) came first
    throttle.forget_account(session, user.username)
    session.commit()
    assert user.id is not None
    event = activity.Event(EventType.PASSWORD_RESET, user.username, client)
    auth_service.revoke_user_sessions(session, revoked, user.id, reason="password_reset", event=event)
    return user


def send_password_changed(settings: Settings, mailer: Mailer, user: Account) -> None:
    if user.email:
        forgot = settings.link("/password/forgot")
        mailer.send(compose("password_changed", user.email, app_name=settings.app_name, username=user.username, forgot_link=forgot))


# -- a verified address --------------------------------------------------------------------------------


def send_verification(settings: Settings, mailer: Mailer, user: Account, address: str, stamp: str) -> None:
    """Mail `address` a link that makes it the account's verified address, bound to the account's stamp now."""
    claims = {"sub": str(user.id), "email": address, "stamp": stamp}
    token = settings.purpose_tokens().issue(VERIFY, claims, timedelta(hours=settings.email_verification_hours))
    link = settings.link("/email/verify", token=token)
    hours = int(settings.email_verification_hours)
    mailer.send(
        compose("verify_email", address, app_name=settings.app_name, username=user.username, address=address, link=link, hours=hours)
    )


def verify_email(session: Session, settings: Settings, revoked: RevokedFamilies, token: str, client: str) -> User:
    """The address in the link becomes the account's, verified; 409 if another account took it meanwhile."""
    claims = settings.purpose_tokens().read(VERIFY, token)
    address = claims.get("email")
    if not isinstance(address, str):
        raise InvalidLinkError()
    user, stamp = _owner(session, claims)
    before = user.email
    # Stored in the change's transaction: a link used twice, or an address taken meanwhile, stores nothing.
    activity.record(session, EventType.EMAIL_VERIFIED, user.username, client, changed=before != address)
    try:
        verified = users_service.change_account(session, user, unless_stamp_moved=stamp, email=address, email_verified_at=utcnow())
    except IntegrityError:
        session.rollback()
        raise UserError(409, "email_taken", "That e-mail address is taken") from None
    if not verified:
        raise UsedLinkError()  # another use of the same link (or another change) came first
    return user


def allow_verification_mail(session: Session, settings: Settings, user: Account) -> str:
    """At most one verification mail per account and interval (429 with the wait otherwise); the stamp to bind it to."""
    wait = throttle.once_per(session, f"mail:verify:{user.id}", settings.mail_interval_seconds)
    stamp = current_stamp(session, user)
    session.commit()
    if wait is not None:
        raise TooManyAttemptsError(wait)
    return stamp


def resend_verification(session: Session, settings: Settings, user: Account) -> tuple[str, str]:
    """The address to send a new verification link to, and the stamp to bind it to (after the checks and the limit)."""
    if user.email is None:
        raise UserError(409, "no_email", "This account has no e-mail address")
    if user.email_verified_at is not None:
        raise UserError(409, "email_verified", "This address is verified already")
    return user.email, allow_verification_mail(session, settings, user)


def send_email_change(settings: Settings, mailer: Mailer, user: Account, address: str, stamp: str) -> None:
    """A verification link to the new address, a notice to the old one; nothing changes until the link is used."""
    send_verification(settings, mailer, user, address, stamp)
    if user.email and user.email != address:
        forgot = settings.link("/password/forgot")
        context = {"app_name": settings.app_name, "username": user.username, "new_address": address, "forgot_link": forgot}
        mailer.send(compose("email_change_notice", user.email, **context))
