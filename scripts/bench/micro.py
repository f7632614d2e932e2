"""In-process costs of a generated app: run with its venv's Python, in its folder (Settings read its .env).

`python micro.py PACKAGE` prints JSON: microseconds per token verification by the app's
`decode_token`, for a token it has never seen and for one it has, beside a raw `pyseto.decode` of
the same tokens; and the argon2 parameters with the milliseconds one hash and one verify take.
"""

import importlib
import json
import re
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

REPEATS = 7
NEW_TOKENS = 2000  # distinct tokens per repeat, each verified once: no cache can have seen them
SEEN_CALLS = 10_000
HASHES = 5
PASSWORD = "correct horse battery staple"  # noqa: S105 - hashed to time argon2, never stored


def best_us(measures: dict[str, tuple[Callable[[], list[str]], Callable[[str], Any]]]) -> dict[str, float]:
    """Per measure, the best of REPEATS of the time per call (as timeit reports: the least disturbed run).

    Repeats of every measure alternate, so a busy moment of the machine hits them alike; each repeat
    gets its batch before the clock starts.
    """
    times: dict[str, list[float]] = {name: [] for name in measures}
    for _ in range(REPEATS):
        for name, (batches, verify) in measures.items():
            batch = batches()
            start = time.perf_counter()
            for token in batch:
                verify(token)
            times[name].append((time.perf_counter() - start) / len(batch) * 1e6)
    return {name: min(values) for name, values in times.items()}


def verification(package: str) -> dict[str, float]:
    import pyseto

    config = importlib.import_module(f"{package}.config").Settings().paseto_config()
    tokens = importlib.import_module(f"{package}.paseto.tokens")

    claims = {"subject": "bench", "token_type": "access", "expires_in": timedelta(minutes=15), "claims": {"fam": "x"}}

    def new_token() -> str:
        return str(tokens.encode_token(config, **claims))

    key = config.keys.verification_key(config.keys.signing_kid) or config.keys.signing_key
    seen = new_token()
    return best_us(
        {
            "decode_new_us": (lambda: [new_token() for _ in range(NEW_TOKENS)], lambda t: tokens.decode_token(config, t)),
            "decode_seen_us": (lambda: [seen] * SEEN_CALLS, lambda t: tokens.decode_token(config, t)),
            "pyseto_decode_us": (lambda: [new_token() for _ in range(NEW_TOKENS)], lambda t: pyseto.decode(key, t)),
        }
    )


def median_ms(call: Callable[[], Any]) -> float:
    times = []
    for _ in range(HASHES):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def argon2(package: str) -> dict[str, Any]:
    passwords = importlib.import_module(f"{package}.users.passwords")
    if hasattr(passwords, "hasher_for"):  # the argon2 parameters are settings
        context = passwords.hasher_for(importlib.import_module(f"{package}.config").Settings()).context
    else:  # earlier apps: one module-level context
        context = passwords.password_context
    hashed = context.hash(PASSWORD)
    found = re.match(r"\$(argon2\w*)\$v=(\d+)\$m=(\d+),t=(\d+),p=(\d+)\$", hashed)
    if not found:
        raise SystemExit(f"not an argon2 hash: {hashed[:20]}...")
    kind, version, memory, rounds, lanes = found.groups()
    return {
        "type": kind,
        "version": int(version),
        "memory_kib": int(memory),
        "time_cost": int(rounds),
        "parallelism": int(lanes),
        "hash_ms": median_ms(lambda: context.hash(PASSWORD)),
        "verify_ms": median_ms(lambda: context.verify(PASSWORD, hashed)),
    }


if __name__ == "__main__":
    print(json.dumps({"tokens": verification(sys.argv[1]), "argon2": argon2(sys.argv[1])}))
