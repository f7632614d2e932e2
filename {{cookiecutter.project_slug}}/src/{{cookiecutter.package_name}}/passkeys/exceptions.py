"""Refusals of passkey ceremonies. Each is a wrong second factor (mfa/exceptions.py InvalidCodeError): a
login's second step counts it against the step's attempts and shows the step again."""

from ..mfa.exceptions import InvalidCodeError


class PasskeyError(InvalidCodeError):
    """The response does not verify: malformed, signed by another key, of another ceremony."""

    code = "passkey_invalid"
    default_message = "That passkey response does not verify"


class ChallengeInvalidError(PasskeyError):
    code = "passkey_challenge_invalid"
    default_message = "That passkey request was used already or is not this one's: start again"


class ChallengeExpiredError(PasskeyError):
    code = "passkey_challenge_expired"
    default_message = "That passkey request has expired: start again"


class OriginMismatchError(PasskeyError):
    code = "passkey_origin_mismatch"
    default_message = "That passkey response was made for another site"


class RelyingPartyMismatchError(PasskeyError):
    code = "passkey_rp_mismatch"
    default_message = "That passkey belongs to another site"


class UserVerificationRequiredError(PasskeyError):
    code = "passkey_user_verification_required"
    default_message = "The authenticator must verify you (PIN, fingerprint, face) to log in with a passkey alone"


class UnknownPasskeyError(PasskeyError):
    code = "passkey_unknown"
    default_message = "That passkey is not registered (for this account)"


class ReplayedPasskeyError(PasskeyError):
    code = "passkey_replayed"
    default_message = "That passkey's signature counter went backwards: a replay, or a cloned authenticator"
