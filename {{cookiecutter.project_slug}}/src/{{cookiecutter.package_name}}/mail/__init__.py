"""Mail: one function the app calls, `Mailer.send(message)`, and the backends behind it.

- `console` (development): the mail is printed to the server's output as a person reads it (From, To,
  Subject and the text part), each link whole on one line, to be copied into a browser.
- `smtp`: sent through the configured server (the standard library's smtplib; STARTTLS or TLS).
- `none`: mail is off; the routes that must send answer 503 mail_unavailable.
- `memory` (tests): kept in `Mailer.outbox`.

Sending blocks on the network, so the app calls it from a background task (FastAPI runs those after
the answer, in a worker thread): never on the event loop, never before the answer. A failed send is
logged (to whom and what, never the body: it holds a one-time link) and fails no request.
Each mail is a Jinja2 template (`mail/templates/<name>.jinja`) with a subject, a text and an HTML block.
"""

import logging
import smtplib
import ssl
import sys
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from ..config import Settings
from ..errors import refuses
from ..observability import metrics
from ..users.exceptions import UserError

__all__ = ["AvailableMailer", "Mailer", "MailerDep", "Message", "compose"]

logger = logging.getLogger(__name__)
DELIVERY_ERRORS = (OSError, smtplib.SMTPException)  # refused, unreachable, timed out, a bad certificate or login...


def _environment(autoescape: bool) -> Environment:
    loader = FileSystemLoader(Path(__file__).parent / "templates")
    # The text part of a mail is not HTML: escaping it would show "&amp;" in links.
    return Environment(loader=loader, autoescape=autoescape, undefined=StrictUndefined)  # noqa: S701


_HTML, _TEXT = _environment(autoescape=True), _environment(autoescape=False)


@dataclass(frozen=True)
class Message:
    to: str
    subject: str
    text: str
    html: str


def _block(environment: Environment, template: str, block: str, context: dict[str, Any]) -> str:
    page = environment.get_template(f"{template}.jinja")
    return "".join(page.blocks[block](page.new_context(context))).strip()


def compose(template: str, to: str, **context: Any) -> Message:
    """A mail from `templates/<template>.jinja`: its `subject` and `text` blocks as they are, its `html` block escaped."""
    return Message(
        to=to,
        subject=_block(_TEXT, template, "subject", context),
        text=_block(_TEXT, template, "text", context) + "\n",
        html=_block(_HTML, template, "html", context),
    )


class Mailer:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.backend = settings.mail_backend
        self.outbox: list[Message] = []  # the memory backend's

    @property
    def available(self) -> bool:
        return self.backend != "none"

    def send(self, message: Message) -> None:
        """Deliver now (blocking: call it from a background task); a failure is logged, not raised."""
        try:
            self.deliver(message)
        except DELIVERY_ERRORS as error:
            logger.error("could not send the mail %r to %s: %s", message.subject, message.to, error)
            metrics.mail(sent=False)
            return
        logger.info("mail %r sent to %s", message.subject, message.to)
        metrics.mail(sent=True)

    def deliver(self, message: Message) -> None:
        """Deliver now, raising what went wrong (DELIVERY_ERRORS)."""
        if self.backend == "smtp":
            self._send_smtp(message)
        elif self.backend == "console":
            print(self._readable(message), file=sys.stderr, flush=True)
        elif self.backend == "memory":
            self.outbox.append(message)

    def _readable(self, message: Message) -> str:
        """The mail as a person reads it: the headers that matter and the text part, each link whole on one line.

        Not the encoded message: its quoted-printable body wraps lines at 76 characters and turns "=" into
        "=3D", so a printed link could no longer be copied into a browser.
        """
        headers = f"From: {self._settings.mail_from}\nTo: {message.to}\nSubject: {message.subject}"
        return f"--- mail (console backend: development only) ---\n{headers}\n\n{message.text.rstrip()}\n--- end of mail ---"

    def _email(self, message: Message) -> EmailMessage:
        email = EmailMessage()
        email["From"], email["To"], email["Subject"] = self._settings.mail_from, message.to, message.subject
        email["Date"] = formatdate(localtime=False)  # RFC 5322 asks for both; spam filters look for them
        email["Message-ID"] = make_msgid(domain=parseaddr(self._settings.mail_from)[1].rpartition("@")[2] or None)
        email.set_content(message.text)
        email.add_alternative(message.html, subtype="html")
        return email

    def _send_smtp(self, message: Message) -> None:
        settings = self._settings
        host, port, timeout = settings.smtp_host, settings.smtp_port, settings.smtp_timeout_seconds
        context = ssl.create_default_context()  # the server's certificate is checked against the system's CAs
        if settings.smtp_security == "tls":
            server: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            server = smtplib.SMTP(host, port, timeout=timeout)
        with server:
            if settings.smtp_security == "starttls":
                server.starttls(context=context)
            if settings.smtp_username and settings.smtp_password:
                server.login(settings.smtp_username, settings.smtp_password.get_secret_value())
            server.send_message(self._email(message))


async def get_mailer(request: Request) -> Mailer:
    mailer: Mailer = request.app.state.mailer
    return mailer


@refuses(503)
async def get_available_mailer(mailer: Annotated[Mailer, Depends(get_mailer)]) -> Mailer:
    """The mailer, for a route that exists to send mail: 503 mail_unavailable when mail is off."""
    if not mailer.available:
        raise UserError(503, "mail_unavailable", "This service sends no mail; ask its operator")
    return mailer


MailerDep = Annotated[Mailer, Depends(get_mailer)]
AvailableMailer = Annotated[Mailer, Depends(get_available_mailer)]
