"""Every refusal has one shape, `{"detail": ..., "code": ...}` with a stable code; this is it, and its OpenAPI."""

from collections.abc import Mapping
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(BaseModel):
    detail: str | list[ValidationIssue]
    code: str


def error(status_code: int, code: str, detail: object, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail, "code": code}, status_code=status_code, headers=headers)


_REFUSALS: dict[int, tuple[str, dict[str, Any]]] = {
    400: ("The body could not be parsed (not UTF-8 JSON, or a broken form)", {}),
    401: (
        "No valid token or credentials; `code` says which check failed",
        {"WWW-Authenticate": {"description": 'Bearer, with error="invalid_token" when a token was sent', "schema": {"type": "string"}}},
    ),
    403: ("A browser request without the CSRF header, or a closed feature", {}),
    409: ("The name or e-mail address is taken", {}),
    413: ("The request body is larger than the server accepts", {}),
    422: ("A field is missing or breaks its rules; `detail` lists them (a string for password rules)", {}),
    429: ("Too many attempts", {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}),
    503: ("The database is unavailable", {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}),
}


def refusals(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` of a route for these refusals, all in the `{"detail", "code"}` shape."""
    return {status: {"model": ErrorBody, "description": _REFUSALS[status][0], "headers": _REFUSALS[status][1]} for status in statuses}
