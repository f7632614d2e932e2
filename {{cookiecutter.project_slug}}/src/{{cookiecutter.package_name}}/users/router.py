"""Registering and reading one's own account."""

from fastapi import APIRouter, status

from ..database import SessionDep
from ..errors import refusals
from ..logs import security_event
from . import service, throttle
from .dependencies import ClientAddress, CurrentUser, SettingsDep
from .exceptions import UserError
from .schemas import UserCreate, UserPublic

router = APIRouter(tags=["users"])


@router.post("/register", status_code=status.HTTP_201_CREATED, responses=refusals(403, 409, 429))
def register(body: UserCreate, session: SessionDep, settings: SettingsDep, client: ClientAddress) -> UserPublic:
    """Create an account (when registration is open). Limited per client address like logins."""
    if not settings.registration_open:
        raise UserError(403, "registration_closed", "Registration is closed")
    throttle.reserve(session, throttle.registration_limits(settings, client), settings.login_failure_window_seconds)
    session.commit()
    user = service.create_user(session, settings, body.username, body.password, body.email)
    security_event("user_registered", user=user.username, client=client)
    return UserPublic.model_validate(user, from_attributes=True)


@router.get("/users/me")
async def read_me(user: CurrentUser) -> UserPublic:
    """The account behind the access token."""
    return UserPublic.model_validate(user, from_attributes=True)
