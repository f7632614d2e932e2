"""What a long revocation history costs: run with a generated app's venv Python, in its folder.

`python revoked.py PACKAGE DATABASE_URL COUNT` adds COUNT revoked sessions (token families) to the
app's database, revoked at moments spread over the refresh lifetime (14 days), and prints JSON: the
time of the first read of revoked sessions (at start-up) and of the reads each instance makes every
second after it, how many sessions are held in memory, and the memory they take, before and after.
"""

import importlib
import json
import statistics
import sys
import time
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, text

READS = 30  # incremental reads timed


def seed(engine: Any, family: Any, count: int) -> None:
    now, spread = datetime.now(UTC), timedelta(days=14)
    rows = [
        {
            "id": uuid.uuid4().hex,
            "user_id": 1,
            "current_token_hash": "0" * 64,
            "created_at": now - spread,
            "expires_at": now + spread,
            "ends_at": now + spread,
            "revoked_at": now - spread * (n / count),
            "revoked_reason": "logout",
        }
        for n in range(count)
    ]
    with engine.begin() as connection:
        for start in range(0, count, 10_000):
            connection.execute(insert(family), rows[start : start + 10_000])
    with engine.begin() as connection:
        # Fresh planner statistics, as autovacuum gathers them after a bulk insert: without them
        # PostgreSQL takes the table for small and scans it whole instead of using the index.
        connection.execute(text(f"ANALYZE {family.__tablename__}"))


def measure(package: str, engine: Any) -> dict[str, Any]:
    revocation = importlib.import_module(f"{package}.auth.revocation")
    revoked = revocation.RevokedFamilies(engine, access_token_lifetime=timedelta(minutes=15), sync_seconds=1, max_staleness_seconds=60)
    tracemalloc.start()
    started = time.perf_counter()
    first_rows = revoked.sync()
    first_ms = (time.perf_counter() - started) * 1e3
    held_bytes = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    times = []
    for _ in range(READS):
        started = time.perf_counter()
        revoked.sync()
        times.append((time.perf_counter() - started) * 1e3)
    return {
        "first_read_ms": round(first_ms, 2),
        "first_read_rows": first_rows,
        "read_ms_median": round(statistics.median(times), 3),
        "read_ms_p95": round(sorted(times)[int(READS * 0.95) - 1], 3),
        "families_in_memory": revoked.size,
        "memory_kib": round(held_bytes / 1024, 1),
    }


def main() -> None:
    package, url, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    config = importlib.import_module(f"{package}.config")
    database = importlib.import_module(f"{package}.database")
    family = importlib.import_module(f"{package}.auth.models").TokenFamily
    engine = database.make_engine(config.DatabaseSettings(database_url=url))
    before = measure(package, engine)
    started = time.perf_counter()
    seed(engine, family, count)
    seeded_s = time.perf_counter() - started
    after = measure(package, engine)
    print(json.dumps({"revoked_families_added": count, "seed_seconds": round(seeded_s, 1), "before": before, "after": after}))


if __name__ == "__main__":
    main()
