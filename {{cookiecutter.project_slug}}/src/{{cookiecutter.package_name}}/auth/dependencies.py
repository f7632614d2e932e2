"""Dependencies of the auth routes: the revoked sessions, and the device cookie of browsers."""

from typing import Annotated

from fastapi import Depends, Request, Response

from ..config import Settings
from ..users.dependencies import SettingsDep
from .revocation import RevokedFamilies


async def get_revoked_families(request: Request) -> RevokedFamilies:
    revoked: RevokedFamilies = request.app.state.revoked_families
    return revoked


RevokedDep = Annotated[RevokedFamilies, Depends(get_revoked_families)]


def device_cookie_name(settings: Settings) -> str:
    return "__Secure-device_token" if settings.cookie_secure else "device_token"


async def get_device_cookie(request: Request, settings: SettingsDep) -> str | None:
    return request.cookies.get(device_cookie_name(settings))


# A browser's device token (users/service.py): sent to the login routes only, under /login.
DeviceCookie = Annotated[str | None, Depends(get_device_cookie)]


def remember_device(response: Response, settings: Settings, device_token: str) -> None:
    """Keep the device token in the browser for its lifetime, whatever PERSISTENT_COOKIES says: it marks the
    device, not the session, and opens nothing by itself."""
    response.set_cookie(
        device_cookie_name(settings),
        device_token,
        max_age=int(settings.device_token_days * 86400),
        path="/login",
        secure=settings.cookie_secure,
        httponly=True,
        samesite=settings.cookie_samesite,
    )
