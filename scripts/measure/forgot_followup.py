"""Issue 23 (8): does the work after a /password/forgot answer tell a known address from an unknown one?

The answer is the same and as quick either way; the question is the request right after it, on the same
kept-alive connection, which waits behind the background work of the first (its database writes, its CPU).
--pairs (default 200) pairs, interleaved: (known address, then a follow-up), (unknown address, then a
follow-up); the follow-up always asks for a third, unknown address. Its latency is compared (p50, p95,
mean), and a guesser's best rule (follow-up slower than the median: "known") is scored.
PostgreSQL, MAIL_BACKEND=console; the known address's one mail of the interval is sent before the
measurement, so every measured request for it is within MAIL_INTERVAL_SECONDS (300 s) and sends nothing.

    <project>/.venv/bin/python scripts/measure/forgot_followup.py --project <project> [--label ...] [--pairs 200]
"""

import statistics
import time

import httpx2
from common import (
    CHEAP_HASHING,
    Server,
    arguments,
    cli,
    create_user,
    drop_database,
    environment,
    fresh_database,
    load,
    percentile,
    write_section,
)

KNOWN = "known@example.com"


def timed(client: httpx2.Client, address: str) -> float:
    started = time.perf_counter()
    answer = client.post("/password/forgot", json={"email": address})
    assert answer.status_code == 202, answer.text
    return (time.perf_counter() - started) * 1000


def main() -> None:
    args = arguments(__doc__ or "", pairs="200")
    database, pairs = "measure_forgot", int(args.pairs)
    env = environment(
        fresh_database(database),
        CHEAP_HASHING | {"PASETO_APP_MAIL_BACKEND": "console", "PASETO_APP_MAIL_REQUEST_FREE_ATTEMPTS": "100000"},
    )
    cli(args.project, env, "migrate")
    create_user(args.project, env, "known", email=KNOWN)
    server = Server(args.project, env, 8061, f"forgot-{args.label}")
    followups: dict[str, list[float]] = {"known": [], "unknown": []}
    try:
        with httpx2.Client(base_url=server.url, timeout=30) as client:
            timed(client, KNOWN)  # the one mail of the interval: every later request for it is within MAIL_INTERVAL_SECONDS
            for n in range(pairs):
                for kind in ("known", "unknown") if n % 2 == 0 else ("unknown", "known"):
                    timed(client, KNOWN if kind == "known" else f"nobody{n}@example.com")
                    followups[kind].append(timed(client, f"follow{n}-{kind}@example.com"))
    finally:
        server.stop()
        drop_database(database)
    median = statistics.median(followups["known"] + followups["unknown"])
    right = sum(value > median for value in followups["known"]) + sum(value <= median for value in followups["unknown"])
    lines = [f"{args.label}: {pairs} interleaved pairs, PostgreSQL, load {load()}"]
    for kind, values in followups.items():
        lines.append(
            f"- follow-up after a {kind} address: p50 {percentile(values, 0.5):.2f} ms, p95 {percentile(values, 0.95):.2f} ms, "
            f"mean {statistics.fmean(values):.2f} ms"
        )
    score = 100 * right / (2 * pairs)
    lines.append(f"- a guesser saying 'known' when the follow-up is slower than the median is right {score:.0f}% of the time")
    write_section("Forgot-password follow-up latency (issue 23, 8)", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
