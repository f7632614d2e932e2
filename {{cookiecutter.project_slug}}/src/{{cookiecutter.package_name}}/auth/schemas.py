"""What the auth API accepts and returns."""

from datetime import datetime

from pydantic import BaseModel, Field

from ..users.schemas import LoginName, NewPassword, Password


class Credentials(BaseModel):
    username: LoginName
    password: Password
    device_token: str | None = Field(
        default=None, max_length=2048, description="The `device_token` of an earlier login from this client: a known device"
    )


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


class LoginTokens(TokenPair):
    device_token: str = Field(description="Send it with the next logins from this client (`device_token`): it marks a known device")


class SessionView(BaseModel):
    """What the page may know of its session: the claims that matter, never the tokens themselves."""

    user: str
    family: str = Field(description="The session (token family) id; every refresh token of this login shares it")
    fresh: bool
    issued_at: str
    expires_at: str = Field(description="When the access token expires")
    refresh_expires_at: str | None = Field(description="When the session's refresh token expires, unless spent first")


class SessionInfo(BaseModel):
    """One of the user's sessions (a login on one device), as its owner sees it."""

    id: str = Field(description="The session (token family) id")
    started_at: datetime
    last_used_at: datetime = Field(description="The login, or the last refresh")
    client_address: str
    user_agent: str
    device: str = Field(description='The user agent as a person names it: "Chrome on Linux", "curl", "Unknown device"')
    expires_at: datetime = Field(description="Unless it refreshes before (and never past its maximum age)")
    current: bool = Field(description="The session of the token this request came with")
