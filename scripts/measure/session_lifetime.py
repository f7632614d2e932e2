"""Issue 17: the absolute session lifetime ends a session that keeps refreshing; an administrator ends a user's sessions.

Part 1: SESSION_MAX_DAYS = 60 s, REFRESH_TOKEN_DAYS = 1, ACCESS_TOKEN_MINUTES = 0.25. Log in, then refresh
every 10 s with the newest refresh token; each refresh token is opened with the project's key (the script
imports the project's paseto package) to show its `exp` and `end` claims. Goes on until a refresh is refused.
Part 2: an administrator ends user bob's sessions (DELETE /admin/users/bob/sessions); bob's refresh and
access tokens are then tried.

    <project>/.venv/bin/python scripts/measure/session_lifetime.py --project <project> [--max-seconds 60] [--every 10]
"""

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
from common import (
    CHEAP_HASHING,
    Server,
    arguments,
    bearer,
    cli,
    command_line,
    create_user,
    drop_database,
    environment,
    error_code,
    fresh_database,
    load,
    log_in,
    write_section,
)


def opener(project: Path, env: dict[str, str]) -> Any:
    """A function that opens a token with the project's keys (its .env), as the app does."""
    import os

    os.environ.update({key: value for key, value in env.items() if key.startswith("PASETO_APP_")})
    from paseto_app.config import Settings
    from paseto_app.paseto.tokens import decode_token

    config = Settings(_env_file=project / ".env").paseto_config()  # type: ignore[call-arg]
    return lambda token: decode_token(config, token)


def moment(value: Any) -> datetime:
    """A claim's time: PASETO writes ISO 8601 strings; epoch seconds are read too."""
    return datetime.fromtimestamp(value, UTC) if isinstance(value, int | float) else datetime.fromisoformat(str(value)).astimezone(UTC)


def stamp(value: Any) -> str:
    return moment(value).strftime("%H:%M:%S")


def answer_line(answer: httpx2.Response) -> str:
    return f"{answer.status_code}" + ("" if answer.status_code < 400 else f" {error_code(answer)}")


def main() -> None:
    args = arguments(__doc__ or "", max_seconds="60", every="10")
    max_seconds, every = float(args.max_seconds), float(args.every)
    overrides = CHEAP_HASHING | {
        "PASETO_APP_SESSION_MAX_DAYS": f"{max_seconds / 86400:.9f}",
        "PASETO_APP_REFRESH_TOKEN_DAYS": "1",
        "PASETO_APP_ACCESS_TOKEN_MINUTES": "0.25",
    }
    database = "measure_lifetime"
    env = environment(fresh_database(database), overrides)
    open_token = opener(args.project, env)
    cli(args.project, env, "migrate")
    create_user(args.project, env, "alice")
    create_user(args.project, env, "bob")
    create_user(args.project, env, "root", admin=True)
    load_before = load()
    server = Server(args.project, env, 8141, f"lifetime-{args.label}")
    lifetime, ending = [], []
    try:
        with httpx2.Client(timeout=10, base_url=server.url) as client:
            tokens = log_in(client, server.url, "alice")
            started = time.monotonic()
            claims = open_token(tokens["refresh_token"])
            lifetime.append(
                f"t=  0 s  POST /login   200  refresh exp {stamp(claims['exp'])}  end {stamp(claims['end'])}"
                f"  refresh_token_expires_in {tokens['refresh_token_expires_in']}"
            )
            refreshes = 0
            while True:
                refreshes += 1
                time.sleep(max(0.0, started + refreshes * every - time.monotonic()))
                answer = client.post("/refresh", headers=bearer(tokens["refresh_token"]))
                line = f"t={time.monotonic() - started:3.0f} s  POST /refresh {answer_line(answer)}"
                if answer.status_code != 200:
                    lifetime.append(f"{line}  (the token presented: exp {stamp(claims['exp'])}, end {stamp(claims['end'])})")
                    break
                tokens = answer.json()
                claims = open_token(tokens["refresh_token"])
                session = client.get("/session", headers=bearer(tokens["access_token"])).json()
                lifetime.append(
                    f"{line}  refresh exp {stamp(claims['exp'])}  end {stamp(claims['end'])}"
                    f"  exp == end: {moment(claims['exp']) == moment(claims['end'])}"
                    f"  /session refresh_expires_at {stamp(session['refresh_expires_at'])}"
                )
            login_again = client.post("/login", json={"username": "alice", "password": "correct horse battery staple"})
            lifetime.append(f"then POST /login {answer_line(login_again)} (a new session)")

            bob = log_in(client, server.url, "bob")
            admin = log_in(client, server.url, "root")
            steps = [
                ("bob: GET /sessions", client.get("/sessions", headers=bearer(bob["access_token"]))),
                (
                    "admin: DELETE /admin/users/bob/sessions",
                    client.delete("/admin/users/bob/sessions", headers=bearer(admin["access_token"])),
                ),
                ("bob: POST /refresh (his refresh token)", client.post("/refresh", headers=bearer(bob["refresh_token"]))),
                ("bob: GET /protected (his access token)", client.get("/protected", headers=bearer(bob["access_token"]))),
                ("bob: POST /login again", client.post("/login", json={"username": "bob", "password": "correct horse battery staple"})),
            ]
            for what, answer in steps:
                body = answer.text if answer.status_code != 200 or "sessions" in what else "(tokens)"
                ending.append(f"{what} -> {answer.status_code} {body[:160] if answer.status_code != 204 else ''}")
    finally:
        server.stop()
        drop_database(database)
    log = (server.log.read_text()).splitlines()
    events = [line for line in log if "admin_ended_sessions" in line or "session_expired" in line]
    write_section(
        f"5. Absolute session lifetime and an admin ending sessions (issue 17): {args.label}",
        [
            f"SESSION_MAX_DAYS={overrides['PASETO_APP_SESSION_MAX_DAYS']} ({max_seconds:.0f} s), REFRESH_TOKEN_DAYS=1,"
            f" ACCESS_TOKEN_MINUTES=0.25; a refresh every {every:.0f} s (times UTC):",
            "",
            "```",
            *lifetime,
            "```",
            "",
            "An administrator ends bob's sessions:",
            "",
            "```",
            *ending,
            *events,
            "```",
            "",
            f"- load average before / after: {load_before} / {load()}",
            f"- command: `{command_line()}`",
        ],
    )


if __name__ == "__main__":
    main()
