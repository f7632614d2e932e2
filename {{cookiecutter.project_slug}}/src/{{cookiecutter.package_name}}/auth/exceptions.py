"""Errors of the auth domain that are not about a token's own validity."""

from typing import ClassVar

from ..paseto.exceptions import AuthPASETOException, InvalidTokenError


class TokenReusedError(InvalidTokenError):
    """A spent refresh token came back: someone holds a copy. The whole family is revoked."""

    code = "token_reused"
    default_message = "Refresh token was already used; the session has been revoked"


class InvalidCredentialsError(AuthPASETOException):
    code = "invalid_credentials"
    default_message = "Incorrect username or password"


class TooManyAttemptsError(AuthPASETOException):
    status_code: ClassVar[int] = 429
    code = "too_many_attempts"
    default_message = "Too many failed logins; try again later"

    def __init__(self, retry_after: int) -> None:
        super().__init__()
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}
