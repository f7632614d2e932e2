"""The passkeys' tables: each account's WebAuthn credentials, and the challenges of ceremonies under way."""

from datetime import datetime

from sqlalchemy import BigInteger
from sqlmodel import Field, SQLModel

from ..database import utcnow


class Passkey(SQLModel, table=True):
    """One WebAuthn credential of an account: its public key and what the authenticator said of it."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", ondelete="CASCADE", index=True)
    # base64url of the credential id (at most 1023 bytes by the spec): how an assertion names its passkey.
    credential_id: str = Field(unique=True, max_length=1400)
    public_key: bytes  # COSE_Key, as the authenticator gave it at registration
    # The authenticator's signature counter (32 bits unsigned): a counter that does not increase is a clone or a replay.
    sign_count: int = Field(default=0, sa_type=BigInteger)
    # base64url of the WebAuthn user handle this account has on its authenticators (random: no name, no id).
    user_handle: str = Field(max_length=128)
    transports: str = Field(default="", max_length=200)  # comma-separated hints: internal, hybrid, usb, nfc, ble
    # Backup eligible: a synced passkey (a password manager's, a platform's cloud keychain), a copy of the key
    # lives in software outside this device (amr "swk"); else bound to one authenticator (amr "hwk").
    backup_eligible: bool = False
    backed_up: bool = False
    name: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None


class PasskeyChallenge(SQLModel, table=True):
    """A challenge handed out with a ceremony's options: spent by the first response that carries it."""

    challenge_sha256: str = Field(primary_key=True, max_length=64)
    ceremony: str = Field(max_length=16)  # register, login, second-step: a challenge of one is refused by the others
    user_id: int | None = Field(default=None, foreign_key="user.id", ondelete="CASCADE")  # the account it was handed to, if any
    user_handle: str | None = Field(default=None, max_length=128)  # register: the handle the options gave
    client_group: str = Field(max_length=64, index=True)  # who asked (users/throttle.py address_group): a bound on open ceremonies
    expires_at: datetime = Field(index=True)
