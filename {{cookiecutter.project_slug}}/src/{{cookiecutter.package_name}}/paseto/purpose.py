"""Purpose tokens: PASETO v4.local tokens the app gives out for one job each, beside the session tokens:
the one-time tokens in links sent by mail (a password reset, an address to verify) and the device
tokens of clients that logged in before. Always `local` (encrypted), whatever the session tokens'
purpose: what they carry is for this app's eyes only.

A token is bound to its purpose by PASETO v4's implicit assertion: the purpose is authenticated with
the token but not carried in it, so a token made for one purpose fails to decrypt for any other (and
the access and refresh tokens, made with none and another key, fail as purpose tokens and the
reverse). No claim has to be remembered to be checked: the check is the decryption.

A one-time token needs no storage to be single-use when it binds to what its use changes (the app
does that: a fingerprint of the password hash for a reset); the token itself only expires.
"""

import json
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pyseto

from .exceptions import ExpiredLinkError, InvalidLinkError
from .keys import load_paserk

__all__ = ["PurposeTokens"]

_HEADER = "v4.local."
_MAX_LENGTH = 2048


class PurposeTokens:
    def __init__(self, paserk: str) -> None:
        self._key = load_paserk(paserk, ["k4.local."])

    def issue(self, purpose: str, claims: Mapping[str, Any], lifetime: timedelta) -> str:
        if clash := {"exp", "jti"} & claims.keys():
            raise ValueError(f"claims may not set {sorted(clash)}: issue() does")
        now = datetime.now(UTC)
        payload = {**claims, "exp": (now + lifetime).isoformat(timespec="seconds"), "jti": uuid.uuid4().hex}
        token: str = pyseto.encode(self._key, payload, implicit_assertion=purpose.encode()).decode()
        return token

    def read(self, purpose: str, token: str) -> dict[str, Any]:
        """The claims of a token made for this purpose; InvalidLinkError or ExpiredLinkError otherwise."""
        if len(token) > _MAX_LENGTH or not token.isascii() or not token.startswith(_HEADER) or token.count(".") != 2:
            raise InvalidLinkError()
        try:
            payload = pyseto.decode(self._key, token, implicit_assertion=purpose.encode()).payload  # bytes: no deserializer
            claims = json.loads(payload) if isinstance(payload, bytes) else None
        except Exception:  # pyseto raises ValueError, DecryptError...: none may escape as a 500
            raise InvalidLinkError() from None
        if not isinstance(claims, dict) or not isinstance(claims.get("exp"), str):
            raise InvalidLinkError()
        try:
            expires = datetime.fromisoformat(claims["exp"]).timestamp()
        except ValueError:
            raise InvalidLinkError() from None
        if time.time() > expires:
            raise ExpiredLinkError()
        return claims
