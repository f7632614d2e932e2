"""Issue 18: how long after a logout on instance A does instance B refuse the session's access token?

Two uvicorn processes (one worker each) on one PostgreSQL database. Each trial: log in on A, B answers
GET /protected 200, wait a random 0-1 s (so the logout falls anywhere in B's 1 s read cycle), POST /logout
on A, then poll B's /protected back to back on one kept-alive connection until 401 token_revoked. The
time is from A's logout answer (received) to B's refusal (received).

    <project>/.venv/bin/python scripts/measure/logout_propagation.py --project <project> --listen on|off [--trials 20]
--listen off sets PASETO_APP_REVOCATION_LISTEN_URL=off (the periodic read alone); versions before
LISTEN/NOTIFY ignore the setting. --jitter 0 starts each logout right after the previous refusal.
"""

import random
import time

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
    listeners,
    load,
    log_in,
    summary,
    write_section,
)


def trial(a: httpx2.Client, b: httpx2.Client, url_a: str, url_b: str, jitter: float) -> tuple[float, int, str, float]:
    """(ms from A's logout answer to B's refusal, polls made, B's refusal code, ms until the refused poll was sent)."""
    token = log_in(a, url_a, "alice")["access_token"]
    assert b.get(f"{url_b}/protected", headers=bearer(token)).status_code == 200
    time.sleep(random.uniform(0, jitter))  # noqa: S311 - a phase, not a secret
    a.post(f"{url_a}/logout", headers=bearer(token)).raise_for_status()
    answered = time.perf_counter()
    polls = 0
    while True:
        polls, sent = polls + 1, time.perf_counter()
        answer = b.get(f"{url_b}/protected", headers=bearer(token))
        if answer.status_code == 401:
            return (time.perf_counter() - answered) * 1000, polls, error_code(answer), (sent - answered) * 1000
        assert answer.status_code == 200, answer.text


def main() -> None:
    args = arguments(__doc__ or "", listen="on", trials="20", jitter="1.0")
    database = "measure_logout"
    url = fresh_database(database)
    overrides = dict(CHEAP_HASHING)
    if args.listen == "off":
        overrides["PASETO_APP_REVOCATION_LISTEN_URL"] = "off"
    env = environment(url, overrides)
    cli(args.project, env, "migrate")
    create_user(args.project, env, "alice")
    load_before = load()
    servers: list[Server] = []
    try:
        for port in (8101, 8102):
            servers.append(Server(args.project, env, port, f"logout-{args.label}-{args.listen}-{port}"))
        deadline = time.monotonic() + 15
        while args.listen == "on" and listeners(database) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        listening = listeners(database)
        results: list[tuple[float, int, str, float]] = []
        with httpx2.Client(timeout=10) as a, httpx2.Client(timeout=10) as b:
            for _ in range(int(args.trials)):
                results.append(trial(a, b, servers[0].url, servers[1].url, float(args.jitter)))
    finally:
        for server in servers:
            server.stop()
        drop_database(database)
    times = [result[0] for result in results]
    polls = [result[1] for result in results]
    codes = sorted({result[2] for result in results})
    first_refused = sum(1 for count in polls if count == 1)
    if listening:
        mode = "LISTEN/NOTIFY on (default)"
    elif args.listen == "off":
        mode = "REVOCATION_LISTEN_URL=off (periodic read, 1 s)"
    else:
        mode = "no LISTEN/NOTIFY in this version (periodic read, 1 s)"
    write_section(
        f"1. Logout propagation (issue 18): {args.label}, {mode}, jitter {args.jitter} s",
        [
            f"- B refused after: **{summary(times)}**",
            f"- the refused poll was sent after: {summary([result[3] for result in results])}",
            f"- polls of B per trial (one kept-alive connection, back to back): {min(polls)}-{max(polls)}; the first poll was"
            f" already refused in {first_refused}/{len(polls)} trials; refusal code(s): {', '.join(codes)};"
            f" listeners connected: {listening}",
            f"- each trial (ms): {', '.join(f'{ms:.0f}' for ms in times)}",
            f"- load average before / after: {load_before} / {load()}",
            f"- command: `{command_line()}`",
        ],
    )


if __name__ == "__main__":
    main()
