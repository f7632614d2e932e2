"""Refusals of the users domain, each with an HTTP status and a stable machine-readable code."""

from typing import ClassVar

from ..paseto import AuthPASETOException


class UserError(Exception):
    """A request about accounts that cannot be done: `code` says why."""

    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message


class InvalidCredentialsError(AuthPASETOException):
    """The same answer for an unknown user, a wrong password and an inactive account."""

    code = "invalid_credentials"
    default_message = "Incorrect username or password"


class TooManyAttemptsError(AuthPASETOException):
    status_code: ClassVar[int] = 429
    code = "too_many_attempts"
    default_message = "Too many attempts; try again later"

    def __init__(self, retry_after: int) -> None:
        super().__init__()
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}
