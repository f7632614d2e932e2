"""Mail notices of changes to an account's second factors, so that its owner hears of one they did not make.

Each is sent from a background task after the answer (mail/__init__.py: sending blocks on the network),
and only to an account with an address. None holds a code or a link that logs in: a notice that leaks
tells the reader nothing they could use.
"""

from typing import Literal

from fastapi import BackgroundTasks
from sqlmodel import Session

from ..config import Settings
from ..mail import Mailer, compose
from ..users.snapshots import Account
from . import service
from .exceptions import InvalidMfaTokenError

Removal = Literal["turned_off", "reset"]  # the owner turned the app off, or an administrator (or the CLI) reset every factor


def send_factor_added(settings: Settings, mailer: Mailer, user: Account, *, passkey: str | None = None) -> None:
    """An authenticator app was set up (or a passkey of this name was added): from now on a login asks for it."""
    _send(settings, mailer, user, "mfa_added", passkey=passkey)


def send_factor_removed(settings: Settings, mailer: Mailer, user: Account, how: Removal, *, passkey: str | None = None) -> None:
    """The second factor (the app, or the passkey of this name) is gone: perhaps the password alone logs in again."""
    _send(settings, mailer, user, "mfa_removed", reset=how == "reset", passkey=passkey)


def send_recovery_code_used(settings: Settings, mailer: Mailer, user: Account, left: int) -> None:
    """A recovery code logged in: it is spent; `left` say how many remain."""
    _send(settings, mailer, user, "recovery_code_used", left=left)


def _send(settings: Settings, mailer: Mailer, user: Account, template: str, **context: object) -> None:
    if user.email:
        forgot = settings.link("/password/forgot")
        mailer.send(compose(template, user.email, app_name=settings.app_name, username=user.username, forgot_link=forgot, **context))


def after_recovery_login(session: Session, settings: Settings, mailer: Mailer, background: BackgroundTasks, mfa_token: str) -> None:
    """Once a recovery code has been spent (a login's or a re-authentication's second step): tell the owner how many are left.

    The step's mfa_token names the account; spending a code leaves its stamp as it was, so it still reads.
    """
    try:
        user = service.read_mfa_token(session, settings, mfa_token).user
    except InvalidMfaTokenError:  # it expired this very moment: the login stands, the notice is skipped
        return
    background.add_task(send_recovery_code_used, settings, mailer, user, service.recovery_codes_left(session, user))
