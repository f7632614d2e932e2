"""The pages a person uses: a login page and a dashboard that shows the refresh-token pattern at work.

Pages are plain Jinja2 with a little hand-written JS (static/app.js) that calls the API with
cookies and refreshes the access token when it expires. No front-end build step, no inline script
(the Content-Security-Policy allows none), and no URL built from the request's Host header.
"""

from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from ..config import Settings
from ..paseto import PasetoConfig
from ..users.dependencies import SettingsDep
from .markdown import render_markdown

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
static_files = StaticFiles(directory=HERE / "static")
router = APIRouter(include_in_schema=False)

# The OpenAPI page's assets: one exact version from the CDN, each with the hash the browser checks.
SWAGGER_UI = {
    "js": "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5.35.0/swagger-ui-bundle.js",
    "js_integrity": "sha384-gjRm0bEPMeTmMh5jT2cHccIwCUZSTd8YC+j0d0sXw0MdGEfScduGpSyF3ZSSLkX9",
    "css": "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5.35.0/swagger-ui.css",
    "css_integrity": "sha384-WlYgdmXYOOBWL5apwjDEZwN+U3HmXSSu5R6V5aGxEcf7z+KuRNwBhoxKVN1i3D5I",
}
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' https://cdn.jsdelivr.net; style-src 'self' https://cdn.jsdelivr.net; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)

# Why the login page was opened: the page shows the text for a known code, never text from the URL.
LOGIN_REASONS = {
    "logged_out": "You have logged out.",
    "logged_out_everywhere": "You have logged out on every device.",
    "session_ended": "Your session has ended. Please log in again.",
    "revoked": "You have been logged out (this session was ended elsewhere).",
    "reused": "A refresh token of your session was used twice, so the whole session was ended in case it was stolen. Please log in again.",
}
# docs/refresh-tokens.md, served at /guide in development: the dashboard links into it.
GUIDE = HERE.parents[2] / "docs" / "refresh-tokens.md"


def _page(request: Request, name: str, settings: Settings, **context: Any) -> Response:
    config: PasetoConfig = request.app.state.authpaseto
    cookies = {"access_csrf": config.access_csrf_cookie_name, "refresh_csrf": config.refresh_csrf_cookie_name}
    return templates.TemplateResponse(request, name, {"app_name": settings.app_name, "cookies": cookies, **context})


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, settings: SettingsDep, reason: str | None = None) -> Response:
    return _page(request, "login.html", settings, notice=LOGIN_REASONS.get(reason or ""))


@router.get("/", response_class=HTMLResponse)
async def dashboard_page(request: Request, settings: SettingsDep) -> Response:
    # The page checks its session itself (and refreshes it); with no session cookie at all, skip the trip.
    config: PasetoConfig = request.app.state.authpaseto
    if not ({config.access_cookie_name, config.refresh_csrf_cookie_name} & request.cookies.keys()):
        return RedirectResponse("/login", status_code=303)
    return _page(request, "dashboard.html", settings, guide_url="/guide" if _guide_available(settings) else None)


def _guide_available(settings: Settings) -> bool:
    return settings.docs_enabled and GUIDE.is_file()


@router.get("/guide", response_class=HTMLResponse)
async def guide_page(request: Request, settings: SettingsDep) -> Response:
    """The refresh-token guide (docs/refresh-tokens.md), in development, when the project folder is at hand."""
    if not _guide_available(settings):
        raise HTTPException(404, "Not Found")
    return _page(request, "guide.html", settings, guide=render_markdown(GUIDE.read_text()))


@router.get("/docs", response_class=HTMLResponse)
async def api_docs(request: Request, settings: SettingsDep) -> Response:
    """The OpenAPI page, when DOCS_ENABLED (development); its Authorize button logs in with the password form."""
    if not settings.docs_enabled:
        raise HTTPException(404, "Not Found")
    page = templates.TemplateResponse(request, "docs.html", {"app_name": settings.app_name, "swagger": SWAGGER_UI})
    page.headers["Content-Security-Policy"] = DOCS_POLICY
    return page
