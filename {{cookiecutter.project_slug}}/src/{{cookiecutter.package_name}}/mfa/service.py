"""Second factors: turning TOTP on and off, recovery codes, and the second step of a login (a code, a recovery
code, or a passkey: passkeys/).

A login of an account with a second factor is two steps. The password step ends with an `mfa_token`,
a purpose token (paseto/purpose.py) that names the account and is bound to its security stamp: a
password change, a reset or a factor added or removed kills it, it lives MFA_TOKEN_MINUTES, and it is
good for MFA_TOKEN_ATTEMPTS wrong codes. The second step trades it and a factor for the session. Every
attempt at a code is counted before the code is compared (users/throttle.py), per token and per account.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, update
from sqlmodel import Session, col, func, select

from ..activity import service as activity
from ..activity.events import EventType
from ..config import Settings
from ..database import utcnow
from ..paseto import AuthPASETOException
from ..passkeys import ceremonies as passkey_ceremonies
from ..passkeys.models import Passkey
from ..users import service as users_service
from ..users import throttle
from ..users.exceptions import UserError
from ..users.models import User
from ..users.snapshots import Account
from . import totp
from .exceptions import CodeUsedError, InvalidCodeError, InvalidMfaTokenError
from .models import RecoveryCode, TotpCredential

MFA_LOGIN = "mfa-login"  # the purpose of mfa tokens
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: codes are read off paper


@dataclass(frozen=True)
class PendingLogin:
    """What the first step proved, read back from its mfa_token."""

    user: User
    jti: str
    amr: list[str]
    auth_time: str
    family: str | None  # a re-authentication of this session, rather than a new login
    known_device: bool = False  # the password step came with a valid device token of the account


# -- which factors an account has ------------------------------------------------------------------------


def methods(session: Session, user: Account) -> list[str]:
    """The second factors this account can use now: "totp", "recovery_code" (and "passkey")."""
    found: list[str] = []
    confirmed = select(TotpCredential.user_id).where(TotpCredential.user_id == user.id, col(TotpCredential.confirmed_at).is_not(None))
    if session.exec(confirmed).first() is not None:
        found.append("totp")
    unused = select(func.count()).select_from(RecoveryCode).where(RecoveryCode.user_id == user.id, col(RecoveryCode.used_at).is_(None))
    if session.exec(unused).one():
        found.append("recovery_code")
    if session.exec(select(Passkey.id).where(Passkey.user_id == user.id)).first() is not None:
        found.append("passkey")
    return found


def update_mfa_enabled(session: Session, user: Account) -> User | None:
    """Record whether the account has a second factor now (a change of the account: its stamp moves)."""
    enabled = bool({"totp", "passkey"} & set(methods(session, user)))
    return users_service.change_account(session, user, mfa_enabled=enabled)


# -- the second step of a login --------------------------------------------------------------------------


def issue_mfa_token(
    settings: Settings,
    user: User,
    *,
    family: str | None = None,
    known_device: bool = False,
    amr: list[str] | None = None,
    auth_time: datetime | None = None,
) -> str:
    """After the first step (a password; or a provider's login, federation/, with its `amr` and `auth_time`): the
    token of the second step, bound to the account as it is now."""
    claims: dict[str, Any] = {
        "sub": str(user.id),
        "stamp": user.security_stamp,
        "amr": amr or ["pwd"],
        "auth_time": _iso(auth_time or utcnow()),
    }
    if family is not None:
        claims["fam"] = family
    if known_device:  # the login it completes is from a known device: no new-device notice (activity/notices.py)
        claims["known"] = True
    return settings.purpose_tokens().issue(MFA_LOGIN, claims, timedelta(minutes=settings.mfa_token_minutes))


def read_mfa_token(session: Session, settings: Settings, token: str) -> PendingLogin:
    try:
        claims = settings.purpose_tokens().read(MFA_LOGIN, token)
    except AuthPASETOException:
        raise InvalidMfaTokenError() from None
    subject = claims.get("sub")
    user = session.get(User, int(subject)) if isinstance(subject, str) and subject.isdigit() else None
    if user is None or not user.is_active or claims.get("stamp") != user.security_stamp:
        raise InvalidMfaTokenError()  # the account changed since the password step (a new password, a factor removed...)
    family = claims.get("fam")
    amr, known = list(claims.get("amr") or ["pwd"]), claims.get("known") is True
    return PendingLogin(user, str(claims["jti"]), amr, str(claims["auth_time"]), family, known_device=known)


def prove(
    session: Session,
    settings: Settings,
    pending: PendingLogin,
    client: str,
    *,
    code: str | None = None,
    recovery_code: str | None = None,
    passkey: dict[str, Any] | None = None,
) -> list[str]:
    """Check a second factor for the login an mfa_token stands for; its RFC 8176 `amr` values, or refusals.

    The attempt is counted first, against the token (MFA_TOKEN_ATTEMPTS) and the account, then compared:
    a success gives it back. Commits.
    """
    user = pending.user
    window = settings.login_failure_window_seconds
    limits = [
        throttle.Limit(f"mfa-token:{pending.jti}", settings.mfa_token_attempts, int(settings.mfa_token_minutes * 60) + 1),
        throttle.Limit(f"mfa-account:{user.id}", settings.login_free_failures * 2, settings.login_max_lockout_seconds),
    ]
    reservation = throttle.reserve(session, limits, window)
    session.commit()
    try:
        if code is not None:
            _check_totp_code(session, settings, user, code)
            proved = ["otp"]
        elif recovery_code is not None:
            _spend_recovery_code(session, user, recovery_code)
            proved = ["otp"]
        elif passkey is not None:  # an assertion for options of this account (passkeys/router.py)
            used = passkey_ceremonies.verify_assertion(session, settings, passkey, "second-step", user_id=user.id, client=client)
            proved = [passkey_ceremonies.amr_of(used)]
        else:
            raise InvalidCodeError("Send a `code`, a `recovery_code` or a `passkey`")
    except InvalidCodeError:
        session.rollback()
        activity.record(session, EventType.MFA_FAILED, user.username, client, actor=activity.ANONYMOUS, warning=True)
        session.commit()
        raise
    throttle.release(session, reservation)
    if recovery_code is not None:
        activity.record(session, EventType.RECOVERY_CODE_USED, user.username, client, left=recovery_codes_left(session, user))
    session.commit()
    return proved


def _check_totp_code(session: Session, settings: Settings, user: Account, code: str, *, confirmed: bool = True) -> None:
    """A current code of the account's authenticator whose step was not used yet: its step is now used. Not committed."""
    credential = session.get(TotpCredential, user.id)
    if credential is None or (credential.confirmed_at is not None) != confirmed:
        raise InvalidCodeError("This account has no authenticator app" if confirmed else "Start the set-up first")
    secret = _unseal(settings, credential)
    step = totp.matching_step(secret, code.strip())
    if step is None:
        raise InvalidCodeError()
    unused = or_(col(TotpCredential.last_used_step).is_(None), col(TotpCredential.last_used_step) < step)
    spend = update(TotpCredential).where(col(TotpCredential.user_id) == user.id, unused).values(last_used_step=step)
    if session.exec(spend).rowcount != 1:  # this code, or a later one, was accepted already
        raise CodeUsedError()


def _spend_recovery_code(session: Session, user: Account, code: str) -> None:
    digest = _digest(code)
    spend = update(RecoveryCode).where(
        col(RecoveryCode.user_id) == user.id, col(RecoveryCode.code_sha256) == digest, col(RecoveryCode.used_at).is_(None)
    )
    if session.exec(spend.values(used_at=utcnow())).rowcount == 1:
        return
    used = select(RecoveryCode.id).where(RecoveryCode.user_id == user.id, RecoveryCode.code_sha256 == digest)
    raise CodeUsedError("That recovery code was used already") if session.exec(used).first() else InvalidCodeError()


def recovery_codes_left(session: Session, user: Account) -> int:
    unused = select(func.count()).select_from(RecoveryCode).where(RecoveryCode.user_id == user.id, col(RecoveryCode.used_at).is_(None))
    left: int = session.exec(unused).one()
    return left


# -- turning TOTP on and off ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TotpSetup:
    secret: str
    uri: str
    qr_svg: str


def start_totp(session: Session, settings: Settings, user: Account) -> TotpSetup:
    """A new pending secret (replacing any pending one); it becomes a factor once a code confirms it."""
    credential = session.get(TotpCredential, user.id)
    if credential is not None and credential.confirmed_at is not None:
        raise UserError(409, "totp_enabled", "An authenticator app is set up already: remove it first to set up another")
    secret = totp.new_secret()
    sealed = settings.purpose_tokens().seal(_seal_purpose(user), secret)
    if credential is None:
        assert user.id is not None
        session.add(TotpCredential(user_id=user.id, sealed_secret=sealed))
    else:
        credential.sealed_secret, credential.created_at = sealed, utcnow()
        session.add(credential)
    session.commit()
    uri = totp.provisioning_uri(secret, user.username, settings.app_name)
    return TotpSetup(secret=secret, uri=uri, qr_svg=totp.qr_svg(uri))


def confirm_totp(session: Session, settings: Settings, user: Account, code: str, client: str) -> list[str]:
    """Turn the pending authenticator on with one of its codes; returns new recovery codes (shown once)."""
    limit = throttle.Limit(f"mfa-account:{user.id}", settings.login_free_failures * 2, settings.login_max_lockout_seconds)
    reservation = throttle.reserve(session, [limit], settings.login_failure_window_seconds)
    session.commit()
    try:
        _check_totp_code(session, settings, user, code, confirmed=False)
    except InvalidCodeError:
        session.rollback()
        raise
    throttle.release(session, reservation)
    session.exec(update(TotpCredential).where(col(TotpCredential.user_id) == user.id).values(confirmed_at=utcnow()))
    codes = _replace_recovery_codes(session, user)
    activity.record(session, EventType.MFA_ADDED, user.username, client, method="totp")
    session.commit()
    update_mfa_enabled(session, user)
    return codes


def remove_totp(session: Session, user: Account, client: str) -> None:
    """Turn the authenticator app off; its recovery codes go with it."""
    session.exec(delete(TotpCredential).where(col(TotpCredential.user_id) == user.id))
    session.exec(delete(RecoveryCode).where(col(RecoveryCode.user_id) == user.id))
    activity.record(session, EventType.MFA_REMOVED, user.username, client, method="totp")
    session.commit()
    update_mfa_enabled(session, user)


def new_recovery_codes(session: Session, user: Account, client: str) -> list[str]:
    """Ten new recovery codes (the old ones stop working), shown once."""
    if "totp" not in methods(session, user):
        raise UserError(409, "no_second_factor", "Set up an authenticator app first")
    codes = _replace_recovery_codes(session, user)
    activity.record(session, EventType.RECOVERY_CODES_REPLACED, user.username, client)
    session.commit()
    return codes


def reset_factors(session: Session, user: Account) -> None:
    """Remove every second factor of an account (an administrator's help for someone who lost them all)."""
    session.exec(delete(TotpCredential).where(col(TotpCredential.user_id) == user.id))
    session.exec(delete(RecoveryCode).where(col(RecoveryCode.user_id) == user.id))
    session.exec(delete(Passkey).where(col(Passkey.user_id) == user.id))
    session.commit()
    update_mfa_enabled(session, user)


def _replace_recovery_codes(session: Session, user: Account) -> list[str]:
    session.exec(delete(RecoveryCode).where(col(RecoveryCode.user_id) == user.id))
    codes = ["-".join("".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(5)) for _ in range(2)) for _ in range(RECOVERY_CODES)]
    assert user.id is not None
    session.add_all(RecoveryCode(user_id=user.id, code_sha256=_digest(code)) for code in codes)
    return codes


def _digest(code: str) -> str:
    """Codes compare without spaces, dashes or case: as typed from paper."""
    return hashlib.sha256("".join(code.lower().split()).replace("-", "").encode()).hexdigest()


def _seal_purpose(user: Account) -> str:
    return f"totp-secret:{user.id}"  # a sealed secret opens only as this account's


def _unseal(settings: Settings, credential: TotpCredential) -> str:
    secret, current = settings.purpose_tokens().unseal(f"totp-secret:{credential.user_id}", credential.sealed_secret)
    if not current:  # sealed with a key being rotated out: seal it anew (committed with the caller's work)
        credential.sealed_secret = settings.purpose_tokens().seal(f"totp-secret:{credential.user_id}", secret)
    return secret


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")
