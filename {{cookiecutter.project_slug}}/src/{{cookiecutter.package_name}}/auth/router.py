"""The refresh-token pattern as routes, in the order it happens:
login -> protected -> (access token expires) refresh -> fresh-only / re-authenticate -> logout.

API clients send `Authorization: Bearer <token>` and get tokens in the body. Browsers log in at
/login/browser and get HttpOnly cookies instead; /refresh and /fresh-login answer in kind.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Response, status

from ..database import SessionDep
from ..paseto import AuthPASETO
from ..users import service as users_service
from ..users.dependencies import AccessClaims, Authorize, CurrentUser, FreshClaims, FreshUser, SettingsDep
from ..users.schemas import PasswordChange
from . import service
from .dependencies import ClientAddress, RevokedDep
from .schemas import AccessToken, Credentials, PasswordCheck, SessionView, TokenPair

router = APIRouter(tags=["auth"])
NO_CONTENT: dict[str, Any] = {"status_code": status.HTTP_204_NO_CONTENT, "response_class": Response}


# -- 1. login ---------------------------------------------------------------------------------------


def _log_in(body: Credentials, session: SessionDep, settings: SettingsDep, auth: AuthPASETO, client: str) -> service.IssuedTokens:
    user = service.check_password(session, settings, body.username, body.password, client)
    return service.start_session(session, auth, user)


@router.post("/login")
def login(body: Credentials, session: SessionDep, settings: SettingsDep, auth: Authorize, client: ClientAddress) -> TokenPair:
    """Check the password; return a fresh access token and a refresh token."""
    tokens = _log_in(body, session, settings, auth, client)
    return TokenPair(access_token=tokens.access_token, refresh_token=tokens.refresh_token)


@router.post("/login/token")
def login_form(
    form: Annotated[Credentials, Form()],
    session: SessionDep,
    settings: SettingsDep,
    auth: Authorize,
    client: ClientAddress,
) -> TokenPair:
    """The same login as an OAuth2 password form, so the OpenAPI page's Authorize button works."""
    tokens = _log_in(form, session, settings, auth, client)
    return TokenPair(access_token=tokens.access_token, refresh_token=tokens.refresh_token)


@router.post("/login/browser", **NO_CONTENT)
def login_browser(body: Credentials, session: SessionDep, settings: SettingsDep, auth: Authorize, client: ClientAddress) -> None:
    """Browser login: the tokens go into HttpOnly cookies, never into the page."""
    tokens = _log_in(body, session, settings, auth, client)
    auth.set_access_cookies(tokens.access_token)
    auth.set_refresh_cookies(tokens.refresh_token)


# -- 2. protected routes ------------------------------------------------------------------------------


@router.get("/protected")
def protected(Authorize: AuthPASETO = Depends()) -> dict[str, str | None]:  # noqa: N803 - the seed's style, shown once
    """Any valid access token. No database round trip: the signature and claims are enough."""
    Authorize.paseto_required()
    return {"user": Authorize.get_subject()}


@router.get("/session")
def read_session(claims: AccessClaims) -> SessionView:
    """What the page may know of its session: who, whether fresh, when the access token expires."""
    return SessionView(user=claims["sub"], fresh=claims["fresh"], issued_at=claims["iat"], expires_at=claims["exp"])


# -- 3. refresh (the access token has expired) ---------------------------------------------------------


@router.post("/refresh", response_model=None)
def refresh(session: SessionDep, auth: Authorize, revoked: RevokedDep) -> TokenPair | Response:
    """Spend a refresh token: a new non-fresh access token and a new refresh token. Reuse revokes the session."""
    auth.paseto_required(refresh_token=True)
    tokens = service.rotate(session, auth, revoked, auth.get_encoded_token() or "", auth.get_token_payload() or {})
    if auth.token_source == "cookies":
        response = Response(status_code=status.HTTP_204_NO_CONTENT)
        auth.set_access_cookies(tokens.access_token, response)
        auth.set_refresh_cookies(tokens.refresh_token, response)
        return response
    return TokenPair(access_token=tokens.access_token, refresh_token=tokens.refresh_token)


# -- 4. fresh-only routes and re-authentication ---------------------------------------------------------


@router.post("/fresh-only")
def fresh_only(claims: FreshClaims) -> dict[str, Any]:
    """Only an access token straight from a password check gets here; a refreshed one gets 401."""
    return {"user": claims["sub"], "fresh": True}


@router.post("/fresh-login", response_model=None)
def fresh_login(
    body: PasswordCheck,
    claims: AccessClaims,
    session: SessionDep,
    settings: SettingsDep,
    auth: Authorize,
    client: ClientAddress,
) -> AccessToken | Response:
    """Re-enter the password: a fresh access token for the same session (no new refresh token)."""
    service.check_password(session, settings, claims["sub"], body.password, client)
    token = service.fresh_access_token(auth, claims)
    if auth.token_source == "cookies":
        response = Response(status_code=status.HTTP_204_NO_CONTENT)
        auth.set_access_cookies(token, response)
        return response
    return AccessToken(access_token=token)


@router.post("/users/me/password", **NO_CONTENT)
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
    service.check_password(session, settings, user.username, body.current_password, client)
    users_service.check_password_rules(body.new_password, settings.password_min_length, settings.password_max_length)
    users_service.set_password(session, user, body.new_password)
    assert user.id is not None
    service.revoke_user_sessions(session, revoked, user.id, reason="password_changed", keep=claims["fam"])


# -- 5. logout ----------------------------------------------------------------------------------------------


@router.post("/logout", **NO_CONTENT)
def logout(claims: AccessClaims, session: SessionDep, auth: Authorize, revoked: RevokedDep) -> None:
    """Revoke this session's refresh family (its access tokens stop working too) and clear cookies."""
    service.revoke_families(session, revoked, [claims["fam"]], reason="logout")
    auth.unset_paseto_cookies()


@router.post("/logout/all", **NO_CONTENT)
def logout_everywhere(user: CurrentUser, session: SessionDep, auth: Authorize, revoked: RevokedDep) -> None:
    """Revoke every session of this user, on every device."""
    assert user.id is not None
    service.revoke_user_sessions(session, revoked, user.id, reason="logout_all")
    auth.unset_paseto_cookies()
