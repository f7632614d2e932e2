"""Refusals of the routes other services call."""

from ..paseto.exceptions import AuthPASETOException


class InvalidClientError(AuthPASETOException):
    """No listed introspection client, or a wrong secret (RFC 7662 section 2.3, RFC 6749's invalid_client)."""

    code = "invalid_client"
    default_message = "Introspection needs the credentials of a listed client (HTTP Basic)"

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Basic realm="introspection"'}
