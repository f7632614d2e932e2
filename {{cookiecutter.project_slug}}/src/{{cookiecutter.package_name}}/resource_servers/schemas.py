"""What other services get: the published keys, and introspection answers (RFC 7662)."""

from pydantic import BaseModel, Field


class PublishedKey(BaseModel):
    kid: str = Field(description="The PASERK id (k4.pid.…) that tokens signed with this key carry in their footer")
    key: str = Field(description="The k4.public PASERK key")
    current: bool = Field(description="Signs new tokens; the others are retired and verify the tokens they signed")


class PublishedKeys(BaseModel):
    keys: list[PublishedKey]


class Introspection(BaseModel):
    """RFC 7662, section 2.2: `active` only, for a token that is not (invalid, expired, revoked, spent)."""

    active: bool
    sub: str | None = None
    exp: int | None = Field(default=None, description="Seconds since the epoch")
    iat: int | None = Field(default=None, description="Seconds since the epoch")
    token_type: str | None = Field(default=None, description="access or refresh")
    fam: str | None = Field(default=None, description="The session (token family) the token belongs to")
    aud: str | None = None
    iss: str | None = None
    amr: list[str] | None = Field(default=None, description="How the person proved who they are (RFC 8176): `pwd`, `otp`, `hwk`, `mfa`...")
    auth_time: int | None = Field(default=None, description="When they proved it (seconds since the epoch); a refresh keeps it")
