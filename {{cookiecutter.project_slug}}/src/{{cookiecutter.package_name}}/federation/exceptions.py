"""Refusals of federated login: each a page that says what happened, with a stable `code` (never a 500)."""


class FederationError(Exception):
    """A federated login (or connection) that cannot go on: `code` says why, `message` tells the person."""

    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message


def bad_callback(code: str, message: str) -> FederationError:
    """A callback this browser did not start, or one used already: 400, nothing was done."""
    return FederationError(400, code, message)
