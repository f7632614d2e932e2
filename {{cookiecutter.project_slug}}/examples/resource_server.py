"""Another service that trusts this app's tokens, holding no secret of it: a small FastAPI app.

It checks each request's `Authorization: Bearer <access token>` one of two ways:

- **Published keys** (public bakes): with this project's `paseto` package in verify-only mode (a key
  ring without a signing key), and the keys the app publishes at `/.well-known/paseto-keys`, fetched
  once and kept. A token signed with a key it does not know yet (the app rotated its key) makes it
  fetch them again, at most once every `REFETCH_SECONDS`. It sees a logout only when the access token
  expires: checking costs no request to the app.
- **Introspection** (any bake; local bakes have no public key): it asks the app, `POST /introspect`,
  as a listed client (`create-introspection-client`). One request per check, and a logout counts at once.

Either way it checks the audience and issuer it expects, when given. Its `/payouts` route also wants a
login that proved a second factor: `mfa` in the token's `amr` (RFC 8176), which a refresh keeps. A
password-only token gets 403 `insufficient_user_authentication` (RFC 9470's name for it): the client
logs in again with its second factor.

    RESOURCE_AUTH_URL=http://127.0.0.1:8000 uv run uvicorn --factory resource_server:from_environment --app-dir examples --port 8001

(with RESOURCE_CLIENT_ID / RESOURCE_CLIENT_SECRET set, it introspects; RESOURCE_AUDIENCE, RESOURCE_ISSUER optional).
"""

import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import httpx2
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from {{ cookiecutter.package_name }}.paseto import AuthPASETOException, KeyRing, PasetoConfig
from {{ cookiecutter.package_name }}.paseto.exceptions import InvalidClaimsError, InvalidTokenError, MissingTokenError, UnknownKeyError
from {{ cookiecutter.package_name }}.paseto.tokens import decode_token

REFETCH_SECONDS = 5.0  # a flood of tokens with made-up key ids costs the app at most one request per this long


class SecondFactorRequired(AuthPASETOException):
    status_code = 403
    code = "insufficient_user_authentication"
    default_message = "This needs a login that proved a second factor: log in again with it"


class PublishedKeys:
    """The app's verification keys, fetched when first needed and again (not too often) on an unknown kid."""

    def __init__(self, auth_url: str, http: httpx2.AsyncClient, audience: str | None, issuer: str | None) -> None:
        self._url, self._http = f"{auth_url}/.well-known/paseto-keys", http
        self._audience, self._issuer = audience, issuer
        self._config: PasetoConfig | None = None
        self._fetched_at = -REFETCH_SECONDS
        self.fetches = 0

    async def verify(self, token: str) -> dict[str, Any]:
        config = self._config or await self._fetch()
        try:
            return decode_token(config, token)
        except UnknownKeyError:
            if time.monotonic() - self._fetched_at < REFETCH_SECONDS:
                raise
            return decode_token(await self._fetch(), token)  # rotated at the app: its new key is published

    async def _fetch(self) -> PasetoConfig:
        self._fetched_at, self.fetches = time.monotonic(), self.fetches + 1
        response = await self._http.get(self._url)
        response.raise_for_status()
        ring = KeyRing.verifying(entry["key"] for entry in response.json()["keys"])
        self._config = PasetoConfig(keys=ring, audience=self._audience, issuer=self._issuer)
        return self._config


class Introspection:
    """Asks the app about each token, as a listed client (RFC 7662)."""

    def __init__(self, auth_url: str, http: httpx2.AsyncClient, client: tuple[str, str], audience: str | None, issuer: str | None) -> None:
        self._url, self._http, self._client = f"{auth_url}/introspect", http, client
        self._audience, self._issuer = audience, issuer

    async def verify(self, token: str) -> dict[str, Any]:
        response = await self._http.post(self._url, data={"token": token}, auth=self._client)
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        if not answer["active"] or answer.get("token_type") != "access":
            raise InvalidTokenError("The token is not active (invalid, expired, or its session has ended)")
        if (self._audience and answer.get("aud") != self._audience) or (self._issuer and answer.get("iss") != self._issuer):
            raise InvalidClaimsError("Token audience or issuer is not accepted")
        return answer


def create_resource_server(
    auth_url: str, *, audience: str | None = None, issuer: str | None = None, client: tuple[str, str] | None = None
) -> FastAPI:
    """A service trusting the app at `auth_url`: by introspection when `client` (id, secret) is given, else by its published keys."""
    http = httpx2.AsyncClient(timeout=10)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await http.aclose()

    app = FastAPI(title="A resource server", lifespan=lifespan)
    checker = Introspection(auth_url, http, client, audience, issuer) if client else PublishedKeys(auth_url, http, audience, issuer)
    app.state.checker = checker

    @app.exception_handler(AuthPASETOException)
    async def refused(request: Request, exc: AuthPASETOException) -> JSONResponse:
        return JSONResponse({"detail": exc.message, "code": exc.code}, status_code=exc.status_code, headers=exc.headers)

    async def access_claims(request: Request) -> dict[str, Any]:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise MissingTokenError()
        claims = await checker.verify(token)
        if claims.get("type", claims.get("token_type")) != "access":
            raise InvalidTokenError("This service takes access tokens")
        return claims

    async def mfa_claims(claims: Annotated[dict[str, Any], Depends(access_claims)]) -> dict[str, Any]:
        """Claims of a login that proved a second factor. Both ways of checking give `amr`: the token's own claim, or introspection's."""
        if "mfa" not in (claims.get("amr") or []):
            raise SecondFactorRequired()
        return claims

    @app.get("/greeting")
    async def greeting(claims: Annotated[dict[str, Any], Depends(access_claims)]) -> dict[str, str]:
        return {"hello": claims["sub"]}

    @app.post("/payouts")
    async def payout(claims: Annotated[dict[str, Any], Depends(mfa_claims)]) -> dict[str, str]:
        """Money leaves: only for a login with a second factor."""
        return {"paid_by": claims["sub"]}

    return app


def from_environment() -> FastAPI:
    client_id, secret = os.environ.get("RESOURCE_CLIENT_ID"), os.environ.get("RESOURCE_CLIENT_SECRET")
    return create_resource_server(
        os.environ["RESOURCE_AUTH_URL"].rstrip("/"),
        audience=os.environ.get("RESOURCE_AUDIENCE"),
        issuer=os.environ.get("RESOURCE_ISSUER"),
        client=(client_id, secret) if client_id and secret else None,
    )
