"""Who is calling: token claims and the User behind them, as typed dependencies for routes."""

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from ..config import Settings
from ..database import SessionDep
from ..paseto import AuthPASETO
from ..paseto.exceptions import RevokedTokenError
from .models import User
from .service import get_by_username

# Lets the OpenAPI page log in with the password form; AuthPASETO itself reads the header.
docs_login = OAuth2PasswordBearer(tokenUrl="login/token", auto_error=False)


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]
Authorize = Annotated[AuthPASETO, Depends()]


def get_access_claims(auth: Authorize, _docs: Annotated[str | None, Depends(docs_login)]) -> dict[str, Any]:
    auth.paseto_required()
    return auth.get_token_payload() or {}


def get_fresh_claims(auth: Authorize, _docs: Annotated[str | None, Depends(docs_login)]) -> dict[str, Any]:
    auth.paseto_required(fresh=True)
    return auth.get_token_payload() or {}


AccessClaims = Annotated[dict[str, Any], Depends(get_access_claims)]
FreshClaims = Annotated[dict[str, Any], Depends(get_fresh_claims)]


def _user_for(session: SessionDep, claims: dict[str, Any]) -> User:
    user = get_by_username(session, claims["sub"])
    if user is None or not user.is_active:
        raise RevokedTokenError("User is inactive or no longer exists")
    return user


def get_current_user(session: SessionDep, claims: AccessClaims) -> User:
    return _user_for(session, claims)


def get_fresh_user(session: SessionDep, claims: FreshClaims) -> User:
    return _user_for(session, claims)


CurrentUser = Annotated[User, Depends(get_current_user)]
FreshUser = Annotated[User, Depends(get_fresh_user)]
