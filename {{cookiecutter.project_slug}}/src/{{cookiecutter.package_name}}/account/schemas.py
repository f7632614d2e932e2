"""What the account API accepts and returns."""

from pydantic import BaseModel, Field

from ..users.schemas import Email, NewPassword

# A one-time token as it comes back from a link: bounded before anything parses it.
LinkToken = Field(min_length=1, max_length=2048)


class ForgottenPassword(BaseModel):
    email: Email


class PasswordReset(BaseModel):
    token: str = LinkToken
    new_password: NewPassword


class EmailVerification(BaseModel):
    token: str = LinkToken


class EmailChange(BaseModel):
    email: Email


class Accepted(BaseModel):
    """A request that was taken; what follows happens by mail."""

    detail: str
