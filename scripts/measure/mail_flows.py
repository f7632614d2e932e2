"""Issue 16: forgotten-password answers that do not tell who has an account, the mail, and its refusals.

One server with MAIL_BACKEND=smtp against a local aiosmtpd server (`python -m aiosmtpd -n`, which prints each
mail; its output goes to /tmp/measure/logs/smtp-*.log), MAIL_REQUEST_FREE_ATTEMPTS=1000 (so the per-address
limit does not refuse), MAIL_INTERVAL_SECONDS as default (300), TRUSTED_HOSTS=["*"] and
PUBLIC_URL=https://app.example.com (for the poisoning check; the other parts do not depend on them).
(a) POST /password/forgot for an address with an account and one without, --requests (200) each,
    interleaved, one at a time, on one kept-alive connection: status and body equality, times.
(b) the reset mail as captured (token elided); the app's log line for it; with the SMTP server stopped,
    the log line of the failure; neither may hold a token.
(c) the reset token used twice; a forgot request with `Host: evil.example`: the link in its mail.

    <project>/.venv/bin/python scripts/measure/mail_flows.py --project <project> [--requests 200]
"""

import email
import email.policy
import os
import re
import statistics
import subprocess
import time
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx2
from common import (
    CHEAP_HASHING,
    LOGS,
    Server,
    arguments,
    cli,
    command_line,
    create_user,
    drop_database,
    environment,
    error_code,
    fresh_database,
    load,
    percentile,
    write_section,
)

SMTP_PORT = 8025
TOKEN = re.compile(r"v4\.local\.[A-Za-z0-9_-]+")


class SmtpServer:
    """`python -m aiosmtpd -n -l 127.0.0.1:PORT`, printing every mail it receives into a log file."""

    def __init__(self, project: Path, name: str) -> None:
        self.log = LOGS / f"smtp-{name}.log"
        command = [str(project / ".venv/bin/python"), "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{SMTP_PORT}"]
        environment = os.environ | {"PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(command, stdout=self.log.open("w"), stderr=subprocess.STDOUT, env=environment)
        time.sleep(1.0)

    def mails(self) -> list[EmailMessage]:
        text = self.log.read_text()
        found = re.findall(r"-+ MESSAGE FOLLOWS -+\n(.*?)\n-+ END MESSAGE -+", text, re.S)
        return [email.message_from_string(raw, policy=email.policy.default) for raw in found]  # type: ignore[misc]

    def wait_for_mail(self, to: str, seconds: float = 15) -> EmailMessage:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for mail in self.mails():
                if to in str(mail["To"]):
                    return mail
            time.sleep(0.1)
        raise RuntimeError(f"no mail to {to}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def text_part(mail: EmailMessage) -> str:
    part = mail.get_body(preferencelist=("plain",))
    assert part is not None
    return part.get_content()  # type: ignore[no-any-return]


def link_in(mail: EmailMessage) -> str:
    match = re.search(r"https?://\S+", text_part(mail))
    assert match
    return match.group(0)


def token_of(link: str) -> str:
    return parse_qs(urlparse(link).query)["token"][0]


def elide(text: str) -> str:
    return TOKEN.sub("v4.local.<token elided>", text)


def forgot(client: httpx2.Client, address: str, **headers: str) -> tuple[int, str, float]:
    started = time.perf_counter()
    answer = client.post("/password/forgot", json={"email": address}, headers=headers)
    return answer.status_code, answer.text, (time.perf_counter() - started) * 1000


def stats(values: list[float]) -> str:
    return f"p50 {percentile(values, 0.5):.2f} ms, p95 {percentile(values, 0.95):.2f} ms, mean {statistics.fmean(values):.2f} ms"


def main() -> None:
    args = arguments(__doc__ or "", requests="200")
    database, count = "measure_mail", int(args.requests)
    overrides = CHEAP_HASHING | {
        "PASETO_APP_MAIL_BACKEND": "smtp",
        "PASETO_APP_SMTP_HOST": "127.0.0.1",
        "PASETO_APP_SMTP_PORT": str(SMTP_PORT),
        "PASETO_APP_SMTP_SECURITY": "none",
        "PASETO_APP_SMTP_TIMEOUT_SECONDS": "5",
        "PASETO_APP_MAIL_REQUEST_FREE_ATTEMPTS": "1000",
        "PASETO_APP_TRUSTED_HOSTS": '["*"]',
        "PASETO_APP_PUBLIC_URL": "https://app.example.com",
    }
    env = environment(fresh_database(database), overrides)
    cli(args.project, env, "migrate")
    for name in ("known", "second", "third"):
        create_user(args.project, env, name, email=f"{name}@example.com")
    load_before = load()
    smtp = SmtpServer(args.project, "1")
    server = Server(args.project, env, 8151, f"mail-{args.label}")
    section: list[str] = []
    try:
        with httpx2.Client(timeout=30, base_url=server.url) as client:
            # (a) interleaved, one at a time; which goes first alternates.
            answers: dict[str, list[tuple[int, str, float]]] = {"known": [], "unknown": []}
            for index in range(count):
                order = ("known", "unknown") if index % 2 == 0 else ("unknown", "known")
                for kind in order:
                    answers[kind].append(forgot(client, f"{kind}@example.com" if kind == "known" else "nobody@example.com"))
            load_after_timing = load()
            known, unknown = answers["known"], answers["unknown"]
            known_ms, unknown_ms = [ms for *_, ms in known], [ms for *_, ms in unknown]
            bodies = {status_body for kind in answers.values() for status_body in {(status, body) for status, body, _ in kind}}
            section += [
                f"### (a) enumeration timing: {count} requests each, interleaved, one at a time, one kept-alive connection",
                "",
                f"- known address (known@example.com): statuses {sorted({s for s, _, _ in known})}, {stats(known_ms)}",
                f"- unknown address (nobody@example.com): statuses {sorted({s for s, _, _ in unknown})}, {stats(unknown_ms)}",
                f"- distinct (status, body) pairs over all {2 * count} answers: {len(bodies)}: `{' '.join(map(str, next(iter(bodies))))}`",
                f"- known minus unknown: p50 {percentile(known_ms, 0.5) - percentile(unknown_ms, 0.5):+.2f} ms,"
                f" mean {statistics.fmean(known_ms) - statistics.fmean(unknown_ms):+.2f} ms",
                f"- load average before / after the timing: {load_before} / {load_after_timing}",
                "",
            ]

            # (b) the mail the first request for known@ sent, and what the app logged.
            mail = smtp.wait_for_mail("known@example.com")
            link = link_in(mail)
            headers = "\n".join(f"{key}: {value}" for key, value in mail.items())
            sent_lines = [line for line in server.log.read_text().splitlines() if "mail " in line and "sent to" in line]
            smtp.stop()
            forgot(client, "second@example.com")
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and "could not send" not in server.log.read_text():
                time.sleep(0.2)
            failed_lines = [line for line in server.log.read_text().splitlines() if "could not send" in line]
            whole_log = server.log.read_text()
            section += [
                f"### (b) the reset mail as captured by aiosmtpd ({len(smtp.mails())} mail(s) for {count} requests for known@:"
                " MAIL_INTERVAL_SECONDS=300)",
                "",
                "```",
                elide(headers),
                "",
                elide(text_part(mail)).strip(),
                "```",
                "",
                "The app's log with MAIL_BACKEND=smtp:",
                "",
                "```",
                *sent_lines,
                *failed_lines,
                "```",
                "",
                f"- a PASETO token (`v4.local.`) in those lines: {any(TOKEN.search(line) for line in sent_lines + failed_lines)};"
                f" the token of the captured link anywhere in the app's whole log: {token_of(link) in whole_log};"
                f" any `v4.local.` in the whole log: {bool(TOKEN.search(whole_log))}",
                "",
            ]

            # (c) the same reset token twice; a forgot request with a forged Host.
            token = token_of(link)
            first = client.post("/password/reset", json={"token": token, "new_password": "a brand new password"})
            second = client.post("/password/reset", json={"token": token, "new_password": "another new password"})
            smtp = SmtpServer(args.project, "2")
            poisoned = forgot(client, "third@example.com", Host="evil.example")
            poisoned_mail = smtp.wait_for_mail("third@example.com")
            section += [
                "### (c) reuse and poisoning",
                "",
                f"- POST /password/reset with the token: {first.status_code} {first.text!r}",
                f"- the same token again: **{second.status_code} {error_code(second)}** {second.text}",
                f'- POST /password/forgot for third@example.com with `Host: evil.example` (TRUSTED_HOSTS=["*"]):'
                f" {poisoned[0]} {poisoned[1]}",
                f"- the link in the mail it sent: `{elide(link_in(poisoned_mail))}`",
                "",
            ]
    finally:
        server.stop()
        if smtp.process.poll() is None:
            smtp.stop()
        drop_database(database)
    write_section(
        f"6. Password reset mail (issue 16): {args.label}",
        [*section, f"- load average at the end: {load()}", f"- command: `{command_line()}`"],
    )


if __name__ == "__main__":
    main()
