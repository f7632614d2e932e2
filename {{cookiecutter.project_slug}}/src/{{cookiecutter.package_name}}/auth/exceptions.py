"""Refusals of the auth domain that are not about a token's own validity."""

from ..paseto.exceptions import InvalidTokenError


class TokenReusedError(InvalidTokenError):
    """A spent refresh token came back: someone holds a copy. The whole family is revoked."""

    code = "token_reused"
    default_message = "Refresh token was already used; the session has been revoked"


class SessionExpiredError(InvalidTokenError):
    """The session has lived SESSION_MAX_DAYS: however often it refreshed, it ends. Log in again."""

    code = "session_expired"
    default_message = "The session has reached its maximum age; log in again"
