"""The refresh-token pattern as routes, in the order it happens:
login -> protected -> (access token expires) refresh -> fresh-only / re-authenticate -> logout.

API clients send `Authorization: Bearer <token>` and get tokens in the body. Browsers log in at
/login/browser and get HttpOnly cookies instead; /refresh and /fresh-login answer in kind.
Routes that only check a token are `async def` (no thread hop); those that hash a password or use
the database are plain `def`, which FastAPI runs in a worker thread, off the event loop.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Response, status

from ..database import SessionDep
from ..errors import refusals
from ..paseto import AuthPASETO
from ..users.dependencies import AccessClaims, Authorize, ClientAddress, CurrentUser, FreshClaims, FreshUser, SettingsDep, TokenIssuer
from . import service
from .dependencies import RevokedDep
from .schemas import AccessToken, Credentials, PasswordChange, PasswordCheck, SessionView, TokenPair

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
        refresh_token_expires_in=int(auth.config.refresh_token_expires.total_seconds()),
    )


# -- 1. login ---------------------------------------------------------------------------------------


@router.post("/login", responses=LOGIN_REFUSALS)
def login(body: Credentials, session: SessionDep, settings: SettingsDep, auth: TokenIssuer, client: ClientAddress) -> TokenPair:
    """Check the password; return a fresh access token and a refresh token."""
    return token_pair(auth, service.log_in(session, settings, auth, body.username, body.password, client))


@router.post("/login/token", responses=LOGIN_REFUSALS)
def login_form(
    form: Annotated[Credentials, Form()], session: SessionDep, settings: SettingsDep, auth: TokenIssuer, client: ClientAddress
) -> TokenPair:
    """The same login as an OAuth2 password form, so the OpenAPI page's Authorize button works."""
    return token_pair(auth, service.log_in(session, settings, auth, form.username, form.password, client))


@router.post("/login/browser", responses=LOGIN_REFUSALS, **NO_CONTENT)
def login_browser(body: Credentials, session: SessionDep, settings: SettingsDep, auth: TokenIssuer, client: ClientAddress) -> None:
    """Browser login: the tokens go into HttpOnly cookies, never into the page."""
    tokens = service.log_in(session, settings, auth, body.username, body.password, client)
    auth.set_access_cookies(tokens.access_token)
    auth.set_refresh_cookies(tokens.refresh_token or "")


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
    session: SessionDep, settings: SettingsDep, auth: Authorize, revoked: RevokedDep, client: ClientAddress
) -> TokenPair | Response:
    """Spend a refresh token: a new non-fresh access token and a new refresh token. Reuse revokes the session."""
    auth.paseto_required(refresh_token=True)
    claims = auth.get_token_payload() or {}
    tokens = service.rotate(session, auth, revoked, claims, client, settings.refresh_grace_seconds)
    if auth.token_source == "cookies":
        response = Response(status_code=status.HTTP_204_NO_CONTENT)
        auth.set_access_cookies(tokens.access_token, response)
        auth.set_refresh_cookies(tokens.refresh_token or "", response)
        return response
    return token_pair(auth, tokens)


# -- 4. fresh-only routes and re-authentication ---------------------------------------------------------


@router.post("/fresh-only")
async def fresh_only(claims: FreshClaims) -> dict[str, Any]:
    """Only an access token straight from a password check gets here; a refreshed one gets 401."""
    return {"user": claims["sub"], "fresh": True}


@router.post("/fresh-login", response_model=None, responses=refusals(429))
def fresh_login(
    body: PasswordCheck, claims: AccessClaims, session: SessionDep, settings: SettingsDep, auth: Authorize, client: ClientAddress
) -> AccessToken | Response:
    """Re-enter the password: a fresh access token for the same session (no new refresh token)."""
    token = service.reauthenticate(session, settings, auth, claims, body.password, client)
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
