"""The pages a person uses: a login page and a dashboard that shows the refresh-token pattern at work.

Pages are plain Jinja2, rendered on the server, and every form on them posts to a route that does the
whole job (web/forms.py): they work without JavaScript. A little hand-written JS (static/app.js) makes
them smoother: it calls the API with cookies, refreshes the access token when it expires and logs
what happens. No front-end build step, no inline script (the Content-Security-Policy allows none),
and no URL built from the request's Host header.
"""

from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from ..activity import service as activity_service
from ..activity.schemas import EventView
from ..auth import service as auth_service
from ..auth.devices import device_name
from ..config import Settings
from ..database import SessionDep
from ..federation import service as federation_service
from ..mfa import service as mfa_service
from ..paseto import AuthPASETOException, PasetoConfig
from ..passkeys import ceremonies as passkey_ceremonies
from ..passkeys import service as passkeys_service
from ..users import service as users_service
from ..users.dependencies import Authorize, SettingsDep
from .markdown import DOCS, render_markdown

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
static_files = StaticFiles(directory=HERE / "static")
router = APIRouter(include_in_schema=False)


def when(moment: datetime | str | None) -> str:
    """Every time on every page in one format a person reads at a glance: `2026-12-03 14:05 UTC`."""
    if moment is None or moment == "":
        return "unknown"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:  # the database keeps UTC without a zone (SQLite)
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def iso(moment: datetime | str) -> str:
    """The machine-readable twin of `when`, for a <time datetime> attribute (app.js counts down from it)."""
    if isinstance(moment, str):
        return moment
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat(timespec="seconds")


templates.env.filters.update(when=when, iso=iso, device=device_name)

# The OpenAPI page's assets come from an installed package (fastapi-offline ships Swagger UI's built
# files), not a CDN: the page works offline, and the lock file pins and hashes them like any code.
SWAGGER_UI_FILES = resources.files("fastapi_offline") / "static"
SWAGGER_UI_ASSETS = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css", "favicon.png": "image/png"}
DOCS_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)

# Why a page was opened: it shows the text for a known code, never text from the URL.
LOGIN_REASONS = {
    "logged_out": "You have logged out.",
    "logged_out_everywhere": "You have logged out on every device.",
    "session_ended": "Your session has ended. Please log in again.",
    "revoked": "You have been logged out (this session was ended elsewhere).",
    "reused": "A refresh token of your session was used twice, so the whole session was ended in case it was stolen. Please log in again.",
    "password_reset": "Your new password is set, and every session of your account has ended. Log in with it.",
    "registered_verify": "Your account is ready. Verify your address with the link we mailed, then log in.",
}
DASHBOARD_NOTICES = {
    "registered": "Welcome! Your account is ready and you are logged in.",
    "password_changed": "Password changed. Your other sessions were logged out.",
    "fresh_token_required": "This needs your password again (and your second factor, if you have one): confirm it below.",
    "reauthenticated": "Password confirmed: your session is fresh again, go ahead.",
    "verification_sent": "A new verification link is on its way to your address.",
    "email_change_sent": "A link to verify the new address is on its way to it; your address changes once it is used.",
    "email_verified": "Your address is verified already.",
    "no_email": "Your account has no e-mail address yet: give one below.",
    "validation_error": "That does not look like an e-mail address.",
    "mail_unavailable": "This service sends no mail; ask its operator.",
    "invalid_credentials": "That password is not right.",
    "too_many_attempts": "Too many attempts; please wait a little and try again.",
    "password_too_short": "The new password is too short.",
    "password_too_long": "The new password is too long.",
    "csrf_failed": "The page was out of date; please try again.",
    "session_ended": "That session has ended: its device is logged out.",
    "not_found": "That session had ended already.",
    "totp_enabled": "An authenticator app is set up already: turn it off first to set up another.",
    "no_second_factor": "Set up an authenticator app first.",
    "mfa_removed": "Your authenticator app is off, and its recovery codes no longer work.",
    "invalid_mfa_token": "That confirmation expired or was no longer valid: please start again.",
    "passkey_added": "Your passkey is added: it logs in by itself, and is a second step after your password.",
    "passkey_renamed": "Passkey renamed.",
    "passkey_removed": "Passkey removed: it no longer logs in.",
    "passkey_not_found": "That passkey was removed already.",
    "passkey_name_invalid": "A passkey's name is 1 to 64 characters.",
    # federation/: connecting and disconnecting a provider's identity
    "identity_connected": "Connected: you can log in with that provider now.",
    "identity_disconnected": "Disconnected: that provider no longer logs in to this account.",
    "identity_in_use": "That identity is connected to another account here.",
    "last_login_method": "That is the only way to log in to this account: set a password first (the reset link).",
    "unknown_provider": "No such provider is configured here.",
    "provider_unavailable": "The provider did not answer; try again later.",
}
LOGIN_AFTER = {"missing_token": "/login", "token_revoked": "/login?reason=revoked", "token_reused": "/login?reason=reused"}
# docs/refresh-tokens.md, served at /guide in development: the dashboard links into it.
GUIDE = DOCS / "refresh-tokens.md"


def render(request: Request, name: str, settings: Settings, status_code: int = 200, **context: Any) -> Response:
    config: PasetoConfig = request.app.state.authpaseto
    cookies = {"access_csrf": config.access_csrf_cookie_name, "refresh_csrf": config.refresh_csrf_cookie_name}
    # The navigation: a session's refresh CSRF cookie (readable, unlike the tokens) says someone is logged
    # in here, and is the value the "Log out" form sends; the server checks it against the refresh token.
    nav = {
        "logout_csrf": request.cookies.get(config.refresh_csrf_cookie_name, ""),
        "registration_open": settings.registration_open,
        "guide": _guide_available(settings),
        "docs": settings.docs_enabled,
        "passkeys": passkey_ceremonies.available(settings),  # the pages offer them (static/passkeys.js)
        "providers": [(provider.name, provider.label or provider.name) for provider in settings.oidc_providers],
    }
    page = templates.TemplateResponse(
        request, name, {"app_name": settings.app_name, "cookies": cookies, "nav": nav, **context}, status_code=status_code
    )
    if settings.oidc_providers:  # the providers' buttons lead to their origins (federation/)
        page.headers["Content-Security-Policy"] = request.app.state.federation.page_policy()
    return page


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, settings: SettingsDep, reason: str | None = None) -> Response:
    return render(request, "login.html", settings, notice=LOGIN_REASONS.get(reason or ""))


@router.get("/register", response_class=HTMLResponse)
async def register_page(request: Request, settings: SettingsDep) -> Response:
    """The sign-up page, while registration is open (development, or REGISTRATION_OPEN); else a page that says it is closed."""
    return render(request, "register.html", settings, 200 if settings.registration_open else 404, min_length=settings.password_min_length)


@router.get("/", response_class=HTMLResponse)
def dashboard_page(request: Request, settings: SettingsDep, session: SessionDep, auth: Authorize, notice: str | None = None) -> Response:
    """The session as the access token cookie tells it; once that token has expired, a button to refresh it."""
    config = auth.config
    refresh_csrf = request.cookies.get(config.refresh_csrf_cookie_name, "")
    try:
        auth.paseto_required()
    except AuthPASETOException as refused:
        if refused.code in ("token_expired", "missing_token") and refresh_csrf:
            return render(request, "dashboard.html", settings, expired=True, refresh_csrf=refresh_csrf)
        return RedirectResponse(LOGIN_AFTER.get(refused.code, "/login?reason=session_ended"), status_code=303)
    claims = auth.get_token_payload() or {}
    account = users_service.get_active(session, claims["sub"])
    if account is None:
        return RedirectResponse("/login?reason=revoked", status_code=303)
    return render(
        request,
        "dashboard.html",
        settings,
        session=auth_service.describe_session(session, claims),
        account=account,
        sessions=auth_service.live_sessions(session, account.id or 0),
        access_csrf=claims["csrf"],
        refresh_csrf=refresh_csrf,
        notice=DASHBOARD_NOTICES.get(notice or ""),
        notice_code=notice if notice in DASHBOARD_NOTICES else None,
        guide_url="/guide" if _guide_available(settings) else None,
        factors=mfa_service.methods(session, account),
        recovery_codes_left=mfa_service.recovery_codes_left(session, account),
        recent_activity=[EventView.of(event, account.username) for event in activity_service.recent(session, account.id or 0)],
        passkeys=passkeys_service.passkeys_of(session, account),
        identities=federation_service.identities(session, account.id or 0),
        has_password=federation_service.has_password(session, account),
    )


@router.get("/password/forgot", response_class=HTMLResponse)
async def forgot_password_page(request: Request, settings: SettingsDep) -> Response:
    return render(request, "forgot.html", settings)


@router.get("/password/reset", response_class=HTMLResponse)
async def reset_password_page(request: Request, settings: SettingsDep, token: str = "") -> Response:
    """The page a reset link opens; the token goes on in the form (the access log never shows it: logs.py)."""
    return render(request, "reset.html", settings, token=token, min_length=settings.password_min_length)


@router.get("/email/verify", response_class=HTMLResponse)
async def verify_email_page(request: Request, settings: SettingsDep, token: str = "") -> Response:
    return render(request, "verify.html", settings, token=token)


def _guide_available(settings: Settings) -> bool:
    return settings.docs_enabled and GUIDE.is_file()


@router.get("/guide", response_class=HTMLResponse)
async def guide_page(request: Request, settings: SettingsDep) -> Response:
    """The refresh-token guide (docs/refresh-tokens.md), in development, when the project folder is at hand."""
    if not _guide_available(settings):
        raise HTTPException(404, "Not Found")
    return render(request, "guide.html", settings, guide=render_markdown(GUIDE.read_text()))


@router.get("/docs", response_class=HTMLResponse)
async def api_docs(request: Request, settings: SettingsDep) -> Response:
    """The OpenAPI page, when DOCS_ENABLED (development); its Authorize button logs in with the password form."""
    if not settings.docs_enabled:
        raise HTTPException(404, "Not Found")
    page = templates.TemplateResponse(request, "docs.html", {"app_name": settings.app_name})
    page.headers["Content-Security-Policy"] = DOCS_POLICY
    return page


@router.get("/static/swagger/{name}")
async def swagger_ui_asset(name: str, settings: SettingsDep) -> Response:
    """Swagger UI's files for /docs, named one by one: nothing else of the package is reachable."""
    if not settings.docs_enabled or name not in SWAGGER_UI_ASSETS:
        raise HTTPException(404, "Not Found")
    with resources.as_file(SWAGGER_UI_FILES / name) as path:
        return FileResponse(path, media_type=SWAGGER_UI_ASSETS[name], headers={"Cache-Control": "public, max-age=86400"})
