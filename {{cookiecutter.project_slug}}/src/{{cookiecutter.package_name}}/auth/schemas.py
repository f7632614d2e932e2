"""What the auth API accepts and returns."""

from typing import Annotated

from pydantic import BaseModel, Field

# Bounded before anything is hashed or stored: no control characters (PostgreSQL refuses NUL).
Username = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")]
Password = Annotated[str, Field(min_length=1, max_length=1024)]


class Credentials(BaseModel):
    username: Username
    password: Password


class PasswordCheck(BaseModel):
    password: Password


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"


class AccessToken(BaseModel):
    access_token: str
    token_type: str = "bearer"


class SessionView(BaseModel):
    """The claims of the current access token that a page may see; never the token itself."""

    user: str
    fresh: bool
    issued_at: str
    expires_at: str
