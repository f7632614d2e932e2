"""Who is calling: the PASETO dependency, the token's claims and the User behind them, as typed dependencies.

The providers that only check a token are `async def`, so a route built on them stays on the event
loop. FastAPI runs every sync dependency, and every class used as one (the fastapi-paseto-auth style
`Authorize: AuthPASETO = Depends()`), in a worker thread: that hop costs more than checking the token.
Reading the user is a database call: `CurrentUser` makes it in a worker thread, and only when the account
is not among the recently read (users/snapshots.py), so a route that reads the user stays on the event
loop most of the time too.
"""

import functools
import ipaddress
import re
from typing import Annotated, Any

from fastapi import Depends, Request, Response, Security
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import Engine
from sqlmodel import Session

from ..config import Settings
from ..errors import refuses
from ..paseto import AuthPASETO
from ..paseto.exceptions import FreshTokenRequired, RevokedTokenError
from .exceptions import UserError
from .service import get_by_username
from .snapshots import Account, UserSnapshot, UserSnapshots

_ADDRESS_TEXT = re.compile(r"[\w.:-]{1,64}")


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_client_address(request: Request) -> str:
    """The client's address, in canonical form when it is an IP address (`2001:DB8::1` is `2001:db8::1`).

    Behind a proxy, run uvicorn with --proxy-headers and --forwarded-allow-ips so this is the client.
    What a proxy forwards is whatever it was sent: anything but an address or a short name is "unknown",
    since it goes into the throttle's keys, the database and the logs.
    """
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host if _ADDRESS_TEXT.fullmatch(host) else "unknown"
    # An IPv6 zone (`fe80::1%eth0`) is free text that ip_address keeps: no client outside the host has one.
    return "unknown" if getattr(address, "scope_id", None) else address.compressed


ClientAddress = Annotated[str, Depends(get_client_address)]


async def get_user_agent(request: Request) -> str:
    """The client's User-Agent, printable and bounded: it is shown to the user in their list of sessions."""
    return "".join(character for character in request.headers.get("user-agent", "") if character.isprintable())[:200]


UserAgent = Annotated[str, Depends(get_user_agent)]


async def get_token_issuer(request: Request, response: Response) -> AuthPASETO:
    return AuthPASETO(request, response)


# For routes that issue tokens without needing one (the logins): no security scheme in the OpenAPI.
TokenIssuer = Annotated[AuthPASETO, Depends(get_token_issuer)]


@refuses(401, 503)  # a bad token; revocations unread for too long (auth/revocation.py)
class PasetoScheme(OAuth2PasswordBearer):
    """The OpenAPI security scheme of token routes, which is also the dependency that hands them AuthPASETO.

    Declared as the password flow, so the OpenAPI page's Authorize button logs in with the form at
    /login/token and then sends the token to every route that needs one. One dependency does both:
    each one more costs every request a few microseconds.
    """

    async def __call__(self, request: Request, response: Response) -> AuthPASETO:  # type: ignore[override]
        return AuthPASETO(request, response)


token_scheme = PasetoScheme(tokenUrl="login/token", scheme_name="PASETO", auto_error=False)
# For routes that need a token: the fastapi-paseto-auth API (`paseto_required()`, `get_subject()`...).
Authorize = Annotated[AuthPASETO, Security(token_scheme)]


async def get_access_claims(auth: Authorize) -> dict[str, Any]:
    auth.paseto_required()
    return auth.get_token_payload() or {}


async def get_fresh_claims(auth: Authorize) -> dict[str, Any]:
    auth.paseto_required(fresh=True)
    return auth.get_token_payload() or {}


# The verified claims of a valid access token (`sub`, `fam`, `fresh`, `exp`...), no database involved.
AccessClaims = Annotated[dict[str, Any], Depends(get_access_claims)]
# The same, straight from a password check: refreshed tokens get 401 fresh_token_required.
FreshClaims = Annotated[dict[str, Any], Depends(get_fresh_claims)]


async def _active_user(request: Request, claims: dict[str, Any]) -> UserSnapshot:
    """The account's snapshot: from memory when recent (on the event loop), else read in a worker thread."""
    snapshots: UserSnapshots = request.app.state.user_snapshots
    snapshot = await snapshots.read(claims["sub"], functools.partial(_read_account, request.app.state.engine))
    if snapshot is None or not snapshot.is_active:
        raise RevokedTokenError("User is inactive or no longer exists")
    return snapshot


def _read_account(engine: Engine, username: str) -> UserSnapshot | None:
    with Session(engine) as session:
        user = get_by_username(session, username)
        return UserSnapshot.of(user) if user is not None else None


@refuses(503)
async def get_current_user(request: Request, claims: AccessClaims) -> UserSnapshot:
    return await _active_user(request, claims)


@refuses(503)
async def get_fresh_user(request: Request, claims: FreshClaims) -> UserSnapshot:
    user = await _active_user(request, claims)
    require_strongest_factor(user, claims)
    return user


def require_strongest_factor(user: Account, claims: dict[str, Any]) -> None:
    """Fresh means the strongest factor the account has (Ory Kratos' `highest_available`): for an account
    with a second factor, a fresh token from a password alone is not enough."""
    if user.mfa_enabled and "mfa" not in (claims.get("amr") or ()):
        raise FreshTokenRequired("This needs a fresh token that proved your second factor: re-authenticate with it (/fresh-login)")


# The account behind the token (users/snapshots.py: read from the database, then kept for seconds, and
# dropped on every instance when it changes): inactive or deleted users are refused. FreshUser: from a
# fresh token that proved the account's strongest factor.
CurrentUser = Annotated[UserSnapshot, Depends(get_current_user)]
FreshUser = Annotated[UserSnapshot, Depends(get_fresh_user)]


@refuses(403)
async def get_verified_user(user: CurrentUser) -> UserSnapshot:
    if user.email_verified_at is None:
        raise UserError(403, "email_unverified", "This needs a verified e-mail address")
    return user


# The same, for an account whose address is verified: others get 403 email_unverified.
VerifiedUser = Annotated[UserSnapshot, Depends(get_verified_user)]


def _admin(user: UserSnapshot) -> UserSnapshot:
    if not user.is_admin:
        raise UserError(403, "admin_required", "This needs an administrator")
    return user


@refuses(403)
async def get_admin_user(user: CurrentUser) -> UserSnapshot:
    return _admin(user)


@refuses(403)
async def get_fresh_admin_user(user: FreshUser) -> UserSnapshot:
    return _admin(user)


# An administrator, as the database says (CurrentUser's snapshot, dropped everywhere when the account
# changes): a demotion takes effect at once, where a role in the token would last as long as the token.
# For changes: a fresh token too.
AdminUser = Annotated[UserSnapshot, Depends(get_admin_user)]
FreshAdminUser = Annotated[UserSnapshot, Depends(get_fresh_admin_user)]
