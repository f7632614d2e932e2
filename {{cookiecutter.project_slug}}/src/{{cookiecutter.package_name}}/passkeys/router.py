"""Passkeys: managing an account's (fresh token, and the strongest factor once the account has one, as for
every second factor), a passwordless login, and the options of a login's second step.

Each ceremony is two calls: options (a challenge, spent by the answer), then the browser's answer.
"""

from typing import Any

from fastapi import APIRouter, BackgroundTasks, Response, status

from ..auth import service as auth_service
from ..auth.dependencies import remember_device
from ..auth.router import LOGIN_REFUSALS, login_tokens
from ..auth.schemas import LoginTokens
from ..database import SessionDep
from ..errors import refusals
from ..mail import MailerDep
from ..mfa import notices
from ..mfa import service as mfa_service
from ..users.dependencies import ClientAddress, CurrentUser, FreshUser, SettingsDep, TokenIssuer, UserAgent
from . import ceremonies, service
from .schemas import PasskeyAssertion, PasskeyRegistration, PasskeyRename, PasskeyView, SecondStepOptionsRequest

router = APIRouter(tags=["passkeys"])
NO_CONTENT: dict[str, Any] = {"status_code": status.HTTP_204_NO_CONTENT, "response_class": Response}
Options = dict[str, Any]


# -- an account's passkeys ------------------------------------------------------------------------------------


@router.get("/passkeys")
def list_passkeys(user: CurrentUser, session: SessionDep) -> list[PasskeyView]:
    """The caller's passkeys, oldest first."""
    return [service.view(passkey) for passkey in service.passkeys_of(session, user)]


@router.post("/passkeys/register/options", responses=refusals(409, 429))
def registration_options(user: FreshUser, session: SessionDep, settings: SettingsDep, client: ClientAddress) -> Options:
    """Options for navigator.credentials.create(): a discoverable credential that verifies its user."""
    return service.registration_options(session, settings, user, client)


@router.post("/passkeys/register", status_code=status.HTTP_201_CREATED, responses=refusals(409))
def register(
    body: PasskeyRegistration,
    user: FreshUser,
    session: SessionDep,
    settings: SettingsDep,
    mailer: MailerDep,
    background: BackgroundTasks,
    client: ClientAddress,
) -> PasskeyView:
    """Store the passkey the browser made for those options: a second factor, and a passwordless login. The owner is mailed."""
    passkey = service.register(session, settings, user, body.credential, body.name, client)
    background.add_task(notices.send_factor_added, settings, mailer, user, passkey=passkey.name)
    return service.view(passkey)


@router.patch("/passkeys/{passkey_id}", responses=refusals(404))
def rename(passkey_id: int, body: PasskeyRename, user: CurrentUser, session: SessionDep) -> PasskeyView:
    """Rename one of the caller's passkeys."""
    return service.view(service.rename(session, user, passkey_id, body.name))


@router.delete("/passkeys/{passkey_id}", responses=refusals(404), **NO_CONTENT)
def remove(
    passkey_id: int,
    user: FreshUser,
    session: SessionDep,
    settings: SettingsDep,
    mailer: MailerDep,
    background: BackgroundTasks,
    client: ClientAddress,
) -> None:
    """Remove one of the caller's passkeys (a fresh token that proved the strongest factor). The owner is mailed."""
    name = service.remove(session, user, passkey_id, client)
    background.add_task(notices.send_factor_removed, settings, mailer, user, "turned_off", passkey=name)


# -- logging in with one ----------------------------------------------------------------------------------------


@router.post("/login/passkey/options", responses=refusals(409, 429))
def login_options(session: SessionDep, settings: SettingsDep, client: ClientAddress) -> Options:
    """Options for navigator.credentials.get() in a passwordless login: any passkey of this site, the user verified."""
    return ceremonies.login_options(session, settings, client)


@router.post("/login/passkey", responses={**LOGIN_REFUSALS, **refusals(403, 409)})
def login(
    body: PasskeyAssertion, session: SessionDep, settings: SettingsDep, auth: TokenIssuer, client: ClientAddress, agent: UserAgent
) -> LoginTokens:
    """A passwordless login with a passkey that verified its user: the token pair (amr `hwk`/`swk`, `user`, `mfa`)."""
    tokens = auth_service.log_in_with_passkey(session, settings, auth, body.credential, client, user_agent=agent)
    return login_tokens(auth, tokens)


@router.post("/login/passkey/browser", responses={**LOGIN_REFUSALS, **refusals(403, 409)}, **NO_CONTENT)
def login_browser(
    body: PasskeyAssertion,
    session: SessionDep,
    settings: SettingsDep,
    auth: TokenIssuer,
    client: ClientAddress,
    agent: UserAgent,
    response: Response,
) -> None:
    """The same login for a browser: the tokens go into HttpOnly cookies."""
    tokens = auth_service.log_in_with_passkey(session, settings, auth, body.credential, client, user_agent=agent)
    auth.set_access_cookies(tokens.access_token)
    auth.set_refresh_cookies(tokens.refresh_token or "")
    remember_device(response, settings, tokens.device_token or "")


@router.post("/login/mfa/passkey/options", responses=refusals(401, 409, 429))
def second_step_options(body: SecondStepOptionsRequest, session: SessionDep, settings: SettingsDep, client: ClientAddress) -> Options:
    """Options for the second step of a login or a re-authentication (its `mfa_token`): one of that account's
    passkeys. Send the answer as `passkey` to /login/mfa (or /login/mfa/browser, /fresh-login/mfa)."""
    pending = mfa_service.read_mfa_token(session, settings, body.mfa_token)
    return ceremonies.second_step_options(session, settings, pending.user, service.passkeys_of(session, pending.user), client)
