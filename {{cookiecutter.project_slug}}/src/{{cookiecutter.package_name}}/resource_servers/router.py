"""For other services (resource servers) that must check this app's tokens.

- Public bakes publish their verification keys, as OpenID providers publish a JWKS: a service verifies
  tokens by itself, offline, and sees a logout only when the access token expires.
- Every bake answers introspection (RFC 7662) to listed clients: one request per check, and a logout
  is seen at once. examples/resource_server.py uses either.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Response
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from ..auth.dependencies import RevokedDep
from ..database import SessionDep
from ..errors import refusals
from ..users.dependencies import ClientAddress, SettingsDep, TokenIssuer
from . import service
from .schemas import Introspection, PublishedKey, PublishedKeys

router = APIRouter(tags=["other services"])
basic = HTTPBasic(auto_error=False, realm="introspection", description="An introspection client's id and secret")
KEYS_MAX_AGE = 300  # seconds a service may keep the keys; it fetches them again sooner when it meets an unknown kid


@router.get("/.well-known/paseto-keys", responses=refusals(404))
async def published_keys(auth: TokenIssuer, response: Response) -> PublishedKeys:
    """The public keys that verify this app's tokens: the signing key's, and every retired key still accepted."""
    keys = auth.config.keys.published()
    if not keys:
        raise HTTPException(404, "This app's tokens are local (encrypted): other services ask POST /introspect")
    response.headers["Cache-Control"] = f"public, max-age={KEYS_MAX_AGE}"
    return PublishedKeys(keys=[PublishedKey(kid=kid, key=key, current=current) for kid, key, current in keys])


@router.post("/introspect", responses=refusals(401, 429), response_model_exclude_none=True)
def introspect(
    token: Annotated[str, Form(max_length=4096)],
    session: SessionDep,
    settings: SettingsDep,
    auth: TokenIssuer,
    revoked: RevokedDep,
    client: ClientAddress,
    credentials: Annotated[HTTPBasicCredentials | None, Depends(basic)],
    token_type_hint: Annotated[str | None, Form(max_length=32)] = None,  # RFC 7662's field; the token says its type itself
) -> Introspection:
    """Token introspection (RFC 7662) for listed clients: `{"active": false}` for anything invalid, expired, revoked or spent."""
    service.authenticate_client(session, settings, credentials, client)
    return service.introspect(session, auth.config, revoked, token, client)
