"""Second factors: an authenticator app (TOTP) and its recovery codes. Changing them needs a fresh token
(and, once the account has one, a fresh token that proved it: users/dependencies.py `FreshUser`)."""

from typing import Any

from fastapi import APIRouter, BackgroundTasks, Response, status

from ..database import SessionDep
from ..errors import refusals
from ..mail import MailerDep
from ..users.dependencies import ClientAddress, CurrentUser, FreshUser, SettingsDep
from . import notices, service
from .schemas import CodeCheck, FactorsView, RecoveryCodes, TotpSetupView

router = APIRouter(prefix="/mfa", tags=["second factors"])
NO_CONTENT: dict[str, Any] = {"status_code": status.HTTP_204_NO_CONTENT, "response_class": Response}


@router.get("")
def read_factors(user: CurrentUser, session: SessionDep) -> FactorsView:
    """The second factors of the caller's account."""
    found = service.methods(session, user)
    return FactorsView(methods=found, recovery_codes_left=service.recovery_codes_left(session, user))


@router.post("/totp/setup", responses=refusals(409))
def set_up_totp(user: FreshUser, session: SessionDep, settings: SettingsDep) -> TotpSetupView:
    """Start setting up an authenticator app: a new secret, its otpauth:// URI and QR code. Nothing changes until confirmed."""
    setup = service.start_totp(session, settings, user)
    return TotpSetupView(secret=setup.secret, otpauth_uri=setup.uri, qr_svg=setup.qr_svg)


@router.post("/totp/confirm", responses=refusals(429))
def confirm_totp(
    body: CodeCheck,
    user: FreshUser,
    session: SessionDep,
    settings: SettingsDep,
    mailer: MailerDep,
    background: BackgroundTasks,
    client: ClientAddress,
) -> RecoveryCodes:
    """Turn the authenticator app on with a code it shows; returns ten recovery codes, shown this once."""
    codes = service.confirm_totp(session, settings, user, body.code, client)
    background.add_task(notices.send_factor_added, settings, mailer, user)
    return RecoveryCodes(recovery_codes=codes)


@router.delete("/totp", **NO_CONTENT)
def remove_totp(
    user: FreshUser, session: SessionDep, settings: SettingsDep, mailer: MailerDep, background: BackgroundTasks, client: ClientAddress
) -> None:
    """Turn the authenticator app off (a fresh token that proved it); its recovery codes stop working."""
    service.remove_totp(session, user, client)
    background.add_task(notices.send_factor_removed, settings, mailer, user, "turned_off")


@router.post("/recovery-codes", responses=refusals(409))
def replace_recovery_codes(user: FreshUser, session: SessionDep, client: ClientAddress) -> RecoveryCodes:
    """Ten new recovery codes (a fresh token that proved the second factor); the old ones stop working."""
    return RecoveryCodes(recovery_codes=service.new_recovery_codes(session, user, client))
