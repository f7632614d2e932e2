"""The WebAuthn ceremonies: py_webauthn checks the cryptography, this module keeps the state it leaves to its
caller (the challenges handed out, each passkey's signature counter) and names every refusal.

A challenge is random, stored as its SHA-256 with the ceremony it was made for (register, login,
second-step), the account it was handed to (none for a passwordless login: nobody is known yet) and
when it expires (PASSKEY_CHALLENGE_SECONDS). The first response that carries it spends it, whatever
comes next: a response is good once, and only for the ceremony and account it was asked for.
The relying party is PUBLIC_URL: its host is the RP ID, its scheme and host the one origin accepted.
"""

import hashlib
import ipaddress
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

from sqlalchemy import delete, update
from sqlmodel import Session, col, func, select
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    options_to_json_dict,
    parse_attestation_object,
    parse_authentication_credential_json,
    parse_authenticator_data,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.structs import (
    AuthenticatorData,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    CollectedClientData,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from ..activity import service as activity
from ..activity.events import EventType
from ..config import ENV_PREFIX, Settings
from ..database import as_utc, utcnow
from ..logs import security_event
from ..users import throttle
from ..users.exceptions import TooManyAttemptsError, UserError
from ..users.models import User
from ..users.snapshots import Account
from .exceptions import (
    ChallengeExpiredError,
    ChallengeInvalidError,
    OriginMismatchError,
    PasskeyError,
    RelyingPartyMismatchError,
    ReplayedPasskeyError,
    UnknownPasskeyError,
    UserVerificationRequiredError,
)
from .models import Passkey, PasskeyChallenge

Ceremony = Literal["register", "login", "second-step"]
# Open ceremonies per client address (an IPv6 /64 counts as one): asking for options writes a row, and the
# passwordless login's options are asked for by anyone. Expired ones are deleted as new ones come.
MAX_OPEN_CEREMONIES = 20


@dataclass(frozen=True)
class RelyingParty:
    id: str  # the host of PUBLIC_URL: passkeys are bound to it
    origin: str  # scheme://host[:port], what the browser writes into clientDataJSON
    name: str


def relying_party(settings: Settings) -> RelyingParty:
    """This app as WebAuthn names it, from PUBLIC_URL; browsers refuse an IP address as an RP ID."""
    parts = urlsplit(str(settings.public_url or ""))
    host = parts.hostname or ""
    try:
        ipaddress.ip_address(host)
        usable = False
    except ValueError:
        usable = bool(host)
    if not usable:
        message = f"Passkeys need {ENV_PREFIX}PUBLIC_URL to name this site by a host name (localhost, not 127.0.0.1)"
        raise UserError(409, "passkeys_unavailable", message)
    return RelyingParty(id=host, origin=f"{parts.scheme}://{parts.netloc}", name=settings.app_name)


def available(settings: Settings) -> bool:
    """Whether PUBLIC_URL lets browsers make passkeys for this site."""
    try:
        relying_party(settings)
    except UserError:
        return False
    return True


# -- options: what the browser's navigator.credentials.create() / .get() are given ---------------------------


def registration_options(
    session: Session, settings: Settings, user: Account, existing: list[Passkey], client: str, user_handle: bytes
) -> dict[str, Any]:
    """Options to create a discoverable credential that verifies its user (it may log in alone), none of the
    account's existing ones again (excludeCredentials)."""
    party = relying_party(settings)
    assert user.id is not None
    challenge = _new_challenge(session, settings, "register", client, user_id=user.id, user_handle=bytes_to_base64url(user_handle))
    options = generate_registration_options(
        rp_id=party.id,
        rp_name=party.name,
        user_name=user.username,
        user_id=user_handle,
        challenge=challenge,
        timeout=int(settings.passkey_challenge_seconds * 1000),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED, user_verification=UserVerificationRequirement.REQUIRED
        ),
        exclude_credentials=[_descriptor(passkey) for passkey in existing],
    )
    return options_to_json_dict(options)


def login_options(session: Session, settings: Settings, client: str) -> dict[str, Any]:
    """Options for a passwordless login: any passkey of this site (discoverable), and the user verified."""
    party = relying_party(settings)
    challenge = _new_challenge(session, settings, "login", client)
    options = generate_authentication_options(
        rp_id=party.id,
        challenge=challenge,
        timeout=int(settings.passkey_challenge_seconds * 1000),
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return options_to_json_dict(options)


def second_step_options(session: Session, settings: Settings, user: Account, passkeys: list[Passkey], client: str) -> dict[str, Any]:
    """Options for the second step after a password: one of this account's passkeys (allowCredentials).
    The password was the knowledge factor, so verifying the user is welcome but not required here."""
    party = relying_party(settings)
    if not passkeys:
        raise UserError(409, "no_passkey", "This account has no passkey")
    assert user.id is not None
    challenge = _new_challenge(session, settings, "second-step", client, user_id=user.id)
    options = generate_authentication_options(
        rp_id=party.id,
        challenge=challenge,
        timeout=int(settings.passkey_challenge_seconds * 1000),
        allow_credentials=[_descriptor(passkey) for passkey in passkeys],
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    return options_to_json_dict(options)


def _descriptor(passkey: Passkey) -> PublicKeyCredentialDescriptor:
    transports = [AuthenticatorTransport(hint) for hint in passkey.transports.split(",") if hint in _TRANSPORTS]
    return PublicKeyCredentialDescriptor(id=base64url_to_bytes(passkey.credential_id), transports=transports or None)


_TRANSPORTS = {transport.value for transport in AuthenticatorTransport}


def _new_challenge(
    session: Session, settings: Settings, ceremony: Ceremony, client: str, *, user_id: int | None = None, user_handle: str | None = None
) -> bytes:
    now, group = utcnow(), throttle.address_group(client)[:64]
    session.exec(delete(PasskeyChallenge).where(col(PasskeyChallenge.expires_at) <= now))
    open_ceremonies = session.exec(select(func.count()).select_from(PasskeyChallenge).where(PasskeyChallenge.client_group == group)).one()
    if open_ceremonies >= MAX_OPEN_CEREMONIES:
        session.commit()
        security_event("throttled", warning=True, limit=f"passkey-options:{group}", retry_after=settings.passkey_challenge_seconds)
        raise TooManyAttemptsError(int(settings.passkey_challenge_seconds))
    challenge = secrets.token_bytes(32)
    expires_at = now + timedelta(seconds=settings.passkey_challenge_seconds)
    row = PasskeyChallenge(
        challenge_sha256=_digest(challenge),
        ceremony=ceremony,
        user_id=user_id,
        user_handle=user_handle,
        client_group=group,
        expires_at=expires_at,
    )
    session.add(row)
    session.commit()
    return challenge


# -- responses: what the browser's ceremony returned ------------------------------------------------------------


@dataclass(frozen=True)
class NewPasskey:
    """A verified registration, ready to be stored."""

    credential_id: str
    public_key: bytes
    sign_count: int
    user_handle: str
    transports: str
    backup_eligible: bool
    backed_up: bool


def verify_registration(session: Session, settings: Settings, user: Account, credential: dict[str, Any]) -> NewPasskey:
    """The browser's PublicKeyCredential of navigator.credentials.create(), for options this account asked for."""
    party = relying_party(settings)
    try:
        parsed = parse_registration_credential_json(credential)
        client_data = parse_client_data_json(parsed.response.client_data_json)
        auth_data = parse_attestation_object(parsed.response.attestation_object).auth_data
    except Exception:  # the library's parsers raise whatever they meet (JSON, base64, CBOR): a refusal, never a 500
        raise PasskeyError("That is not a passkey registration (PublicKeyCredential JSON)") from None
    spent = _spend_challenge(session, client_data, "register", user.id)
    _check_origin_and_party(party, client_data, auth_data, require_user_verification=True)
    try:
        verified = verify_registration_response(
            credential=parsed,
            expected_challenge=client_data.challenge,
            expected_rp_id=party.id,
            expected_origin=party.origin,
            require_user_verification=True,
        )
    except Exception:
        raise PasskeyError() from None
    transports = ",".join(transport.value for transport in parsed.response.transports or [])
    return NewPasskey(
        credential_id=bytes_to_base64url(verified.credential_id),
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        user_handle=spent.user_handle or "",
        transports=transports[:200],
        backup_eligible=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
        backed_up=verified.credential_backed_up,
    )


def verify_assertion(
    session: Session, settings: Settings, credential: dict[str, Any], ceremony: Ceremony, *, user_id: int | None = None, client: str
) -> Passkey:
    """The browser's PublicKeyCredential of navigator.credentials.get(): the passkey that signed it, its counter
    moved on (not committed). `user_id`: the account the second step is for; a passwordless login has none
    and wants the user verified."""
    party = relying_party(settings)
    passwordless = ceremony == "login"
    try:
        parsed = parse_authentication_credential_json(credential)
        client_data = parse_client_data_json(parsed.response.client_data_json)
        auth_data = parse_authenticator_data(parsed.response.authenticator_data)
    except Exception:
        raise PasskeyError("That is not a passkey response (PublicKeyCredential JSON)") from None
    _spend_challenge(session, client_data, ceremony, user_id)
    _check_origin_and_party(party, client_data, auth_data, require_user_verification=passwordless)
    passkey = session.exec(select(Passkey).where(Passkey.credential_id == bytes_to_base64url(parsed.raw_id))).first()
    if passkey is None or (user_id is not None and passkey.user_id != user_id):
        raise UnknownPasskeyError()
    # A discoverable credential says whose it is: it must be the account the passkey was registered to.
    if passwordless and parsed.response.user_handle != base64url_to_bytes(passkey.user_handle):
        raise PasskeyError("That passkey response names another account")
    try:
        verified = verify_authentication_response(
            credential=parsed,
            expected_challenge=client_data.challenge,
            expected_rp_id=party.id,
            expected_origin=party.origin,
            credential_public_key=passkey.public_key,
            credential_current_sign_count=0,  # the counter is checked below, with a refusal of its own
            require_user_verification=passwordless,
        )
    except Exception:
        raise PasskeyError() from None
    stored, presented = passkey.sign_count, verified.new_sign_count
    # Authenticators that keep no counter (synced passkeys) always say 0; one that counts must count up.
    if (presented or stored) and presented <= stored:
        owner = session.get(User, passkey.user_id)
        if owner is not None:  # stored now: the caller rolls back what the refused ceremony did
            replayed = EventType.PASSKEY_REPLAYED
            activity.record(session, replayed, owner.username, client, actor=activity.ANONYMOUS, warning=True, passkey=passkey.id)
            session.commit()
        raise ReplayedPasskeyError()
    # Compare-and-swap: of two uses racing with one counter value, one wins.
    moved = update(Passkey).where(col(Passkey.id) == passkey.id, col(Passkey.sign_count) == stored)
    values = {"sign_count": presented, "backed_up": verified.credential_backed_up, "last_used_at": utcnow()}
    if session.exec(moved.values(**values)).rowcount != 1:
        raise ReplayedPasskeyError()
    session.refresh(passkey)
    return passkey


def _spend_challenge(session: Session, client_data: CollectedClientData, ceremony: Ceremony, user_id: int | None) -> PasskeyChallenge:
    """The challenge of this response, spent (committed) before anything else is checked: one response each."""
    digest = _digest(client_data.challenge)
    row = session.get(PasskeyChallenge, digest)
    if row is None or row.ceremony != ceremony or row.user_id != user_id:
        raise ChallengeInvalidError()  # never issued, spent already, or another ceremony's or account's
    session.expunge(row)  # what it said outlives the row
    if session.exec(delete(PasskeyChallenge).where(col(PasskeyChallenge.challenge_sha256) == digest)).rowcount != 1:
        session.rollback()
        raise ChallengeInvalidError()  # a concurrent response spent it first
    session.commit()
    if as_utc(row.expires_at) <= utcnow():
        raise ChallengeExpiredError()
    return row


def _check_origin_and_party(
    party: RelyingParty, client_data: CollectedClientData, auth_data: AuthenticatorData, *, require_user_verification: bool
) -> None:
    """The checks a client can get wrong, each with its own refusal (py_webauthn makes them again)."""
    if client_data.origin != party.origin:
        raise OriginMismatchError()
    if auth_data.rp_id_hash != hashlib.sha256(party.id.encode()).digest():
        raise RelyingPartyMismatchError()
    if require_user_verification and not auth_data.flags.uv:
        raise UserVerificationRequiredError()


def _digest(challenge: bytes) -> str:
    return hashlib.sha256(challenge).hexdigest()


def is_synced(passkey: Passkey) -> bool:
    """A backup-eligible passkey may be copied (synced) between devices: its key is software-protected."""
    return passkey.backup_eligible


def amr_of(passkey: Passkey) -> str:
    """RFC 8176: `swk` for a synced passkey (the key lives in software, copied between devices), else `hwk`
    (the key never leaves the authenticator that made it)."""
    return "swk" if is_synced(passkey) else "hwk"
