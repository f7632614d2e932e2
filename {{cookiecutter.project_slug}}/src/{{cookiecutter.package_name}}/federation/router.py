"""Federated login as pages and forms: a button per provider on the login page, the provider's callback, the
sign-up page of a new identity, and the dashboard's connect / disconnect forms; plus the API's list of
identities and their removal.

Every refusal is a page that says what happened (federation_error.html, 4xx, or 502 when the provider
does not answer), with a stable code; never a 500. Nothing secret goes in a URL we make: the login's state
is in an HttpOnly cookie, and the provider's code and state in the callback's URL are cut from the access
log (logs.py); pages answer with `Referrer-Policy: no-referrer` (middleware.py).
"""

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import TypeAdapter, ValidationError

from ..account import service as account_service
from ..auth import service as auth_service
from ..auth.dependencies import remember_device
from ..database import SessionDep
from ..errors import refusals
from ..mail import MailerDep
from ..mfa.exceptions import MfaRequiredError
from ..paseto import AuthPASETOException
from ..users import service as users_service
from ..users.dependencies import Authorize, ClientAddress, CurrentUser, FreshUser, SettingsDep, TokenIssuer, UserAgent
from ..users.exceptions import UserError
from ..users.schemas import NewUsername
from ..web.forms import _signed_in, redirect, same_origin, to_dashboard
from ..web.router import render
from . import service
from .client import ProvenIdentity
from .exceptions import FederationError
from .schemas import IdentityView

Field = Annotated[str, Form()]


def get_federation(request: Request) -> service.Federation:
    federation: service.Federation = request.app.state.federation
    return federation


FederationDep = Annotated[service.Federation, Depends(get_federation)]
pages = APIRouter(include_in_schema=False)
forms = APIRouter(include_in_schema=False, dependencies=[Depends(same_origin)])
api = APIRouter(tags=["federation"])


def login_cookie_name(cookie_secure: bool) -> str:
    return "__Secure-oidc_login" if cookie_secure else "oidc_login"


def _to_provider(url: str, cookie: str, cookie_secure: bool) -> Response:
    """A 303 to the provider, with the login's sealed state in a cookie sent back only to the callback
    (SameSite=Lax, whatever COOKIE_SAMESITE says: the provider's redirect back is a cross-site navigation)."""
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        login_cookie_name(cookie_secure),
        cookie,
        max_age=service.LOGIN_MINUTES * 60,
        path="/login/oidc",
        secure=cookie_secure,
        httponly=True,
        samesite="lax",
    )
    return response


def _error_page(request: Request, settings: Any, error: FederationError | UserError, cookie_secure: bool | None = None) -> Response:
    page = render(request, "federation_error.html", settings, error.status_code, error=error.message, code=error.code)
    if cookie_secure is not None:
        page.delete_cookie(login_cookie_name(cookie_secure), path="/login/oidc", secure=cookie_secure, httponly=True, samesite="lax")
    return page


@forms.post("/login/oidc/{name}")
def start_login(request: Request, name: str, settings: SettingsDep, federation: FederationDep) -> Response:
    """The login page's button: to the provider's login, with PKCE, state and nonce."""
    try:
        provider = federation.get(name)
        url, cookie = service.start(settings, provider)
    except FederationError as refused:
        return _error_page(request, settings, refused)
    return _to_provider(url, cookie, settings.cookie_secure)


@pages.get("/login/oidc/{name}/callback")
def callback(
    request: Request,
    name: str,
    session: SessionDep,
    settings: SettingsDep,
    auth: TokenIssuer,
    federation: FederationDep,
    client: ClientAddress,
    agent: UserAgent,
    state: str | None = None,
    code: str | None = None,
    iss: str | None = None,
    error: str | None = None,
) -> Response:
    """Where the provider sends the browser back: our session, the second step, the sign-up page, or a page saying what went wrong."""
    secure = settings.cookie_secure
    try:
        provider = federation.get(name)
        cookie = request.cookies.get(login_cookie_name(secure))
        proven = service.finish(session, settings, provider, cookie, service.Callback(state=state, code=code, iss=iss, error=error), client)
        if proven.connect_user_id is not None:
            return _connected(session, proven, client, secure)
        try:
            tokens = service.log_in(session, settings, auth, proven.identity, client, user_agent=agent)
        except FederationError as unknown:
            if unknown.code != "no_account":
                raise
            service.refuse_unknown(session, settings, provider.config, proven.identity)
            page = render(
                request,
                "federation_sign_up.html",
                settings,
                token=service.sign_up_token(settings, proven.identity),
                provider=provider.config,
                email=proven.identity.email,
                email_verified=proven.identity.email_verified,
                username=_suggested_username(proven.identity),
            )
            return _forget_login(page, secure)
    except MfaRequiredError as second_step:  # the provider's login is the first step: our second factor still follows
        page = render(request, "second_step.html", settings, action="/login/mfa/form", **second_step.extra)
        return _forget_login(page, secure)
    except (FederationError, UserError) as refused:
        return _error_page(request, settings, refused, secure)
    response = redirect("/", auth, tokens)
    remember_device(response, settings, tokens.device_token or "")
    return _forget_login(response, secure)


def _forget_login(response: Response, secure: bool) -> Response:
    """The login cookie has done its job (its token is spent anyway)."""
    response.delete_cookie(login_cookie_name(secure), path="/login/oidc", secure=secure, httponly=True, samesite="lax")
    return response


def _connected(session: SessionDep, proven: service.Proven, client: str, secure: bool) -> Response:
    service.connect(session, proven, client)
    return _forget_login(to_dashboard("identity_connected"), secure)


def _suggested_username(identity: ProvenIdentity) -> str:
    """A starting point for the username field: the address's local part, if it makes a valid name."""
    local = (identity.email or "").split("@", 1)[0]
    try:
        return TypeAdapter(NewUsername).validate_python(local)
    except ValidationError:
        return ""


@forms.post("/login/oidc/{name}/sign-up")
def sign_up(
    request: Request,
    name: str,
    session: SessionDep,
    settings: SettingsDep,
    auth: TokenIssuer,
    federation: FederationDep,
    client: ClientAddress,
    agent: UserAgent,
    mailer: MailerDep,
    background: BackgroundTasks,
    token: Field = "",
    username: Field = "",
) -> Response:
    """The sign-up page's form: a new account with the picked username, linked to the identity, and logged in."""
    try:
        provider = federation.get(name)
        identity = service.read_sign_up_token(settings, token)
        again = {"token": token, "provider": provider.config, "email": identity.email, "email_verified": identity.email_verified}
        try:
            picked = TypeAdapter(NewUsername).validate_python(username)
        except ValidationError as invalid:
            message = f"Username: {invalid.errors()[0]['msg']}"
            return render(request, "federation_sign_up.html", settings, 422, error=message, username=username, **again)
        user, identity = service.sign_up(session, settings, provider.config, token, picked, client)
    except UserError as refused:
        if refused.code != "username_taken":
            return _error_page(request, settings, refused)
        return render(request, "federation_sign_up.html", settings, 409, error=refused.message, username=username, **again)
    except (FederationError, AuthPASETOException) as refused:
        if isinstance(refused, AuthPASETOException):  # too_many_attempts
            refused = FederationError(refused.status_code, refused.code, refused.message)
        return _error_page(request, settings, refused)
    if user.email and user.email_verified_at is None and mailer.available:  # an address the provider did not vouch for
        background.add_task(account_service.send_verification, settings, mailer, user, user.email, user.security_stamp)
    if settings.require_verified_email and user.email_verified_at is None:  # no session before the address is verified
        return redirect("/login?reason=registered_verify")
    amr, auth_time = service.proof(identity)
    tokens = auth_service.start_session(session, settings, auth, user, client, agent, amr=amr, auth_time=auth_time)
    response = redirect("/?notice=registered", auth, tokens)
    remember_device(response, settings, users_service.issue_device_token(settings, user))
    return response


# -- the dashboard: connect and disconnect (a fresh token that proved the account's strongest factor) --------


@forms.post("/identities/connect/{name}")
def start_connect(
    session: SessionDep, settings: SettingsDep, auth: Authorize, federation: FederationDep, name: str, csrf: Field = ""
) -> Response:
    """The dashboard's "connect" button: to the provider, to link the identity it proves to this account."""
    try:
        user = _signed_in(session, auth, csrf, fresh=True)
        provider = federation.get(name)
        url, cookie = service.start(settings, provider, connect_user=user)
    except (AuthPASETOException, UserError, FederationError) as refused:
        return to_dashboard(refused.code)
    return _to_provider(url, cookie, settings.cookie_secure)


@forms.post("/identities/{identity_id}/disconnect")
def disconnect_form(session: SessionDep, auth: Authorize, client: ClientAddress, identity_id: int, csrf: Field = "") -> Response:
    try:
        user = _signed_in(session, auth, csrf, fresh=True)
        service.disconnect(session, user, identity_id, client)
    except (AuthPASETOException, UserError) as refused:
        return to_dashboard(refused.code)
    return to_dashboard("identity_disconnected")


# -- the API -------------------------------------------------------------------------------------------------


@api.get("/users/me/identities")
def list_identities(user: CurrentUser, session: SessionDep) -> list[IdentityView]:
    """The provider identities connected to the caller's account (each logs in to it)."""
    assert user.id is not None
    return [IdentityView.of(row) for row in service.identities(session, user.id)]


@api.delete("/users/me/identities/{identity_id}", status_code=204, response_class=Response, responses=refusals(404, 409))
def disconnect(identity_id: int, user: FreshUser, session: SessionDep, client: ClientAddress) -> None:
    """Disconnect an identity (fresh token with the strongest factor); 409 `last_login_method` for the last way to log in."""
    service.disconnect(session, user, identity_id, client)
