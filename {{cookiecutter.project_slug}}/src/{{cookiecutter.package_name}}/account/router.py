"""Routes of an account's life: register, a forgotten password, a verified (or changed) address.

Mail goes out in background tasks, after the answer. Tokens in links are one-time tokens
(account/service.py); a bad one is a 400 with a stable code: link_invalid, link_expired, link_used.
"""

from typing import Any

from fastapi import APIRouter, BackgroundTasks, Response, status

from ..auth.dependencies import RevokedDep
from ..database import EngineDep, SessionDep
from ..errors import refusals
from ..mail import AvailableMailer, MailerDep
from ..users.dependencies import ClientAddress, CurrentUser, FreshUser, SettingsDep, VerifiedUser
from ..users.schemas import UserCreate, UserPublic
from . import service
from .schemas import Accepted, EmailChange, EmailVerification, ForgottenPassword, PasswordReset

router = APIRouter(tags=["account"])
NO_CONTENT: dict[str, Any] = {"status_code": status.HTTP_204_NO_CONTENT, "response_class": Response}
LINK_REFUSALS = refusals(400)  # link_invalid, link_expired, link_used
RESET_MAIL_ON_ITS_WAY = "If an account has this address, a link to set a new password is on its way."


@router.post("/register", status_code=status.HTTP_201_CREATED, responses=refusals(403, 409, 429))
def register(
    body: UserCreate, session: SessionDep, settings: SettingsDep, mailer: MailerDep, background: BackgroundTasks, client: ClientAddress
) -> UserPublic:
    """Create an account (when registration is open); a link to verify its address goes out by mail."""
    user = service.register(session, settings, body.username, body.password, body.email, client)
    if user.email and mailer.available:
        background.add_task(service.send_verification, settings, mailer, user, user.email, user.security_stamp)
    return UserPublic.of(user)


@router.post("/password/forgot", status_code=status.HTTP_202_ACCEPTED, responses=refusals(429))
def forgot_password(
    body: ForgottenPassword,
    session: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    mailer: AvailableMailer,
    background: BackgroundTasks,
    client: ClientAddress,
) -> Accepted:
    """Ask for a link to set a new password. The answer is the same whether or not an account has the address."""
    service.limit_mail_requests(session, settings, client)
    background.add_task(service.send_reset_link, engine, settings, mailer, body.email, client)
    return Accepted(detail=RESET_MAIL_ON_ITS_WAY)


@router.post("/password/reset", responses=LINK_REFUSALS, **NO_CONTENT)
def reset_password(
    body: PasswordReset,
    session: SessionDep,
    settings: SettingsDep,
    revoked: RevokedDep,
    mailer: MailerDep,
    background: BackgroundTasks,
    client: ClientAddress,
) -> None:
    """Set a new password with the token of a reset link: every session of the account ends."""
    user = service.reset_password(session, settings, revoked, body.token, body.new_password, client)
    background.add_task(service.send_password_changed, settings, mailer, user)


@router.post("/email/verify", responses=refusals(400, 409), **NO_CONTENT)
def verify_email(body: EmailVerification, session: SessionDep, settings: SettingsDep, revoked: RevokedDep, client: ClientAddress) -> None:
    """Verify an address with the token of a verification link (an address change takes effect here)."""
    service.verify_email(session, settings, revoked, body.token, client)


@router.post("/email/verify/resend", status_code=status.HTTP_202_ACCEPTED, responses=refusals(409, 429))
def resend_verification(
    user: CurrentUser, session: SessionDep, settings: SettingsDep, mailer: AvailableMailer, background: BackgroundTasks
) -> Accepted:
    """Mail a new link to verify the account's address (at most one per few minutes)."""
    address, stamp = service.resend_verification(session, settings, user)
    background.add_task(service.send_verification, settings, mailer, user, address, stamp)
    return Accepted(detail=f"A link to verify {address} is on its way.")


@router.post("/users/me/email", status_code=status.HTTP_202_ACCEPTED, responses=refusals(429))
def change_email(
    body: EmailChange, user: FreshUser, session: SessionDep, settings: SettingsDep, mailer: AvailableMailer, background: BackgroundTasks
) -> Accepted:
    """Use another address (fresh token required): it takes effect once verified from the link mailed to it."""
    stamp = service.allow_verification_mail(session, settings, user)
    background.add_task(service.send_email_change, settings, mailer, user, body.email, stamp)
    return Accepted(detail=f"A link to verify {body.email} is on its way; the address changes once it is used.")


@router.get("/verified-only")
async def verified_only(user: VerifiedUser) -> dict[str, str | None]:
    """Only an account with a verified address gets here (a demo of `VerifiedUser`); others get 403 email_unverified."""
    return {"user": user.username, "email": user.email}
