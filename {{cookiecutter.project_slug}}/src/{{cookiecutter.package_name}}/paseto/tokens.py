"""Making and checking tokens: PASETO v4 only, the configured purpose only, every claim checked.

pyseto checks the cryptography; the claims (`exp`, `nbf`, `iss`, `aud`, `type`) are checked here so
that each failure gets its own exception, and anything pyseto raises becomes InvalidTokenError.
"""

import base64
import binascii
import json
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pyseto

from .config import PasetoConfig
from .exceptions import (
    ExpiredTokenError,
    InvalidClaimsError,
    InvalidTokenError,
    NotYetValidError,
    UnknownKeyError,
    UnsupportedTokenError,
)

__all__ = ["RESERVED_CLAIMS", "TokenType", "decode_token", "encode_token"]

TokenType = Literal["access", "refresh"]
RESERVED_CLAIMS = frozenset({"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "type", "fresh"})
_PASETO_HEADER = re.compile(r"v[1-4]\.(local|public)\.")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_MAX_FOOTER_LENGTH = 256  # a {"kid": "k4.lid..."} footer is about 90 characters


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def encode_token(
    config: PasetoConfig,
    *,
    subject: str,
    token_type: str,
    expires_in: timedelta,
    fresh: bool = False,
    audience: str | None = None,
    claims: Mapping[str, Any] | None = None,
) -> str:
    """Issue a token; `jti` is random, `exp`/`nbf`/`iat` ISO 8601, `kid` in the footer."""
    extra = dict(claims or {})
    if clash := RESERVED_CLAIMS & extra.keys():
        raise ValueError(f"user_claims may not set reserved claims: {sorted(clash)}")
    now = datetime.now(UTC)
    payload: dict[str, Any] = {
        **extra,
        "sub": subject,
        "exp": _iso(now + expires_in),
        "nbf": _iso(now),
        "iat": _iso(now),
        "jti": uuid.uuid4().hex,
        "type": token_type,
    }
    if token_type == "access":
        payload["fresh"] = fresh
    if config.issuer:
        payload["iss"] = config.issuer
    if audience or config.audience:
        payload["aud"] = audience or config.audience
    token: str = pyseto.encode(config.keys.signing_key, payload, footer={"kid": config.keys.signing_kid}).decode()
    return token


def _footer_kid(token: str) -> str:
    # The footer is read before any cryptography checks the token, so it is parsed defensively.
    parts = token.split(".")
    if len(parts) != 4 or len(parts[3]) > _MAX_FOOTER_LENGTH or not all(_BASE64URL.fullmatch(part) for part in parts[2:]):
        raise InvalidTokenError("Token has no key id footer")
    try:
        footer = json.loads(base64.urlsafe_b64decode(parts[3] + "=" * (-len(parts[3]) % 4)))
    except (binascii.Error, ValueError, RecursionError):
        raise InvalidTokenError("Token footer is not JSON") from None
    kid = footer.get("kid") if isinstance(footer, dict) else None
    if not isinstance(kid, str):
        raise InvalidTokenError("Token has no key id footer")
    return kid


def _parse_time(claims: Mapping[str, Any], name: str) -> datetime | None:
    value = claims.get(name)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidClaimsError(f"Claim '{name}' is not an ISO 8601 time with a time zone")
    return moment


def _check_claims(config: PasetoConfig, claims: Mapping[str, Any]) -> None:
    now = datetime.now(UTC)
    expires = _parse_time(claims, "exp")
    if expires is None:
        raise InvalidClaimsError("Token has no expiry")
    if now > expires + config.leeway:
        raise ExpiredTokenError()
    not_before = _parse_time(claims, "nbf")
    if not_before is not None and now < not_before - config.leeway:
        raise NotYetValidError()
    for name in ("sub", "jti", "type"):
        if not isinstance(claims.get(name), str) or not claims[name]:
            raise InvalidClaimsError(f"Claim '{name}' is missing")
    if config.issuer and claims.get("iss") != config.issuer:
        raise InvalidClaimsError("Token issuer is not accepted")
    if config.audience and claims.get("aud") != config.audience:
        raise InvalidClaimsError("Token audience is not accepted")


def decode_token(config: PasetoConfig, token: str) -> dict[str, Any]:
    """Verify a token and its claims; raise an AuthPASETOException subclass for every failure."""
    if len(token) > config.max_token_length or not token.isascii():
        raise InvalidTokenError()
    expected = f"v4.{config.purpose}."
    if not token.startswith(expected):
        header = _PASETO_HEADER.match(token)
        raise UnsupportedTokenError() if header else InvalidTokenError()
    key = config.keys.verification_key(_footer_kid(token))
    if key is None:
        raise UnknownKeyError()
    try:
        payload = pyseto.decode(key, token).payload  # bytes: no deserializer, so pyseto checks no claims
        claims = json.loads(payload) if isinstance(payload, bytes) else None
    except Exception:  # pyseto raises ValueError, DecryptError, VerifyError...; none may escape as a 500
        raise InvalidTokenError() from None
    if not isinstance(claims, dict):
        raise InvalidClaimsError("Token payload is not a JSON object")
    _check_claims(config, claims)
    return claims
