"""Every refusal has one shape, `{"detail": ..., "code": ...}` with a stable code; this is it, and its OpenAPI.

A route's documented refusals follow from what it uses: a dependency marked `@refuses(...)` (the
database session, the token scheme) brings its statuses to every route that depends on it, and a
body or a validated parameter brings 413/422. A route declares by hand only what its own code raises
(`responses=refusals(409)`), so a new route written the usual way is documented, and fuzzed, as it is.
"""

from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from fastapi.dependencies.models import Dependant
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel
from starlette.routing import BaseRoute

Marked = TypeVar("Marked")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(BaseModel):
    detail: str | list[ValidationIssue]
    code: str


def error(status_code: int, code: str, detail: object, headers: Mapping[str, str] | None = None, **extra: object) -> JSONResponse:
    """A refusal: `extra` adds fields a client needs to go on (the second step of a login: `mfa_token`, `methods`)."""
    return JSONResponse({"detail": detail, "code": code, **extra}, status_code=status_code, headers=headers)


_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}
_REFUSALS: dict[int, tuple[str, dict[str, Any]]] = {
    400: ("The body could not be parsed (not UTF-8 JSON, or a broken form)", {}),
    401: (
        "No valid token or credentials; `code` says which check failed",
        {"WWW-Authenticate": {"description": 'Bearer, with error="invalid_token" when a token was sent', "schema": {"type": "string"}}},
    ),
    403: ("A browser request without the CSRF header, or a closed feature", {}),
    404: ("No such thing", {}),
    409: ("It conflicts with how things are: a name or address taken, an address verified already, one's own account", {}),
    413: ("The request body is larger than the server accepts", {}),
    422: ("A field is missing or breaks its rules; `detail` lists them (a string for password rules, and for `invalid_data`)", {}),
    429: ("Too many attempts", _RETRY_AFTER),
    503: ("The database is unavailable", _RETRY_AFTER),
}


def refusals(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` of a route for these refusals, all in the `{"detail", "code"}` shape."""
    return {status: {"model": ErrorBody, "description": _REFUSALS[status][0], "headers": _REFUSALS[status][1]} for status in statuses}


def refuses(*statuses: int) -> Callable[[Marked], Marked]:
    """Mark a dependency (function or class) with the refusals it may answer, for every route that uses it."""

    def mark(dependency: Marked) -> Marked:
        dependency.__refusals__ = statuses  # type: ignore[attr-defined]
        return dependency

    return mark


def _dependencies(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from _dependencies(sub)


def _has_parameters(dependant: Dependant) -> bool:
    return bool(dependant.path_params or dependant.query_params or dependant.header_params or dependant.cookie_params)


def derived_refusals(dependant: Dependant, methods: set[str], has_body: bool) -> set[int]:
    """What a route may refuse, from its dependencies, its body and its parameters."""
    statuses: set[int] = set()
    for dependency in _dependencies(dependant):
        statuses.update(getattr(dependency.call, "__refusals__", ()))
    if 401 in statuses and methods & UNSAFE_METHODS:
        statuses.add(403)  # a token from a cookie must come with the CSRF header on unsafe methods
    if has_body:
        statuses |= {400, 413, 422}
    if any(_has_parameters(each) for each in [dependant, *_dependencies(dependant)]):
        statuses.add(422)
    return statuses


def document_refusals(document: dict[str, Any], routes: list[BaseRoute]) -> None:
    """Add each API route's derived refusals to the OpenAPI document, in the `{"detail", "code"}` shape.

    FastAPI documents a 422 of its own shape for any route with parameters; ours replaces it.
    """
    schema = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    components = document.setdefault("components", {}).setdefault("schemas", {})
    for name, definition in {**schema.pop("$defs", {}), "ErrorBody": schema}.items():
        components.setdefault(name, definition)
    reference = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    for route in iter_route_contexts(routes):  # every route, those of included routers too
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        methods = route.methods or set()
        refused = derived_refusals(route.dependant, methods, route.original_route.body_field is not None)
        for method in methods:
            responses = document["paths"][route.path_format][method.lower()]["responses"]
            for status in map(str, sorted(refused)):
                if status not in responses or responses[status].get("content") != reference:
                    description, headers = _REFUSALS[int(status)]
                    responses[status] = {"description": description, "headers": headers, "content": reference}
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
