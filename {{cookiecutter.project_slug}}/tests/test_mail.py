"""Mail through a real SMTP server (aiosmtpd): plain, STARTTLS with a login, TLS from the start; a link
that arrives works; a server that is down costs a log line (without the link), never the request."""

import logging
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.cli import main

from .conftest import free_port
from .smtp import SMTP_PASSWORD, SMTP_USER, link_in, mail_server, text_of

ALICE = "alice@example.com"


def smtp_settings(port: int, security: str = "none", **more: object) -> dict[str, object]:
    return {"mail_backend": "smtp", "smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": security, **more}


@pytest.mark.parametrize("security", ["none", "starttls", "tls"])
def test_a_reset_mail_arrives_and_its_link_works(
    make_client: Callable[..., TestClient], user: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, security: str
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "smtp.crt"))  # the test's certificate: the one the client trusts
    login = {"smtp_username": SMTP_USER, "smtp_password": SMTP_PASSWORD} if security == "starttls" else {}
    with mail_server(security, tmp_path) as (port, inbox):
        client = make_client(**smtp_settings(port, security, **login))
        assert client.post("/password/forgot", json={"email": ALICE}).status_code == 202
        mail = inbox.wait_for(ALICE)
    assert mail["Subject"].startswith("Set a new password") and mail["To"] == ALICE
    assert mail["Date"] and mail["Message-ID"].endswith("@localhost>")  # MAIL_FROM's domain
    assert mail.get_body(preferencelist=("html",)) is not None, "a text and an HTML part"
    link = urlsplit(link_in(mail))
    page = client.get(f"{link.path}?{link.query}")
    assert page.status_code == 200 and 'name="token"' in page.text
    token = link.query.removeprefix("token=")
    assert client.post("/password/reset", json={"token": token, "new_password": "a brand new passphrase"}).status_code == 204


def test_a_mail_server_that_is_down_costs_a_log_line_not_the_request(
    make_client: Callable[..., TestClient], user: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(**smtp_settings(free_port()))  # nothing listens there
    caplog.set_level(logging.INFO)
    assert client.post("/password/forgot", json={"email": ALICE}).status_code == 202
    failures = [record.getMessage() for record in caplog.records if record.levelno == logging.ERROR]
    assert any("could not send the mail 'Set a new password" in line for line in failures), failures
    assert not [record for record in caplog.records if "token=" in record.getMessage()], "the link reached a log"


def test_send_test_mail_checks_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from .test_cli import write_env

    monkeypatch.chdir(tmp_path)
    with mail_server() as (port, inbox):
        write_env(
            tmp_path,
            f"sqlite:///{tmp_path / 'app.db'}",
            MAIL_BACKEND="smtp",
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=str(port),
            SMTP_SECURITY="none",
        )
        assert main(["send-test-mail", "ops@example.com"]) == 0
        mail = inbox.wait_for("ops@example.com")
    assert "send-test-mail" in text_of(mail)
    assert "sent a test mail to ops@example.com" in capsys.readouterr().out


def test_send_test_mail_says_why_it_failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from .test_cli import write_env

    monkeypatch.chdir(tmp_path)
    write_env(tmp_path, "sqlite://", MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=str(free_port()), SMTP_SECURITY="none")
    assert main(["send-test-mail", "ops@example.com"]) == 1
    said = capsys.readouterr().err
    assert said.startswith("error: could not send the test mail through 127.0.0.1:") and "\n" not in said.rstrip()


def test_the_console_backend_prints_what_a_person_reads(
    make_client: Callable[..., TestClient], user: dict[str, str], capfd: pytest.CaptureFixture[str]
) -> None:
    client = make_client(mail_backend="console", environment="development")
    assert client.post("/password/forgot", json={"email": ALICE}).status_code == 202
    printed = capfd.readouterr().err
    assert f"To: {ALICE}\n" in printed and "Subject: Set a new password" in printed and "From: " in printed
    links = [line for line in printed.splitlines() if "/password/reset?token=" in line]
    assert len(links) == 1, printed
    link = urlsplit(links[0].strip())
    assert len(links[0]) > 76, "a link long enough that quoted-printable would have wrapped it"
    token = link.query.removeprefix("token=")  # whole: no "=3D", no soft line break
    assert client.post("/password/reset", json={"token": token, "new_password": "a brand new passphrase"}).status_code == 204
    assert "Content-Transfer-Encoding" not in printed and "<p>" not in printed, "the text part only, not the encoded message"
