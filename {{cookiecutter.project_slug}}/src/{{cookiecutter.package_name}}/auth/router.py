"""The refresh-token pattern as routes, in the order it happens:
login -> protected -> (access token expires) refresh -> fresh-only / re-authenticate -> logout.

API clients send `Authorization: Bearer <token>` and get tokens in the body. Browsers log in at
/login/browser and get HttpOnly cookies instead; /refresh and /fresh-login answer in kind.
Routes that only check a token are `async def` (no thread hop); those that hash a password or use
the database are plain `def`, which FastAPI runs in a worker thread, off the event loop.
"""

from typing import Annotated, Any, TypedDict

from fastapi import APIRouter, BackgroundTasks, Form, Response, status

from ..activity import notices as activity_notices
from ..database import SessionDep, as_utc
from ..errors import refusals
from ..mail import MailerDep
from ..mfa import notices
from ..mfa.schemas import SecondFactor
from ..observability import metrics
from ..paseto import AuthPASETO
from ..users.dependencies import (
    AccessClaims,
    Authorize,
    ClientAddress,
    CurrentUser,
    FreshClaims,
    FreshUser,
    SettingsDep,
    TokenIssuer,
    UserAgent,
)
from . import service
from .dependencies import DeviceCookie, RevokedDep, remember_device
from .devices import device_name
from .schemas import AccessToken, Credentials, LoginTokens, PasswordChange, PasswordCheck, SessionInfo, SessionView, TokenPair

router = APIRouter(tags=["auth"])
NO_CONTENT: dict[str, Any] = {"status_code": status.HTTP_204_NO_CONTENT, "response_class": Response}
# Beyond what their dependencies bring (errors.py): a wrong password, and guessing limits.
LOGIN_REFUSALS = refusals(401, 429)


def token_pair(auth: AuthPASETO, tokens: service.IssuedTokens) -> TokenPair:
    assert tokens.refresh_token is not None
    return TokenPair(
        access_token=tokens.access_token,
        expires_in=int(auth.config.access_token_expires.total_seconds()),
        refresh_token=tokens.refresh_token,
        refresh_token_expires_in=int(tokens.refresh_expires_in or auth.config.refresh_token_expires.total_seconds()),
    )


def login_tokens(auth: AuthPASETO, tokens: service.IssuedTokens) -> LoginTokens:
    assert tokens.device_token is not None
    return LoginTokens(**token_pair(auth, tokens).model_dump(), device_token=tokens.device_token)


# -- 1. login ---------------------------------------------------------------------------------------


@router.post("/login", responses=LOGIN_REFUSALS)
def login(
    body: Credentials,
    session: SessionDep,
    settings: SettingsDep,
    auth: TokenIssuer,
    client: ClientAddress,
    agent: UserAgent,
    mailer: MailerDep,
    background: BackgroundTasks,
) -> LoginTokens:
    """Check the password; return a fresh access token, a refresh token and this client's device token.

    A client that sent no device token of the account is a new device: its owner is told by mail."""
    tokens = service.log_in(session, settings, auth, body.username, body.password, client, user_agent=agent, device_token=body.device_token)
    activity_notices.after_login(background, settings, mailer, tokens.new_device)
    return login_tokens(auth, tokens)


@router.post("/login/token", responses=LOGIN_REFUSALS)
def login_form(
    form: Annotated[Credentials, Form()],
    session: SessionDep,
    settings: SettingsDep,
    auth: TokenIssuer,
    client: ClientAddress,
    agent: UserAgent,
    mailer: MailerDep,
    background: BackgroundTasks,
) -> LoginTokens:
    """The same login as an OAuth2 password form, so the OpenAPI page's Authorize button works."""
    tokens = service.log_in(session, settings, auth, form.username, form.password, client, user_agent=agent, device_token=form.device_token)
    activity_notices.after_login(background, settings, mailer, tokens.new_device)
    return login_tokens(auth, tokens)


@router.post("/login/browser", responses=LOGIN_REFUSALS, **NO_CONTENT)
def login_browser(
    body: Credentials,
    session: SessionDep,
    settings: SettingsDep,
    auth: TokenIssuer,
    client: ClientAddress,
    agent: UserAgent,
    device: DeviceCookie,
    mailer: MailerDep,
    background: BackgroundTasks,
    response: Response,
) -> None:
    """Browser login: the tokens go into HttpOnly cookies, never into the page (the device token too)."""
    tokens = service.log_in(session, settings, auth, body.username, body.password, client, user_agent=agent, device_token=device)
    activity_notices.after_login(background, settings, mailer, tokens.new_device)
    auth.set_access_cookies(tokens.access_token)
    auth.set_refresh_cookies(tokens.refresh_token or "")
    remember_device(response, settings, tokens.device_token or "")


class Factor(TypedDict):
    code: str | None
    recovery_code: str | None
    passkey: dict[str, Any] | None


def _factor(body: SecondFactor) -> Factor:
    """The factor a second step sent (the service tries them in this order)."""
    return Factor(code=body.code, recovery_code=body.recovery_code, passkey=body.passkey)


@router.post("/login/mfa", responses=LOGIN_REFUSALS)
def login_second_step(
    body: SecondFactor,
    session: SessionDep,
    settings: SettingsDep,
    auth: TokenIssuer,
    client: ClientAddress,
    agent: UserAgent,
    mailer: MailerDep,
    background: BackgroundTasks,
) -> LoginTokens:
    """The second step of a login that answered 401 `mfa_required`: its `mfa_token` and a `code`, a `recovery_code` or a `passkey`."""
    tokens = service.complete_login(session, settings, auth, body.mfa_token, client, user_agent=agent, **_factor(body))
    if body.code is None and body.recovery_code is not None:  # prove() tries a code first
        notices.after_recovery_login(session, settings, mailer, background, body.mfa_token)
    activity_notices.after_login(background, settings, mailer, tokens.new_device)
    return login_tokens(auth, tokens)


@router.post("/login/mfa/browser", responses=LOGIN_REFUSALS, **NO_CONTENT)
def login_second_step_browser(
    body: SecondFactor,
    session: SessionDep,
    settings: SettingsDep,
    auth: TokenIssuer,
    client: ClientAddress,
    agent: UserAgent,
    mailer: MailerDep,
    background: BackgroundTasks,
    response: Response,
) -> None:
    """The same second step for a browser: the tokens go into HttpOnly cookies."""
    tokens = service.complete_login(session, settings, auth, body.mfa_token, client, user_agent=agent, **_factor(body))
    if body.code is None and body.recovery_code is not None:  # prove() tries a code first
        notices.after_recovery_login(session, settings, mailer, background, body.mfa_token)
    activity_notices.after_login(background, settings, mailer, tokens.new_device)
    auth.set_access_cookies(tokens.access_token)
    auth.set_refresh_cookies(tokens.refresh_token or "")
    remember_device(response, settings, tokens.device_token or "")


# -- 2. protected routes ------------------------------------------------------------------------------


@router.get("/protected")
async def protected(auth: Authorize) -> dict[str, str | None]:
    """Any valid access token. No database round trip: the signature and claims are enough."""
    auth.paseto_required()
    return {"user": auth.get_subject()}


@router.get("/session")
def read_session(claims: AccessClaims, session: SessionDep) -> SessionView:
    """What the page may know of its session: who, which session, fresh or not, when its tokens expire."""
    return service.describe_session(session, claims)


# -- 3. refresh (the access token has expired) ---------------------------------------------------------


@router.post("/refresh", response_model=None)
def refresh(
    session: SessionDep, settings: SettingsDep, auth: Authorize, revoked: RevokedDep, client: ClientAddress, agent: UserAgent
) -> TokenPair | Response:
    """Spend a refresh token: a new non-fresh access token and a new refresh token. Reuse revokes the session."""
    with metrics.outcomes("refresh"):  # success, or the refusal's code (token_reused, token_expired...)
        auth.paseto_required(refresh_token=True)
        claims = auth.get_token_payload() or {}
        tokens = service.rotate(session, auth, revoked, claims, client, user_agent=agent, grace_seconds=settings.refresh_grace_seconds)
    if auth.token_source == "cookies":
        response = Response(status_code=status.HTTP_204_NO_CONTENT)
        auth.set_access_cookies(tokens.access_token, response)
        auth.set_refresh_cookies(tokens.refresh_token or "", response)
        return response
    return token_pair(auth, tokens)


# -- 4. fresh-only routes and re-authentication ---------------------------------------------------------


@router.post("/fresh-only")
async def fresh_only(user: FreshUser) -> dict[str, Any]:
    """Only an access token straight from a login gets here (one that proved the account's second factor, if it
    has one); a refreshed one gets 401 fresh_token_required."""
    return {"user": user.username, "fresh": True}


@router.post("/fresh-login", response_model=None, responses=refusals(429))
def fresh_login(
    body: PasswordCheck, claims: AccessClaims, session: SessionDep, settings: SettingsDep, auth: Authorize, client: ClientAddress
) -> AccessToken | Response:
    """Re-enter the password: a fresh access token for the same session (no new refresh token). An account with
    a second factor answers 401 `mfa_required`: then /fresh-login/mfa."""
    return _fresh_access(auth, service.reauthenticate(session, settings, auth, claims, body.password, client))


@router.post("/fresh-login/mfa", response_model=None, responses=refusals(429))
def fresh_login_second_step(
    body: SecondFactor,
    claims: AccessClaims,
    session: SessionDep,
    settings: SettingsDep,
    auth: Authorize,
    client: ClientAddress,
    mailer: MailerDep,
    background: BackgroundTasks,
) -> AccessToken | Response:
    """The second step of a re-authentication: a fresh access token that proved the second factor."""
    token = service.reauthenticate_mfa(session, settings, auth, claims, body.mfa_token, client, **_factor(body))
    if body.code is None and body.recovery_code is not None:
        notices.after_recovery_login(session, settings, mailer, background, body.mfa_token)
    return _fresh_access(auth, token)


def _fresh_access(auth: AuthPASETO, token: str) -> AccessToken | Response:
    if auth.token_source == "cookies":
        response = Response(status_code=status.HTTP_204_NO_CONTENT)
        auth.set_access_cookies(token, response)
        return response
    return AccessToken(access_token=token, expires_in=int(auth.config.access_token_expires.total_seconds()))


@router.post("/users/me/password", responses=refusals(429), **NO_CONTENT)
def change_password(
    body: PasswordChange,
    user: FreshUser,
    claims: FreshClaims,
    session: SessionDep,
    settings: SettingsDep,
    revoked: RevokedDep,
    client: ClientAddress,
) -> None:
    """Change the password (fresh token required); every other session is logged out."""
    passwords = {"current_password": body.current_password, "new_password": body.new_password}
    service.change_password(session, settings, revoked, user, claims["fam"], client, **passwords)


# -- 5. logout ----------------------------------------------------------------------------------------------


@router.post("/logout", **NO_CONTENT)
def logout(claims: AccessClaims, session: SessionDep, auth: Authorize, revoked: RevokedDep, client: ClientAddress) -> None:
    """Revoke this session's refresh family (its access tokens stop working too) and clear cookies."""
    service.log_out(session, revoked, claims, client)
    auth.unset_paseto_cookies()


@router.post("/logout/all", **NO_CONTENT)
def logout_everywhere(user: CurrentUser, session: SessionDep, auth: Authorize, revoked: RevokedDep, client: ClientAddress) -> None:
    """Revoke every session of this user, on every device."""
    service.log_out_everywhere(session, revoked, user, client)
    auth.unset_paseto_cookies()


# -- 6. sessions: the user's devices, and revocation with what a client still holds ------------------------


@router.get("/sessions")
def list_sessions(user: CurrentUser, claims: AccessClaims, session: SessionDep) -> list[SessionInfo]:
    """The caller's live sessions (a login on one device each), the one used last first."""
    assert user.id is not None
    return [
        SessionInfo(
            id=family.id,
            started_at=as_utc(family.created_at),
            last_used_at=as_utc(family.last_used_at),
            client_address=family.client_address,
            user_agent=family.user_agent,
            device=device_name(family.user_agent),
            expires_at=as_utc(min(family.expires_at, family.ends_at)),
            current=family.id == claims["fam"],
        )
        for family in service.live_sessions(session, user.id)
    ]


@router.delete("/sessions/{family_id}", responses=refusals(404), **NO_CONTENT)
def end_session(family_id: str, user: CurrentUser, session: SessionDep, revoked: RevokedDep, client: ClientAddress) -> None:
    """End one of the caller's sessions: its device is logged out (every instance refuses it within the revocation bound)."""
    service.end_session(session, revoked, user, family_id, client)


@router.post("/revoke", response_class=Response, responses={200: {"description": "Revoked, or there was nothing to revoke"}})
def revoke(
    token: Annotated[str, Form(max_length=4096)],
    session: SessionDep,
    auth: TokenIssuer,
    revoked: RevokedDep,
    client: ClientAddress,
    token_type_hint: Annotated[str | None, Form(max_length=32)] = None,  # RFC 7009's field; the token says its type itself
) -> Response:
    """Token revocation (RFC 7009): end the session of a refresh (or access) token. 200 whether or not the token was valid.

    A client whose access token has expired logs out with the refresh token it still holds.
    """
    service.revoke_token(session, auth, revoked, token, client)
    return Response(status_code=status.HTTP_200_OK)
