"""PASETO v4 keys: loading PASERK strings, key ids (`kid`) and the key ring used for rotation.

One key signs (or encrypts) new tokens; every key in the ring may verify them, found by the
PASERK id carried in the token's footer. Rotating means: the new key signs, the old one stays in
the ring until the last token it signed has expired, so nobody is logged out.
"""

import base64
import logging
import secrets
from collections.abc import Iterable
from typing import Literal

import pyseto
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pyseto import KeyInterface

__all__ = ["KeyRing", "Purpose", "generate_key", "load_paserk", "public_paserk"]

Purpose = Literal["local", "public"]
logger = logging.getLogger(__name__)

_SIGNING_PREFIX = {"local": "k4.local.", "public": "k4.secret."}
_VERIFYING_PREFIX = {"local": "k4.local.", "public": "k4.public."}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def generate_key(purpose: Purpose) -> str:
    """A new PASERK signing key: `k4.local.` (32 random bytes) or `k4.secret.` (Ed25519)."""
    if purpose == "local":
        return "k4.local." + _b64(secrets.token_bytes(32))
    private = Ed25519PrivateKey.generate()
    private_bytes = private.private_bytes_raw()
    return "k4.secret." + _b64(private_bytes + private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def public_paserk(secret_paserk: str) -> str:
    """The `k4.public.` key that verifies what a `k4.secret.` key signs."""
    raw = base64.urlsafe_b64decode(secret_paserk.removeprefix("k4.secret.") + "==")
    private = Ed25519PrivateKey.from_private_bytes(raw[:32])
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    if raw[32:] != public:
        raise ValueError("k4.secret key is corrupt: its public half does not match its private half")
    return "k4.public." + _b64(public)


def load_paserk(paserk: str, prefixes: Iterable[str]) -> KeyInterface:
    """Parse a PASERK string, accepting only the given types (e.g. `k4.local.`)."""
    allowed = tuple(prefixes)
    if not paserk.startswith(allowed):
        raise ValueError(f"expected a PASERK key starting with {' or '.join(allowed)}")
    try:
        return pyseto.Key.from_paserk(paserk)
    except Exception as exc:  # pyseto raises ValueError or PysetoError for bad input
        raise ValueError(f"not a valid PASERK key ({exc})") from None


class KeyRing:
    """The signing key plus every key that may verify a token, indexed by PASERK id.

    A ring without a signing key only verifies (`KeyRing.verifying`): what another service holds, which
    checks this app's public tokens with the keys it publishes and could never issue one.
    """

    def __init__(self, purpose: Purpose, signing_key: KeyInterface | None, verification_keys: Iterable[KeyInterface]):
        self.purpose: Purpose = purpose
        self.signing_key = signing_key
        self._by_kid = {key.to_paserk_id(): key for key in verification_keys}
        self.keys_by_footer: dict[str, KeyInterface] = {}  # filled by tokens.py as footers are seen
        if signing_key is None:
            self.signing_kid = None
            return
        self.signing_kid = signing_key.to_paserk_id() if purpose == "local" else signing_key.to_peer_paserk_id()
        if self.signing_kid not in self._by_kid:
            raise ValueError("the signing key's verification key must be in the ring")

    @classmethod
    def verifying(cls, public_keys: Iterable[str]) -> "KeyRing":
        """A verify-only ring of k4.public keys (PASERK), e.g. those an app publishes at /.well-known/paseto-keys."""
        return cls("public", None, [load_paserk(key, ["k4.public."]) for key in public_keys])

    def published(self) -> list[tuple[str, str, bool]]:
        """(kid, PASERK, current) of every public key of the ring: never a secret. Empty for a local ring."""
        if self.purpose != "public":
            return []
        return [(kid, key.to_paserk(), kid == self.signing_kid) for kid, key in self._by_kid.items()]

    @classmethod
    def from_paserk(cls, purpose: Purpose, signing_key: str, previous_keys: Iterable[str] = ()) -> "KeyRing":
        """Build a ring from PASERK strings; `previous_keys` only verify (keys being rotated out)."""
        signer = load_paserk(signing_key, [_SIGNING_PREFIX[purpose]])
        own_verifier = signer if purpose == "local" else load_paserk(public_paserk(signing_key), ["k4.public."])
        previous = [load_paserk(key, [_VERIFYING_PREFIX[purpose]]) for key in previous_keys]
        return cls(purpose, signer, [own_verifier, *previous])

    @classmethod
    def from_raw_secret(cls, secret: str | bytes) -> "KeyRing":
        """A v4.local ring from raw secret bytes: the published library's `authpaseto_secret_key`."""
        raw = secret.encode() if isinstance(secret, str) else secret
        if len(raw) < 32:
            logger.warning("authpaseto_secret_key is %d bytes; use a 32-byte random key (a PASERK k4.local key)", len(raw))
        key = pyseto.Key.new(4, "local", raw)
        return cls("local", key, [key])

    @property
    def kids(self) -> list[str]:
        return list(self._by_kid)

    def verification_key(self, kid: str) -> KeyInterface | None:
        return self._by_kid.get(kid)
