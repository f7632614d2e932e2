"""Telling other services about tokens: which introspection clients may ask, and what a token is worth now."""

import hashlib
import hmac
from datetime import datetime

from fastapi.security import HTTPBasicCredentials
from sqlmodel import Session

from ..auth.models import TokenFamily
from ..auth.service import token_digest
from ..config import Settings
from ..database import as_utc, utcnow
from ..paseto import AuthPASETOException, PasetoConfig
from ..paseto.tokens import decode_token
from ..users import throttle
from .exceptions import InvalidClientError
from .schemas import Introspection

INACTIVE = Introspection(active=False)


def authenticate_client(session: Session, settings: Settings, credentials: HTTPBasicCredentials | None, client: str) -> str:
    """The id of a listed introspection client whose secret matches; 401 otherwise (and failures count, 429 past the limit)."""
    known = {entry.id: entry.secret_sha256 for entry in settings.introspection_clients}
    if credentials is not None:
        expected = known.get(credentials.username, "")
        sent = hashlib.sha256(credentials.password.encode()).hexdigest()
        if hmac.compare_digest(sent, expected) and expected:
            return credentials.username
    limit = throttle.Limit(f"introspect:{throttle.address_group(client)}", settings.login_free_failures, settings.login_max_lockout_seconds)
    throttle.reserve(session, [limit], settings.login_failure_window_seconds)
    session.commit()
    raise InvalidClientError()


def introspect(session: Session, config: PasetoConfig, token: str) -> Introspection:
    """RFC 7662: active only for a valid token of a live session, read from the database (so a logout is seen
    at once on every instance) and, for a refresh token, only while it is the session's newest (unspent)."""
    try:
        claims = decode_token(config, token)
    except AuthPASETOException:
        return INACTIVE
    family = session.get(TokenFamily, claims["fam"]) if isinstance(claims.get("fam"), str) else None
    if family is None or family.revoked_at is not None or as_utc(family.ends_at) <= utcnow():
        return INACTIVE
    if claims["type"] == "refresh" and family.current_token_hash != token_digest(token):
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
    )
