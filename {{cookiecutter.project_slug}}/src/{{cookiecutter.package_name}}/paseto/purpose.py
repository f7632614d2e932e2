"""Purpose tokens: PASETO v4.local tokens the app gives out for one job each, beside the session tokens:
the one-time tokens in links sent by mail (a password reset, an address to verify) and the device
tokens of clients that logged in before. Always `local` (encrypted), whatever the session tokens'
purpose: what they carry is for this app's eyes only.

A token is bound to its purpose by PASETO v4's implicit assertion: the purpose is authenticated with
the token but not carried in it, so a token made for one purpose fails to decrypt for any other (and
the access and refresh tokens, made with none and another key, fail as purpose tokens and the
reverse). No claim has to be remembered to be checked: the check is the decryption.

A one-time token needs no storage to be single-use when it binds to what its use changes (the app
does that: the account's security stamp); the token itself only expires.

The same key seals secrets the app must keep but never show (`seal` / `unseal`: a TOTP secret at rest),
each bound to what it is for. Sealed text carries its key's id, so a key being rotated out still opens
what it sealed (`previous`) until it is sealed again with the new one.
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
    def __init__(self, paserk: str, previous: list[str] | None = None) -> None:
        self._key = load_paserk(paserk, ["k4.local."])
        self._kid = self._key.to_paserk_id()
        self._keys = {key.to_paserk_id(): key for key in [self._key, *(load_paserk(old, ["k4.local."]) for old in previous or [])]}

    def seal(self, purpose: str, secret: str) -> str:
        """Encrypt a secret kept at rest (no expiry), bound to `purpose` (e.g. "totp-secret:<account id>")."""
        footer = {"kid": self._kid}
        sealed: str = pyseto.encode(self._key, secret.encode(), footer=footer, implicit_assertion=purpose.encode()).decode()
        return sealed

    def unseal(self, purpose: str, sealed: str) -> tuple[str, bool]:
        """The secret `seal` encrypted for this purpose, and whether the current key sealed it (else seal it
        again: the key it names is being rotated out). ValueError for anything else."""
        try:
            token = pyseto.decode(list(self._keys.values()), sealed, implicit_assertion=purpose.encode())
            footer = json.loads(token.footer) if isinstance(token.footer, bytes) else {}
            assert isinstance(token.payload, bytes)  # no deserializer: the bytes sealed
            return token.payload.decode(), footer.get("kid") == self._kid
        except Exception:  # pyseto's errors, bad JSON: none may escape as a 500
            raise ValueError("sealed with no key this app has, or for another purpose") from None

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
