"""What the pages' forms post to: each route does the whole job, so the pages work without JavaScript.

A success answers with a redirect (303: reloading the next page does not post again). A refusal shows
the page again with its message: the login page at once, the dashboard through a redirect with a
notice code whose text the page looks up (never text from the URL). Passwords travel only in the
bodies of these posts, never in a URL.

Forms cannot send the CSRF header that API calls send, so the token's CSRF value comes in a hidden
field instead, and every post must come from this site's own pages (`Sec-Fetch-Site` / `Origin`).
The refresh cookie is sent only to paths under /refresh: the forms that need it live there.
"""

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import TypeAdapter, ValidationError
from sqlmodel import Session

from ..account import service as account_service
from ..account.router import RESET_MAIL_ON_ITS_WAY
from ..activity import notices as activity_notices
from ..auth import service as auth_service
from ..auth.dependencies import DeviceCookie, RevokedDep, remember_device
from ..auth.schemas import Credentials
from ..config import Settings
from ..database import EngineDep, SessionDep
from ..mail import MailerDep
from ..mfa import notices
from ..mfa import service as mfa_service
from ..mfa.exceptions import InvalidCodeError, InvalidMfaTokenError, MfaRequiredError
from ..mfa.schemas import SecondFactor
from ..observability import metrics
from ..paseto import AuthPASETO, AuthPASETOException
from ..paseto.exceptions import CSRFError, InvalidLinkError, RevokedTokenError
from ..passkeys import service as passkeys_service
from ..passkeys.schemas import PasskeyRename
from ..users import service as users_service
from ..users.dependencies import Authorize, ClientAddress, SettingsDep, TokenIssuer, UserAgent, require_strongest_factor
from ..users.exceptions import TooManyAttemptsError, UserError
from ..users.models import User
from ..users.schemas import Email, UserCreate
from .router import DASHBOARD_NOTICES, render

Field = Annotated[str, Form()]


async def same_origin(request: Request) -> None:
    """Refuse a form posted from another site. Browsers say where a post comes from; a client that says
    nothing (curl) is let through: it carries no victim's cookies."""
    site = request.headers.get("sec-fetch-site")
    origin = request.headers.get("origin")
    if site is not None:
        if site not in ("same-origin", "none"):
            raise CSRFError("Forms may only be posted from this site's own pages")
    elif origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        raise CSRFError("Forms may only be posted from this site's own pages")


router = APIRouter(include_in_schema=False, dependencies=[Depends(same_origin)])


def redirect(location: str, auth: AuthPASETO | None = None, tokens: auth_service.IssuedTokens | None = None) -> Response:
    """A 303 to `location`, carrying the new tokens' cookies when given."""
    response = RedirectResponse(location, status_code=303)
    if auth is not None and tokens is not None:
        auth.set_access_cookies(tokens.access_token, response)
        if tokens.refresh_token:
            auth.set_refresh_cookies(tokens.refresh_token, response)
    return response


def to_dashboard(notice: str) -> Response:
    return redirect(f"/?notice={notice}")


def _signed_in(session: Session, auth: AuthPASETO, csrf: str, fresh: bool = False) -> User:
    """The active account behind the access cookie, with the form's CSRF value checked (what CurrentUser is to the API)."""
    auth.paseto_required(fresh=fresh, csrf_token=csrf)
    claims = auth.get_token_payload() or {}
    user = users_service.get_active(session, claims["sub"])
    if user is None:
        raise RevokedTokenError()
    if fresh:
        require_strongest_factor(user, claims)
    return user


@router.post("/login/form")
def log_in(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    auth: TokenIssuer,
    client: ClientAddress,
    agent: UserAgent,
    device: DeviceCookie,
    mailer: MailerDep,
    background: BackgroundTasks,
    username: Field = "",
    password: Field = "",
) -> Response:
    """The login page's form: cookies and the dashboard, or the page again with what went wrong."""
    try:
        credentials = Credentials(username=username, password=password)
        name, password = credentials.username, credentials.password
        tokens = auth_service.log_in(session, settings, auth, name, password, client, user_agent=agent, device_token=device)
    except ValidationError:
        return render(request, "login.html", settings, 422, error="Please enter your username and password.", username=username)
    except MfaRequiredError as second_step:  # the password was right: the page of the second step
        return render(request, "second_step.html", settings, action="/login/mfa/form", **second_step.extra)
    except (AuthPASETOException, UserError) as refused:  # UserError: email_unverified, with REQUIRE_VERIFIED_EMAIL
        return _login_page_again(request, settings, refused, username=username)
    activity_notices.after_login(background, settings, mailer, tokens.new_device)
    return _logged_in(settings, auth, tokens)


def _login_page_again(request: Request, settings: Settings, refused: AuthPASETOException | UserError, **context: str) -> Response:
    page = render(request, "login.html", settings, refused.status_code, error=refused.message, **context)
    if isinstance(refused, AuthPASETOException):
        page.headers.update(refused.headers)  # Retry-After
    return page


def _logged_in(settings: Settings, auth: AuthPASETO, tokens: auth_service.IssuedTokens) -> Response:
    response = redirect("/", auth, tokens)
    remember_device(response, settings, tokens.device_token or "")
    return response


def _second_factor(mfa_token: str, code: str, recovery_code: str) -> SecondFactor:
    """The step's form as the API's body: the recovery code's form sends only that field, the code's form only the code."""
    if recovery_code.strip():
        return SecondFactor(mfa_token=mfa_token, recovery_code=recovery_code)
    return SecondFactor(mfa_token=mfa_token, code=code)


def _step_again(request: Request, session: Session, settings: Settings, status_code: int, error: str, **context: str) -> Response:
    """The step's page again (a wrong or missing code), offering the factors of the account its token names."""
    try:
        methods = mfa_service.methods(session, mfa_service.read_mfa_token(session, settings, context["mfa_token"]).user)
    except InvalidMfaTokenError:  # expired meanwhile: the next post goes back to the login page
        methods = ["totp", "recovery_code"]
    return render(request, "second_step.html", settings, status_code, error=error, methods=methods, **context)


@router.post("/login/mfa/form")
def log_in_second_step(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    auth: TokenIssuer,
    client: ClientAddress,
    agent: UserAgent,
    mailer: MailerDep,
    background: BackgroundTasks,
    mfa_token: Field = "",
    code: Field = "",
    recovery_code: Field = "",
) -> Response:
    """The second step's form: cookies and the dashboard, the step again after a wrong code, or the login
    page once the step's token is spent or no longer valid (its attempts are counted by the service)."""
    again = {"action": "/login/mfa/form", "mfa_token": mfa_token}
    try:
        factor = _second_factor(mfa_token, code, recovery_code)
        tokens = auth_service.complete_login(
            session, settings, auth, factor.mfa_token, client, user_agent=agent, code=factor.code, recovery_code=factor.recovery_code
        )
    except ValidationError:
        return _step_again(request, session, settings, 422, "Please enter the code.", **again)
    except InvalidCodeError as wrong:  # the token has attempts left: try again on the same step
        return _step_again(request, session, settings, wrong.status_code, wrong.message, **again)
    except (AuthPASETOException, UserError) as refused:  # invalid_mfa_token, too_many_attempts: from the password again
        return _login_page_again(request, settings, refused)
    if factor.recovery_code is not None:
        notices.after_recovery_login(session, settings, mailer, background, factor.mfa_token)
    activity_notices.after_login(background, settings, mailer, tokens.new_device)
    return _logged_in(settings, auth, tokens)


@router.post("/register/form")
def register(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    auth: TokenIssuer,
    mailer: MailerDep,
    background: BackgroundTasks,
    client: ClientAddress,
    agent: UserAgent,
    username: Field = "",
    email: Field = "",
    password: Field = "",
) -> Response:
    """The sign-up page's form: the account service creates the account (with its limits), then the new user is logged in."""
    # What a refusal shows again: the fields as typed, never the password.
    again = {"username": username, "email": email, "min_length": settings.password_min_length}
    try:
        form = UserCreate(username=username, password=password, email=email.strip() or None)
        user = account_service.register(session, settings, form.username, form.password, form.email, client)
    except ValidationError as invalid:
        return render(request, "register.html", settings, 422, error=_first_problem(invalid), **again)
    except (AuthPASETOException, UserError) as refused:  # registration_closed, username_taken, too_many_attempts...
        page = render(request, "register.html", settings, refused.status_code, error=refused.message, **again)
        if isinstance(refused, AuthPASETOException):
            page.headers.update(refused.headers)
        return page
    if user.email and mailer.available:
        background.add_task(account_service.send_verification, settings, mailer, user, user.email, user.security_stamp)
    if settings.require_verified_email:  # no session before the address is verified: the login page says so
        return redirect("/login?reason=registered_verify")
    tokens = auth_service.start_session(session, settings, auth, user, client, agent)
    response = redirect("/?notice=registered", auth, tokens)
    remember_device(response, settings, users_service.issue_device_token(settings, user))
    return response


SIGN_UP_FIELDS = {"username": "Username", "password": "Password", "email": "E-mail address"}


def _first_problem(invalid: ValidationError) -> str:
    """The first thing wrong with the sign-up form, named by its field ("Password: String should have at least 8 characters")."""
    problem = invalid.errors()[0]
    field = SIGN_UP_FIELDS.get(str(problem["loc"][0]) if problem["loc"] else "", "The form")
    return f"{field}: {problem['msg']}"


@router.post("/refresh/form")
def refresh(
    session: SessionDep,
    settings: SettingsDep,
    auth: Authorize,
    revoked: RevokedDep,
    client: ClientAddress,
    agent: UserAgent,
    csrf: Field = "",
) -> Response:
    """The dashboard's "continue" button once the access token has expired: spend the refresh token."""
    try:
        with metrics.outcomes("refresh"):
            auth.paseto_required(refresh_token=True, csrf_token=csrf)
            claims = auth.get_token_payload() or {}
            grace = settings.refresh_grace_seconds
            tokens = auth_service.rotate(session, auth, revoked, claims, client, user_agent=agent, grace_seconds=grace)
    except CSRFError:
        return redirect("/")  # a page older than the last refresh: show the current one
    except AuthPASETOException as refused:
        response = redirect("/login?reason=reused" if refused.code == "token_reused" else "/login?reason=session_ended")
        auth.unset_paseto_cookies(response)
        return response
    return redirect("/", auth, tokens)


@router.post("/refresh/logout")
def log_out(
    session: SessionDep, auth: Authorize, revoked: RevokedDep, client: ClientAddress, csrf: Field = "", everywhere: Field = ""
) -> Response:
    """Log out (here, or everywhere) with the refresh cookie: it names the session even after the access token has expired.

    Only the session's newest refresh token may do it: a spent one is reuse (its session ends, nothing
    else), and one of a session that has ended already only clears the cookies.
    """
    location = "/login?reason=logged_out_everywhere" if everywhere else "/login?reason=logged_out"
    try:
        auth.paseto_required(refresh_token=True, csrf_token=csrf)
        claims = auth.get_token_payload() or {}
        auth_service.require_newest_refresh_token(session, revoked, claims, auth.get_encoded_token() or "", client)
    except CSRFError:
        return redirect("/")  # nothing done: a stale page, or a post that is not the user's
    except AuthPASETOException as refused:  # the session has ended (or just ended, as reuse): only the cookies are left to clear
        location = "/login?reason=reused" if refused.code == "token_reused" else location
    else:
        user = users_service.get_by_username(session, claims["sub"]) if everywhere else None
        if user is not None:
            auth_service.log_out_everywhere(session, revoked, user, client)
        else:
            auth_service.log_out(session, revoked, claims, client)
    response = redirect(location)
    auth.unset_paseto_cookies(response)
    return response


@router.post("/fresh-login/form")
def reauthenticate(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    auth: Authorize,
    client: ClientAddress,
    password: Field = "",
    csrf: Field = "",
) -> Response:
    """The dashboard's "confirm your password" form: a fresh access token for this session (an account
    with a second factor gets the page of that step first)."""
    try:
        auth.paseto_required(csrf_token=csrf)
        token = auth_service.reauthenticate(session, settings, auth, auth.get_token_payload() or {}, password, client)
    except MfaRequiredError as second_step:
        return render(request, "second_step.html", settings, action="/fresh-login/mfa/form", csrf=csrf, **second_step.extra)
    except (AuthPASETOException, UserError) as refused:
        return to_dashboard(refused.code)
    return redirect("/?notice=reauthenticated", auth, auth_service.IssuedTokens(token))


@router.post("/fresh-login/mfa/form")
def reauthenticate_second_step(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    auth: Authorize,
    client: ClientAddress,
    mailer: MailerDep,
    background: BackgroundTasks,
    mfa_token: Field = "",
    code: Field = "",
    recovery_code: Field = "",
    csrf: Field = "",
) -> Response:
    """The second step of a re-authentication: a fresh access token that proved the second factor."""
    again = {"action": "/fresh-login/mfa/form", "mfa_token": mfa_token, "csrf": csrf}
    try:
        auth.paseto_required(csrf_token=csrf)
        factor = _second_factor(mfa_token, code, recovery_code)
        claims = auth.get_token_payload() or {}
        proof = {"code": factor.code, "recovery_code": factor.recovery_code}
        token = auth_service.reauthenticate_mfa(session, settings, auth, claims, factor.mfa_token, client, **proof, passkey=None)
    except ValidationError:
        return _step_again(request, session, settings, 422, "Please enter the code.", **again)
    except InvalidCodeError as wrong:
        return _step_again(request, session, settings, wrong.status_code, wrong.message, **again)
    except (AuthPASETOException, UserError) as refused:  # invalid_mfa_token, too_many_attempts, csrf_failed...
        return to_dashboard(refused.code)
    if factor.recovery_code is not None:
        notices.after_recovery_login(session, settings, mailer, background, factor.mfa_token)
    if factor.recovery_code is not None:
        notices.after_recovery_login(session, settings, mailer, background, factor.mfa_token)
    return redirect("/?notice=reauthenticated", auth, auth_service.IssuedTokens(token))


# -- second factors: an authenticator app and its recovery codes -----------------------------------------


@router.post("/mfa/totp/setup/form")
def set_up_totp(request: Request, session: SessionDep, settings: SettingsDep, auth: Authorize, csrf: Field = "") -> Response:
    """The dashboard's "set up an authenticator app": a page with the new key as a QR code and as text."""
    try:
        user = _signed_in(session, auth, csrf, fresh=True)
        setup = mfa_service.start_totp(session, settings, user)
    except (AuthPASETOException, UserError) as refused:  # fresh_token_required, totp_enabled...
        return to_dashboard(refused.code)
    return render(request, "totp_setup.html", settings, setup=setup, access_csrf=csrf)


@router.post("/mfa/totp/confirm/form")
def confirm_totp(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    auth: Authorize,
    client: ClientAddress,
    mailer: MailerDep,
    background: BackgroundTasks,
    code: Field = "",
    csrf: Field = "",
) -> Response:
    """The set-up page's code: the app is on, and its recovery codes are shown this once.

    A wrong code shows the code field again without the QR code: the pending key stays as it was (only
    its sealed copy is kept), and the page offers to start again with a new one."""
    try:
        user = _signed_in(session, auth, csrf, fresh=True)
        codes = mfa_service.confirm_totp(session, settings, user, code, client)
    except InvalidCodeError as wrong:
        return render(request, "totp_setup.html", settings, wrong.status_code, setup=None, error=wrong.message, access_csrf=csrf)
    except TooManyAttemptsError as refused:
        page = render(request, "totp_setup.html", settings, 429, setup=None, error=refused.message, access_csrf=csrf)
        page.headers.update(refused.headers)
        return page
    except (AuthPASETOException, UserError) as refused:
        return to_dashboard(refused.code)
    background.add_task(notices.send_factor_added, settings, mailer, user)
    return render(request, "recovery_codes.html", settings, codes=codes, turned_on=True)


@router.post("/mfa/recovery-codes/form")
def replace_recovery_codes(
    request: Request, session: SessionDep, auth: Authorize, settings: SettingsDep, client: ClientAddress, csrf: Field = ""
) -> Response:
    """Ten new recovery codes (a fresh token that proved the second factor), shown this once."""
    try:
        user = _signed_in(session, auth, csrf, fresh=True)
        codes = mfa_service.new_recovery_codes(session, user, client)
    except (AuthPASETOException, UserError) as refused:
        return to_dashboard(refused.code)
    return render(request, "recovery_codes.html", settings, codes=codes)


@router.post("/mfa/totp/remove/form")
def remove_totp(
    session: SessionDep,
    settings: SettingsDep,
    auth: Authorize,
    client: ClientAddress,
    mailer: MailerDep,
    background: BackgroundTasks,
    csrf: Field = "",
) -> Response:
    """Turn the authenticator app off (a fresh token that proved it); its recovery codes go with it."""
    try:
        user = _signed_in(session, auth, csrf, fresh=True)
        mfa_service.remove_totp(session, user, client)
    except (AuthPASETOException, UserError) as refused:
        return to_dashboard(refused.code)
    background.add_task(notices.send_factor_removed, settings, mailer, user, "turned_off")
    return to_dashboard("mfa_removed")


# -- passkeys: renamed and removed by forms (adding one is a WebAuthn ceremony: static/passkeys.js) -------------


@router.post("/passkeys/{passkey_id}/rename/form")
def rename_passkey(session: SessionDep, auth: Authorize, passkey_id: int, name: Field = "", csrf: Field = "") -> Response:
    try:
        user = _signed_in(session, auth, csrf)
        passkeys_service.rename(session, user, passkey_id, PasskeyRename(name=name).name)
    except ValidationError:
        return to_dashboard("passkey_name_invalid")
    except (AuthPASETOException, UserError) as refused:
        return to_dashboard("passkey_not_found" if refused.code == "not_found" else refused.code)
    return to_dashboard("passkey_renamed")


@router.post("/passkeys/{passkey_id}/remove/form")
def remove_passkey(
    session: SessionDep,
    settings: SettingsDep,
    auth: Authorize,
    client: ClientAddress,
    mailer: MailerDep,
    background: BackgroundTasks,
    passkey_id: int,
    csrf: Field = "",
) -> Response:
    """Remove a passkey (a fresh token that proved the strongest factor); the owner is mailed."""
    try:
        user = _signed_in(session, auth, csrf, fresh=True)
        name = passkeys_service.remove(session, user, passkey_id, client)
    except (AuthPASETOException, UserError) as refused:
        return to_dashboard("passkey_not_found" if refused.code == "not_found" else refused.code)
    background.add_task(notices.send_factor_removed, settings, mailer, user, "turned_off", passkey=name)
    return to_dashboard("passkey_removed")


@router.post("/users/me/password/form")
def change_password(
    session: SessionDep,
    settings: SettingsDep,
    auth: Authorize,
    revoked: RevokedDep,
    client: ClientAddress,
    current_password: Field = "",
    new_password: Field = "",
    csrf: Field = "",
) -> Response:
    """The dashboard's password form; a refreshed session is asked for its password first (fresh-only)."""
    try:
        user = _signed_in(session, auth, csrf, fresh=True)
        claims = auth.get_token_payload() or {}
        passwords = {"current_password": current_password, "new_password": new_password}
        auth_service.change_password(session, settings, revoked, user, claims["fam"], client, **passwords)
    except (AuthPASETOException, UserError) as refused:
        return to_dashboard(refused.code)
    return to_dashboard("password_changed")


# -- a forgotten password, a verified address ------------------------------------------------------------


@router.post("/password/forgot/form")
def forgot_password(
    request: Request,
    session: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    mailer: MailerDep,
    background: BackgroundTasks,
    client: ClientAddress,
    email: Field = "",
) -> Response:
    """The same page for every address: the look-up and the mail happen after the answer."""
    try:
        address = TypeAdapter(Email).validate_python(email)
    except ValidationError:
        return render(request, "forgot.html", settings, 422, error="That does not look like an e-mail address.", email=email)
    if not mailer.available:
        return render(request, "forgot.html", settings, 503, error=DASHBOARD_NOTICES["mail_unavailable"], email=email)
    try:
        account_service.limit_mail_requests(session, settings, client)
    except AuthPASETOException as refused:
        page = render(request, "forgot.html", settings, refused.status_code, error=refused.message, email=email)
        page.headers.update(refused.headers)
        return page
    background.add_task(account_service.send_reset_link, engine, settings, mailer, address, client)
    return render(request, "forgot.html", settings, sent=RESET_MAIL_ON_ITS_WAY)


@router.post("/password/reset/form")
def reset_password(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    revoked: RevokedDep,
    mailer: MailerDep,
    background: BackgroundTasks,
    client: ClientAddress,
    token: Field = "",
    new_password: Field = "",
) -> Response:
    try:
        user = account_service.reset_password(session, settings, revoked, token, new_password, client)
    except InvalidLinkError as refused:
        return render(request, "reset.html", settings, refused.status_code, error=refused.message, ask_again=True)
    except (UserError, TooManyAttemptsError) as refused:  # the password's rules, or hashing busy: the link is still good
        return render(
            request,
            "reset.html",
            settings,
            refused.status_code,
            error=refused.message,
            token=token,
            min_length=settings.password_min_length,
        )
    background.add_task(account_service.send_password_changed, settings, mailer, user)
    response = redirect("/login?reason=password_reset")
    return response


@router.post("/email/verify/form")
def verify_email(
    request: Request, session: SessionDep, settings: SettingsDep, revoked: RevokedDep, client: ClientAddress, token: Field = ""
) -> Response:
    try:
        user = account_service.verify_email(session, settings, revoked, token, client)
    except (InvalidLinkError, UserError) as refused:
        return render(request, "verify.html", settings, refused.status_code, error=refused.message)
    return render(request, "verify.html", settings, verified=user.email)


@router.post("/email/verify/resend/form")
def resend_verification(
    session: SessionDep, settings: SettingsDep, auth: Authorize, mailer: MailerDep, background: BackgroundTasks, csrf: Field = ""
) -> Response:
    try:
        user = _signed_in(session, auth, csrf)
        if not mailer.available:
            return to_dashboard("mail_unavailable")
        address, stamp = account_service.resend_verification(session, settings, user)
    except (AuthPASETOException, UserError) as refused:
        return to_dashboard(refused.code)
    background.add_task(account_service.send_verification, settings, mailer, user, address, stamp)
    return to_dashboard("verification_sent")


@router.post("/users/me/email/form")
def change_email(
    session: SessionDep,
    settings: SettingsDep,
    auth: Authorize,
    mailer: MailerDep,
    background: BackgroundTasks,
    email: Field = "",
    csrf: Field = "",
) -> Response:
    try:
        user = _signed_in(session, auth, csrf, fresh=True)
        address = TypeAdapter(Email).validate_python(email)
        if not mailer.available:
            return to_dashboard("mail_unavailable")
        stamp = account_service.allow_verification_mail(session, settings, user)
    except ValidationError:
        return to_dashboard("validation_error")
    except (AuthPASETOException, UserError) as refused:
        return to_dashboard(refused.code)
    background.add_task(account_service.send_email_change, settings, mailer, user, address, stamp)
    return to_dashboard("email_change_sent")


@router.post("/sessions/{family_id}/end")
def end_session(
    session: SessionDep, auth: Authorize, revoked: RevokedDep, client: ClientAddress, family_id: str, csrf: Field = ""
) -> Response:
    """The dashboard's "end" button beside one of the user's sessions."""
    try:
        user = _signed_in(session, auth, csrf)
        auth_service.end_session(session, revoked, user, family_id, client)
    except (AuthPASETOException, UserError) as refused:
        return to_dashboard(refused.code)
    return to_dashboard("session_ended")
