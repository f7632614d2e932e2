"""Registering and reading one's own account."""

from fastapi import APIRouter, status

from ..database import SessionDep
from . import service
from .dependencies import CurrentUser, SettingsDep
from .schemas import UserCreate, UserPublic

router = APIRouter(tags=["users"])


@router.post("/register", status_code=status.HTTP_201_CREATED)
def register(body: UserCreate, session: SessionDep, settings: SettingsDep) -> UserPublic:
    """Create an account (when registration is open)."""
    if not settings.registration_open:
        raise service.UserError(403, "registration_closed", "Registration is closed")
    service.check_password_rules(body.password, settings.password_min_length, settings.password_max_length)
    user = service.create_user(session, body.username, body.password, body.email)
    return UserPublic.model_validate(user, from_attributes=True)


@router.get("/users/me")
def read_me(user: CurrentUser) -> UserPublic:
    """The account behind the access token."""
    return UserPublic.model_validate(user, from_attributes=True)
