"""A real SMTP server for the tests (aiosmtpd, on a free loopback port), and what it received.

`mail_server()` starts one in a thread of the test process; plain, with STARTTLS (and a login), or
with TLS from the start, on a certificate made for the test (its CA is what the client is told to
trust, through SSL_CERT_FILE, which OpenSSL reads when the app builds its default TLS context).
"""

import datetime
import email
import email.policy
import ipaddress
import re
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .conftest import free_port

SMTP_USER, SMTP_PASSWORD = "mailer", "smtp password"
LINK = re.compile(r"https?://\S+")


@dataclass
class Inbox:
    """What the server received, in order: each message parsed, with the addresses it was delivered to."""

    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's name
        content = envelope.original_content or b""
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 OK"

    def wait_for(self, to: str, count: int = 1, seconds: float = 60) -> EmailMessage:
        """The `count`-th message delivered to `to`, waiting for it (mail goes out after the answer)."""
        deadline = time.monotonic() + seconds
        while True:
            received = [message for recipients, message in self.messages if to in recipients]
            if len(received) >= count:
                return received[count - 1]
            assert time.monotonic() < deadline, f"no mail #{count} for {to} within {seconds:.0f} s: {self.messages}"
            time.sleep(0.02)

    def to(self, address: str) -> list[EmailMessage]:
        return [message for recipients, message in self.messages if address in recipients]


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None, message
    return str(part.get_content())


def link_in(message: EmailMessage) -> str:
    found = LINK.search(text_of(message))
    assert found, text_of(message)
    return found[0]


def _authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (SMTP_USER.encode(), SMTP_PASSWORD.encode())
    return AuthResult(success=ok)


def certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost: (certificate file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    names = x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(names, critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "smtp.crt", folder / "smtp.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_file, key_file


@contextmanager
def mail_server(security: str = "none", folder: Path | None = None) -> Iterator[tuple[int, Inbox]]:
    """An SMTP server on a free port: (port, inbox). With "starttls" or "tls", `folder` holds its certificate."""
    inbox, port = Inbox(), free_port()
    options: dict[str, Any] = {}
    if security != "none":
        assert folder is not None, "a TLS server needs a folder for its certificate"
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*certificate(folder))
        if security == "starttls":
            options = {"tls_context": context, "require_starttls": True, "authenticator": _authenticate, "auth_required": True}
        else:
            options = {"ssl_context": context}
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()
