"""Issue 17: while 100 addresses guess one account's password, does its owner still get in?

One server, `--workers 2 --proxy-headers --forwarded-allow-ips 127.0.0.1`, so X-Forwarded-For sets the
client address. For --seconds (20): attacker threads send wrong passwords back to back, each request
from one of 198.51.100.1-100 (address k joins at (k-1)/100 of the run; requests go round the joined
ones). Meanwhile the owner tries the right password every 0.5 s from two addresses of its own:
(a) 203.0.113.10, a known device, sending the `device_token` of an earlier login there (the newest one);
(b) 203.0.113.20, a new device, never sending one. Hashing: the production defaults unless --hashing cheap;
--hash-concurrency sets PASETO_APP_PASSWORD_HASH_CONCURRENCY (default: the CPU count, per worker).

    <project>/.venv/bin/python scripts/measure/botnet_vs_owner.py --project <project> [--seconds 20] [--attackers 16]
"""

import collections
import re
import threading
import time

import httpx2
from common import (
    CHEAP_HASHING,
    PASSWORD,
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
    write_section,
)

KNOWN_DEVICE, NEW_DEVICE = "203.0.113.10", "203.0.113.20"


def login(client: httpx2.Client, url: str, address: str, password: str, device_token: str | None = None) -> httpx2.Response:
    body = {"username": "owner", "password": password} | ({"device_token": device_token} if device_token else {})
    return client.post(f"{url}/login", json=body, headers={"X-Forwarded-For": address})


def attacker(url: str, started: float, seconds: float, sent: list[int], statuses: collections.Counter[str], lock: threading.Lock) -> None:
    with httpx2.Client(timeout=60) as client:
        while (elapsed := time.monotonic() - started) < seconds:
            joined = min(100, 1 + int(elapsed / seconds * 100))
            with lock:
                sent[0] += 1
                address = f"198.51.100.{1 + sent[0] % joined}"
            answer = login(client, url, address, "wrong password!")
            with lock:
                statuses[f"{answer.status_code} {error_code(answer)}"] += 1


def owner(url: str, address: str, device_token: str | None, started: float, seconds: float, log: list[str]) -> None:
    """Try every 0.5 s; a known device keeps the newest device token it is given."""
    with httpx2.Client(timeout=60) as client:
        attempt = 0
        while (due := started + 0.25 + 0.5 * attempt) < started + seconds:
            time.sleep(max(0.0, due - time.monotonic()))
            answer = login(client, url, address, PASSWORD, device_token)
            if answer.status_code == 200 and device_token:
                device_token = answer.json()["device_token"]
            log.append(f"{answer.status_code}" + ("" if answer.status_code == 200 else f" {error_code(answer)}"))
            attempt += 1


def main() -> None:
    args = arguments(__doc__ or "", seconds="20", attackers="16", hashing="real", hash_concurrency="", port="8121")
    seconds, database = float(args.seconds), "measure_botnet"
    overrides = dict(CHEAP_HASHING) if args.hashing == "cheap" else {}
    if args.hash_concurrency:  # hashes at once per worker (default: the CPU count)
        overrides["PASETO_APP_PASSWORD_HASH_CONCURRENCY"] = args.hash_concurrency
    env = environment(fresh_database(database), overrides)
    cli(args.project, env, "migrate")
    create_user(args.project, env, "owner")
    load_before = load()
    server = Server(
        args.project, env, int(args.port), f"botnet-{args.label}", "--workers", "2", "--proxy-headers", "--forwarded-allow-ips", "127.0.0.1"
    )
    try:
        with httpx2.Client(timeout=60) as client:
            first = login(client, server.url, KNOWN_DEVICE, PASSWORD)
            first.raise_for_status()
            device_token = first.json().get("device_token")  # none before device tokens (2c16bd2)
        sent, statuses, lock = [0], collections.Counter[str](), threading.Lock()
        known: list[str] = []
        new: list[str] = []
        started = time.monotonic()
        threads = [
            threading.Thread(target=attacker, args=(server.url, started, seconds, sent, statuses, lock)) for _ in range(int(args.attackers))
        ]
        threads += [
            threading.Thread(target=owner, args=(server.url, KNOWN_DEVICE, device_token, started, seconds, known)),
            threading.Thread(target=owner, args=(server.url, NEW_DEVICE, None, started, seconds, new)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        load_during = load()
    finally:
        server.stop()
        drop_database(database)
    # The throttle logs each refusal it makes (event=throttled limit=<kind>:...); a 429 without such a line
    # came from the hashing bounds (users/passwords.py: hashes at once per worker and per address).
    throttled = collections.Counter(re.findall(r"event=throttled limit=(\w+):", server.log.read_text()))
    attacks = sum(statuses.values())
    refused = sum(count for status, count in statuses.items() if status.startswith("429")) + sum(
        answer.startswith("429") for answer in known + new
    )
    hashed = sum(count for status, count in statuses.items() if status.startswith("401"))
    hashing = "production defaults (m=64 MiB, t=3, p=4)" if args.hashing == "real" else "cheap (m=8 KiB, t=1, p=1)"

    def tally(log: list[str]) -> str:
        return f"**{log.count('200')}/{len(log)} logged in**; answers: {dict(collections.Counter(log))}"

    write_section(
        f"3. Botnet vs owner (issue 17): {args.label}, hashing {args.hashing}, {args.attackers} attacker threads"
        + (f", PASSWORD_HASH_CONCURRENCY={args.hash_concurrency}" if args.hash_concurrency else ""),
        [
            f"- {args.attackers} attacker threads, 100 addresses, {elapsed:.1f} s; argon2: {hashing}; 2 workers",
            f"- owner (a) from a known device ({'device token sent' if device_token else 'this version returns no device token'}):"
            f" {tally(known)}",
            f"- owner (b) from a new device: {tally(new)}",
            f"- owner (a) in order: {' '.join(answer.split()[0] for answer in known)}",
            f"- owner (b) in order: {' '.join(answer.split()[0] for answer in new)}",
            f"- attacker: {attacks} requests ({attacks / elapsed:.0f}/s), {hashed} answered 401 after a hash ({hashed / elapsed:.1f}/s);"
            f" statuses: {dict(statuses.most_common())}",
            f"- the throttle's refusals in the server log, by limit: {dict(throttled) or 'none'} ({sum(throttled.values())} in all,"
            f" of {refused} 429s; the rest came from the hashing bounds)",
            f"- load average before / at the end: {load_before} / {load_during}",
            f"- command: `{command_line()}`",
        ],
    )


if __name__ == "__main__":
    main()
