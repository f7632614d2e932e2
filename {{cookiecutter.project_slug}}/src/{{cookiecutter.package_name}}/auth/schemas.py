"""What the auth API accepts and returns."""

from pydantic import BaseModel, Field

from ..users.schemas import LoginName, NewPassword, Password


class Credentials(BaseModel):
    username: LoginName
    password: Password


class PasswordCheck(BaseModel):
    password: Password


class PasswordChange(BaseModel):
    current_password: Password
    new_password: NewPassword


class AccessToken(BaseModel):
    """A token response in OAuth 2.0's shape (RFC 6749 section 5.1)."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires")


class TokenPair(AccessToken):
    refresh_token: str
    refresh_token_expires_in: int = Field(description="Seconds until the refresh token expires, unless it is spent first")


class SessionView(BaseModel):
    """What the page may know of its session: the claims that matter, never the tokens themselves."""

    user: str
    family: str = Field(description="The session (token family) id; every refresh token of this login shares it")
    fresh: bool
    issued_at: str
    expires_at: str = Field(description="When the access token expires")
    refresh_expires_at: str | None = Field(description="When the session's refresh token expires, unless spent first")
