"""Making and checking tokens: PASETO v4 only, the configured purpose only, every claim checked.

pyseto checks the cryptography; the claims (`exp`, `nbf`, `iss`, `aud`, `type`) are checked here so
that each failure gets its own exception, and anything pyseto raises becomes InvalidTokenError.
A token verified once is remembered (paseto/cache.py): seen again, only its expiry is checked anew.
"""

import base64
import binascii
import json
import re
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pyseto
from pyseto import KeyInterface

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
    if config.keys.signing_key is None:
        raise ValueError("this key ring only verifies tokens: it has no signing key")
    token: str = pyseto.encode(config.keys.signing_key, payload, footer={"kid": config.keys.signing_kid}).decode()
    return token


def _footer_kid(footer: str) -> str:
    # The footer is read before any cryptography checks the token, so it is parsed defensively.
    if len(footer) > _MAX_FOOTER_LENGTH or not _BASE64URL.fullmatch(footer):
        raise InvalidTokenError("Token has no key id footer")
    try:
        parsed = json.loads(base64.urlsafe_b64decode(footer + "=" * (-len(footer) % 4)))
    except (binascii.Error, ValueError, RecursionError):
        raise InvalidTokenError("Token footer is not JSON") from None
    kid = parsed.get("kid") if isinstance(parsed, dict) else None
    if not isinstance(kid, str):
        raise InvalidTokenError("Token has no key id footer")
    return kid


def _verification_key(config: PasetoConfig, token: str) -> KeyInterface:
    parts = token.split(".")
    if len(parts) != 4:
        raise InvalidTokenError("Token has no key id footer")
    footer, ring = parts[3], config.keys
    # Every token a key signs carries the same footer: parse each footer once (a few, so a flood of
    # made-up footers cannot grow this).
    key = ring.keys_by_footer.get(footer)
    if key is None:
        key = ring.verification_key(_footer_kid(footer))
        if key is None:
            raise UnknownKeyError()
        if len(ring.keys_by_footer) < 8:
            ring.keys_by_footer[footer] = key
    return key


def _timestamp(claims: Mapping[str, Any], name: str) -> float | None:
    """The claim as seconds since the epoch (floats compare quicker than datetimes, and never overflow)."""
    value = claims.get(name)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidClaimsError(f"Claim '{name}' is not an ISO 8601 time with a time zone")
    return moment.timestamp()


def _check_claims(config: PasetoConfig, claims: Mapping[str, Any]) -> float:
    """Check every claim; return the moment (a timestamp, leeway included) after which the token is expired."""
    now, leeway = time.time(), config.leeway.total_seconds()
    expires = _timestamp(claims, "exp")
    if expires is None:
        raise InvalidClaimsError("Token has no expiry")
    if now - leeway > expires:
        raise ExpiredTokenError()
    not_before = _timestamp(claims, "nbf")
    if not_before is not None and now + leeway < not_before:
        raise NotYetValidError()
    for name in ("sub", "jti", "type"):
        if not isinstance(claims.get(name), str) or not claims[name]:
            raise InvalidClaimsError(f"Claim '{name}' is missing")
    if config.issuer and claims.get("iss") != config.issuer:
        raise InvalidClaimsError("Token issuer is not accepted")
    if config.audience and claims.get("aud") != config.audience:
        raise InvalidClaimsError("Token audience is not accepted")
    return expires + leeway


def decode_token(config: PasetoConfig, token: str) -> dict[str, Any]:
    """Verify a token and its claims; raise an AuthPASETOException subclass for every failure."""
    cached = config.verified_tokens.get(config.keys, token)
    if cached is not None:
        if time.time() > cached[1]:
            config.verified_tokens.discard(token)
            raise ExpiredTokenError()
        return dict(cached[0])  # a copy: the caller may not change what the next request sees
    if len(token) > config.max_token_length or not token.isascii():
        raise InvalidTokenError()
    if not token.startswith(config.token_header):
        header = _PASETO_HEADER.match(token)
        raise UnsupportedTokenError() if header else InvalidTokenError()
    key = _verification_key(config, token)
    try:
        payload = pyseto.decode(key, token).payload  # bytes: no deserializer, so pyseto checks no claims
        claims: Any = json.loads(payload) if isinstance(payload, bytes) else None
    except Exception:  # pyseto raises ValueError, DecryptError, VerifyError...; none may escape as a 500
        raise InvalidTokenError() from None
    if not isinstance(claims, dict):
        raise InvalidClaimsError("Token payload is not a JSON object")
    valid_until = _check_claims(config, claims)
    config.verified_tokens.put(config.keys, token, claims, valid_until)
    return dict(claims)
