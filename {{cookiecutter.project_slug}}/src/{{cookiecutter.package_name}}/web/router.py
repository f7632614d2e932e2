"""The pages a person uses: a login page and a dashboard that shows the refresh-token pattern at work.

Pages are plain Jinja2 with a little hand-written JS (static/app.js) that calls the API with
cookies and refreshes the access token when it expires. No front-end build step.
"""

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from ..users.dependencies import SettingsDep

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
static_files = StaticFiles(directory=HERE / "static")
router = APIRouter(include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, settings: SettingsDep) -> Response:
    return templates.TemplateResponse(request, "login.html", {"app_name": settings.app_name})


@router.get("/", response_class=HTMLResponse)
def dashboard_page(request: Request, settings: SettingsDep) -> Response:
    # The page checks its session itself (and refreshes it); with no session cookie at all, skip the trip.
    config = request.app.state.authpaseto
    if not ({config.access_cookie_name, config.refresh_csrf_cookie_name} & request.cookies.keys()):
        return RedirectResponse("/login", status_code=303)
    return templates.TemplateResponse(request, "dashboard.html", {"app_name": settings.app_name})
