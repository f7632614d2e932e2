"""Telling other services about tokens: which introspection clients may ask, and what a token is worth now."""

import hashlib
import hmac
from datetime import datetime

from fastapi.security import HTTPBasicCredentials
from sqlmodel import Session

from ..auth.models import TokenFamily
from ..auth.revocation import RevokedFamilies
from ..auth.service import require_newest_refresh_token
from ..config import Settings
from ..database import as_utc, utcnow
from ..paseto import AuthPASETOException, PasetoConfig
from ..paseto.tokens import decode_token
from ..users import throttle
from .exceptions import InvalidClientError
from .schemas import Introspection

INACTIVE = Introspection(active=False)


def authenticate_client(session: Session, settings: Settings, credentials: HTTPBasicCredentials | None, client: str) -> str:
    """The id of a listed introspection client whose secret matches; 401 otherwise.

    The attempt is counted against the client's address before the secret is compared (429 while the
    address is blocked, even with the right secret), and given back when the secret is right.
    """
    limit = throttle.Limit(f"introspect:{throttle.address_group(client)}", settings.login_free_failures, settings.login_max_lockout_seconds)
    reservation = throttle.reserve(session, [limit], settings.login_failure_window_seconds)
    known = {entry.id: entry.secret_sha256 for entry in settings.introspection_clients}
    expected = known.get(credentials.username, "") if credentials is not None else ""
    sent = hashlib.sha256(credentials.password.encode()).hexdigest() if credentials is not None else ""
    if credentials is not None and expected and hmac.compare_digest(sent, expected):
        throttle.release(session, reservation)
        session.commit()
        return credentials.username
    session.commit()  # the attempt stays counted as a failure
    raise InvalidClientError()


def introspect(session: Session, config: PasetoConfig, revoked: RevokedFamilies, token: str, client: str) -> Introspection:
    """RFC 7662: active only for a valid token of a live session, read from the database (so a logout is seen
    at once on every instance) and, for a refresh token, only while it is the session's newest: a spent one
    is reuse, and its session ends (auth/service.py)."""
    try:
        claims = decode_token(config, token)
        family = session.get(TokenFamily, claims["fam"]) if isinstance(claims.get("fam"), str) else None
        if family is None or family.revoked_at is not None or as_utc(family.ends_at) <= utcnow():
            return INACTIVE
        if claims["type"] == "refresh":
            require_newest_refresh_token(session, revoked, claims, token, client)
    except AuthPASETOException:
        return INACTIVE
    return Introspection(
        active=True,
        sub=claims["sub"],
        exp=int(datetime.fromisoformat(claims["exp"]).timestamp()),
        iat=int(datetime.fromisoformat(claims["iat"]).timestamp()) if "iat" in claims else None,
        token_type=claims["type"],
        fam=family.id,
        aud=claims.get("aud"),
        iss=claims.get("iss"),
        amr=claims.get("amr") or ["pwd"],
        auth_time=int(datetime.fromisoformat(claims.get("auth_time") or claims["iat"]).timestamp()),
    )
