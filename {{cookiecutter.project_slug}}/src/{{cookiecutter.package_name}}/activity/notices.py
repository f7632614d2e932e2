"""The new-device notice: a password login from a client that held no device token of the account mails its owner.

A client gets a device token at its first login (users/service.py), so the notice goes once per browser or
app, and again after the account's security stamp moves (a new password, address or factor ends every device
token). Never for the login that comes with a registration, and not with NEW_DEVICE_NOTICES=false. Like the
other notices, it is sent from a background task after the answer, and nothing in it logs in: the device as a
person names it, the address's network rather than the address, the time, and a link to the sessions page.
"""

from dataclasses import dataclass
from datetime import datetime

from fastapi import BackgroundTasks

from ..auth.devices import device_name
from ..config import Settings
from ..mail import Mailer, compose
from .service import approximate_address


@dataclass(frozen=True)
class NewDevice:
    """What the owner is told of a login from a new device."""

    username: str
    email: str
    device: str
    address: str
    at: datetime


def new_device_notice(settings: Settings, username: str, email: str | None, client: str, user_agent: str, at: datetime) -> NewDevice | None:
    """The notice of this login, or None when none is sent (notices off, or no address to send it to)."""
    if not settings.new_device_notices or not email:
        return None
    network = approximate_address(client)
    return NewDevice(username, email, device_name(user_agent), f"{network} (approximate)" if network else "unknown", at)


def send_new_device(settings: Settings, mailer: Mailer, notice: NewDevice) -> None:
    context = {
        "app_name": settings.app_name,
        "username": notice.username,
        "device": notice.device,
        "address": notice.address,
        "time": notice.at.strftime("%Y-%m-%d %H:%M UTC"),
        "sessions_link": settings.link("/#sessions-heading"),
        "forgot_link": settings.link("/password/forgot"),
    }
    mailer.send(compose("new_device", notice.email, **context))


def after_login(background: BackgroundTasks, settings: Settings, mailer: Mailer, notice: NewDevice | None) -> None:
    """Mail a login's new-device notice, if it has one, after the answer."""
    if notice is not None and mailer.available:
        background.add_task(send_new_device, settings, mailer, notice)
