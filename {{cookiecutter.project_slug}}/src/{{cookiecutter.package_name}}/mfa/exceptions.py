"""Refusals of the second-factor routes."""

from typing import Any

from ..paseto.exceptions import AuthPASETOException, InvalidTokenError


class MfaRequiredError(AuthPASETOException):
    """The password was right and the account has a second factor: the answer carries the token of the second step."""

    code = "mfa_required"
    default_message = "This account has a second factor: send a code, a recovery code or a passkey with the mfa_token"

    def __init__(self, mfa_token: str, methods: list[str]) -> None:
        super().__init__()
        self.extra: dict[str, Any] = {"mfa_token": mfa_token, "methods": methods}


class InvalidCodeError(AuthPASETOException):
    code = "invalid_code"
    default_message = "That code is not right"


class CodeUsedError(InvalidCodeError):
    code = "code_used"
    default_message = "That code was used already; wait for the next one"


class InvalidMfaTokenError(InvalidTokenError):
    """The mfa_token is not one (forged, expired, of another purpose), or the account changed since it was issued."""

    code = "invalid_mfa_token"
    default_message = "Log in again: this second step has expired or is no longer valid"
