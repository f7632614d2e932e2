"""Reading one's own account. (Registering, recovering and verifying it: account/.)"""

from fastapi import APIRouter

from .dependencies import CurrentUser
from .schemas import UserPublic

router = APIRouter(tags=["users"])


@router.get("/users/me")
async def read_me(user: CurrentUser) -> UserPublic:
    """The account behind the access token."""
    return UserPublic.of(user)
