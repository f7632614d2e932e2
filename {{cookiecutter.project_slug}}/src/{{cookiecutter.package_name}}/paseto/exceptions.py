"""Every way a token can be refused, each with an HTTP status and a stable machine-readable code."""

from typing import ClassVar

__all__ = [
    "AuthPASETOException",
    "CSRFError",
    "ExpiredLinkError",
    "ExpiredTokenError",
    "FreshTokenRequired",
    "InvalidClaimsError",
    "InvalidHeaderError",
    "InvalidLinkError",
    "InvalidTokenError",
    "MissingTokenError",
    "NotYetValidError",
    "RevokedTokenError",
    "UnknownKeyError",
    "UnsupportedTokenError",
    "UsedLinkError",
    "WrongTokenTypeError",
]


class AuthPASETOException(Exception):
    """Base class: `status_code`, `message` and `code` make the JSON error response."""

    status_code: ClassVar[int] = 401
    code: ClassVar[str] = "invalid_token"
    default_message: ClassVar[str] = "Invalid token"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)

    @property
    def headers(self) -> dict[str, str]:
        # RFC 6750 section 3: a request with no token gets the bare challenge.
        if self.status_code != 401:
            return {}
        if isinstance(self, MissingTokenError):
            return {"WWW-Authenticate": "Bearer"}
        return {"WWW-Authenticate": 'Bearer error="invalid_token"'}


class MissingTokenError(AuthPASETOException):
    code = "missing_token"
    default_message = "Not authenticated"


class InvalidHeaderError(AuthPASETOException):
    code = "invalid_header"
    default_message = "Authorization header must be 'Bearer <token>'"


class InvalidTokenError(AuthPASETOException):
    code = "invalid_token"
    default_message = "Invalid token"


class UnsupportedTokenError(InvalidTokenError):
    code = "unsupported_token"
    default_message = "Token version or purpose is not accepted"


class UnknownKeyError(InvalidTokenError):
    code = "unknown_key"
    default_message = "Token was not issued with a known key"


class InvalidClaimsError(InvalidTokenError):
    code = "invalid_claims"
    default_message = "Token claims are invalid"


class ExpiredTokenError(InvalidTokenError):
    code = "token_expired"
    default_message = "Token has expired"


class NotYetValidError(InvalidTokenError):
    code = "token_not_yet_valid"
    default_message = "Token is not valid yet"


class WrongTokenTypeError(InvalidTokenError):
    code = "wrong_token_type"
    default_message = "Wrong token type"


class FreshTokenRequired(InvalidTokenError):
    code = "fresh_token_required"
    default_message = "Fresh token required"


class RevokedTokenError(InvalidTokenError):
    code = "token_revoked"
    default_message = "Token has been revoked"


class CSRFError(AuthPASETOException):
    status_code = 403
    code = "csrf_failed"
    default_message = "CSRF token missing or incorrect"


class InvalidLinkError(AuthPASETOException):
    """A one-time token (a link sent by mail) that is not one: malformed, tampered, foreign or of another purpose."""

    status_code = 400
    code = "link_invalid"
    default_message = "This link is not valid"


class ExpiredLinkError(InvalidLinkError):
    code = "link_expired"
    default_message = "This link has expired; ask for a new one"


class UsedLinkError(InvalidLinkError):
    """The token is valid, but what it was for has been done (or undone) since: it is spent."""

    code = "link_used"
    default_message = "This link has been used already"
