"""A passkey authenticator in software, for tests and measurements: what a browser and an authenticator
would answer to the app's WebAuthn options, built by hand (an EC P-256 key, attestation "none").

    authenticator = SoftwareAuthenticator(origin="http://testserver")
    options = client.post("/passkeys/register/options", headers=...).json()
    client.post("/passkeys/register", json={"credential": authenticator.create(options), "name": "Laptop"}, headers=...)
    options = client.post("/login/passkey/options").json()
    tokens = client.post("/login/passkey", json={"credential": authenticator.get(options)}).json()

Every part a client could get wrong can be got wrong on purpose (another origin, RP ID, counter,
challenge; no user verification), so the app's refusals can be proved. It needs no test framework.
"""

import base64
import hashlib
import json
import secrets
import struct
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import encode_cbor

__all__ = ["SoftwareAuthenticator", "StoredCredential", "b64url", "from_b64url"]

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40  # authenticator data flags (WebAuthn section 6.1)
ES256 = -7
AAGUID = bytes(16)  # "none" attestation: no claim about the authenticator's model


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def from_b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class StoredCredential:
    """A discoverable credential as an authenticator keeps it: the key, whose it is, and its counter."""

    id: bytes
    key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    sign_count: int = 0


@dataclass
class SoftwareAuthenticator:
    """`origin` is the page's origin as the browser would write it; the RP ID comes from the options.

    `backup_eligible`: a synced passkey (amr `swk`); `counts`: keeps a signature counter (synced
    passkeys usually do not: they always say 0).
    """

    origin: str
    backup_eligible: bool = False
    counts: bool = True
    credentials: list[StoredCredential] = field(default_factory=list)

    def create(
        self, options: dict[str, Any], *, origin: str | None = None, rp_id: str | None = None, user_verified: bool = True
    ) -> dict[str, Any]:
        """navigator.credentials.create(): a new credential for the options' user, as its toJSON() gives it."""
        rp = rp_id or options["rp"]["id"]
        credential = StoredCredential(
            secrets.token_bytes(32), ec.generate_private_key(ec.SECP256R1()), rp, from_b64url(options["user"]["id"])
        )
        self.credentials.append(credential)
        numbers = credential.key.public_key().public_numbers()
        cose_key = {1: 2, 3: ES256, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")}
        attested = AAGUID + struct.pack(">H", len(credential.id)) + credential.id + encode_cbor(cose_key)
        auth_data = self._authenticator_data(rp, user_verified, credential.sign_count, AT) + attested
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        attestation = encode_cbor({"fmt": "none", "attStmt": {}, "authData": auth_data})
        response = {"clientDataJSON": b64url(client_data), "attestationObject": b64url(attestation), "transports": ["internal"]}
        return self._public_key_credential(credential, response)

    def get(
        self,
        options: dict[str, Any],
        *,
        credential: StoredCredential | None = None,
        origin: str | None = None,
        rp_id: str | None = None,
        user_verified: bool = True,
        sign_count: int | None = None,
        challenge: str | None = None,
    ) -> dict[str, Any]:
        """navigator.credentials.get(): an assertion by `credential` (default: the first allowed one, or for a
        passwordless login the newest of the RP's), as its toJSON() gives it. `sign_count` overrides the counter."""
        credential = credential or self._choose(options)
        if sign_count is None:
            credential.sign_count += 1 if self.counts else 0
            sign_count = credential.sign_count
        auth_data = self._authenticator_data(rp_id or options["rpId"], user_verified, sign_count, 0)
        client_data = self._client_data("webauthn.get", challenge or options["challenge"], origin)
        signature = credential.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        response = {
            "clientDataJSON": b64url(client_data),
            "authenticatorData": b64url(auth_data),
            "signature": b64url(signature),
            "userHandle": b64url(credential.user_handle),
        }
        return self._public_key_credential(credential, response)

    def _choose(self, options: dict[str, Any]) -> StoredCredential:
        allowed = [from_b64url(each["id"]) for each in options.get("allowCredentials") or []]
        mine = [each for each in self.credentials if each.rp_id == options["rpId"] and (not allowed or each.id in allowed)]
        if not mine:
            raise LookupError("this authenticator holds no credential these options allow")
        return mine[-1]

    def _authenticator_data(self, rp_id: str, user_verified: bool, sign_count: int, extra_flags: int) -> bytes:
        flags = UP | (UV if user_verified else 0) | ((BE | BS) if self.backup_eligible else 0) | extra_flags
        return hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", sign_count)

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge, "origin": origin or self.origin, "crossOrigin": False}).encode()

    @staticmethod
    def _public_key_credential(credential: StoredCredential, response: dict[str, Any]) -> dict[str, Any]:
        identifier = b64url(credential.id)
        return {
            "id": identifier,
            "rawId": identifier,
            "type": "public-key",
            "response": response,
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
        }
