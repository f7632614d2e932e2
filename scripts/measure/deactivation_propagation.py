"""Issue 19: how long after an administrator deactivates user X on instance A does instance B refuse X on /users/me?

Two uvicorn processes (one worker each) on one PostgreSQL database. Each trial: X logs in on B and reads
GET /users/me there (so B holds X's snapshot); the administrator logs in on A (a fresh token), a random
0-1 s wait, POST /admin/users/X/deactivate on A; then B's /users/me is polled back to back on one
kept-alive connection until 401. The time is from A's answer (received) to B's refusal (received).
X is reactivated on A after each trial.

    <project>/.venv/bin/python scripts/measure/deactivation_propagation.py --project <project> --listen on|off [--trials 20]
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


def trial(a: httpx2.Client, b: httpx2.Client, url_a: str, url_b: str, jitter: float) -> tuple[float, int, str, float, int]:
    """(ms from A's deactivation answer to B's refusal, polls made, B's refusal code,
    ms from A's reactivation answer until B's /users/me takes a new login's token, refusals until then)."""
    token = log_in(b, url_b, "xavier")["access_token"]
    assert b.get(f"{url_b}/users/me", headers=bearer(token)).status_code == 200
    admin = log_in(a, url_a, "root")["access_token"]
    time.sleep(random.uniform(0, jitter))  # noqa: S311 - a phase, not a secret
    a.post(f"{url_a}/admin/users/xavier/deactivate", headers=bearer(admin)).raise_for_status()
    answered = time.perf_counter()
    polls = 0
    while True:
        polls += 1
        answer = b.get(f"{url_b}/users/me", headers=bearer(token))
        if answer.status_code == 401:
            refused, code = (time.perf_counter() - answered) * 1000, error_code(answer)
            break
        assert answer.status_code == 200, answer.text
    # Reactivate: a new login on B works at once (it reads the database), but B's /users/me may still hold
    # the inactive snapshot it read while refusing: wait until it takes the new token.
    a.post(f"{url_a}/admin/users/xavier/activate", headers=bearer(admin)).raise_for_status()
    reactivated, turned_away = time.perf_counter(), 0
    token = log_in(b, url_b, "xavier")["access_token"]
    while b.get(f"{url_b}/users/me", headers=bearer(token)).status_code == 401:
        turned_away += 1
    return refused, polls, code, (time.perf_counter() - reactivated) * 1000, turned_away


def main() -> None:
    args = arguments(__doc__ or "", listen="on", trials="20", jitter="1.0")
    database = "measure_deactivation"
    overrides = dict(CHEAP_HASHING)
    if args.listen == "off":
        overrides["PASETO_APP_REVOCATION_LISTEN_URL"] = "off"
    env = environment(fresh_database(database), overrides)
    cli(args.project, env, "migrate")
    create_user(args.project, env, "root", admin=True)
    create_user(args.project, env, "xavier")
    load_before = load()
    servers: list[Server] = []
    try:
        for port in (8111, 8112):
            servers.append(Server(args.project, env, port, f"deactivation-{args.label}-{args.listen}-{port}"))
        deadline = time.monotonic() + 15
        while args.listen == "on" and listeners(database) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        listening = listeners(database)
        with httpx2.Client(timeout=10) as a, httpx2.Client(timeout=10) as b:
            results = [trial(a, b, servers[0].url, servers[1].url, float(args.jitter)) for _ in range(int(args.trials))]
    finally:
        for server in servers:
            server.stop()
        drop_database(database)
    times = [result[0] for result in results]
    polls = [result[1] for result in results]
    codes = sorted({result[2] for result in results})
    if listening:
        mode = "push on (default)"
    elif args.listen == "off":
        mode = "REVOCATION_LISTEN_URL=off (periodic read, 1 s)"
    else:
        mode = "no LISTEN/NOTIFY in this version (periodic read, 1 s)"
    write_section(
        f"2. Deactivation reaching a second instance's /users/me (issue 19): {args.label}, {mode}",
        [
            f"- B's /users/me refused X after: **{summary(times)}**",
            f"- polls of B per trial (one kept-alive connection): {min(polls)}-{max(polls)}; first poll already refused in"
            f" {sum(1 for count in polls if count == 1)}/{len(polls)} trials; refusal code(s): {', '.join(codes)}; listeners: {listening}",
            f"- each trial (ms): {', '.join(f'{ms:.0f}' for ms in times)}",
            f"- reactivation on A, then a new login on B: B's /users/me took the new token after"
            f" {summary([result[3] for result in results])};"
            f" /users/me refused the freshly logged-in X (polled back to back) {sum(result[4] for result in results)} times in all,"
            f" in {sum(1 for result in results if result[4])}/{len(results)} trials",
            f"- load average before / after: {load_before} / {load()}",
            f"- command: `{command_line()}`",
        ],
    )


if __name__ == "__main__":
    main()
