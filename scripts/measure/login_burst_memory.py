"""Issue 17: 60 concurrent wrong-password logins from one address against one worker with the real argon2 cost.

One uvicorn worker, production hashing (m=64 MiB, t=3, p=4). 60 threads, released together, each POST
/login once with a wrong password for a different (unknown) account name, from 127.0.0.1: a name without an
account costs the same argon2 hash (of a dummy), and distinct names keep the per-account limits out of it.
Meanwhile one client GETs /health every 10 ms (kept-alive) and the worker's VmRSS is sampled every 10 ms;
VmHWM (peak RSS) and the worker's CPU seconds are read from /proc after the burst.

    <project>/.venv/bin/python scripts/measure/login_burst_memory.py --project <project> [--burst 60]
"""

import collections
import os
import threading
import time
from pathlib import Path

import httpx2
from common import (
    Server,
    arguments,
    cli,
    command_line,
    drop_database,
    environment,
    error_code,
    fresh_database,
    load,
    percentile,
    summary,
    write_section,
)


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def poll_health(url: str, stop: threading.Event, latencies: list[float], failures: list[str]) -> None:
    with httpx2.Client(timeout=30) as client:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                answer = client.get(f"{url}/health")
                if answer.status_code != 200:
                    failures.append(str(answer.status_code))
            except httpx2.TransportError as error:
                failures.append(type(error).__name__)
            latencies.append((time.perf_counter() - started) * 1000)
            time.sleep(max(0.0, 0.010 - (time.perf_counter() - started)))


def sample_rss(pid: int, stop: threading.Event, samples: list[int]) -> None:
    while not stop.is_set():
        samples.append(status_kib(pid, "VmRSS"))
        time.sleep(0.010)


def wrong_login(url: str, index: int, barrier: threading.Barrier, answers: list[tuple[str, float]]) -> None:
    with httpx2.Client(timeout=120) as client:
        barrier.wait()
        started = time.perf_counter()
        answer = client.post(f"{url}/login", json={"username": f"guess{index:02d}", "password": "wrong password!"})
        answers.append((f"{answer.status_code} {error_code(answer)}", (time.perf_counter() - started) * 1000))


def health_window(url: str, seconds: float) -> list[float]:
    stop, latencies, failures = threading.Event(), list[float](), list[str]()
    poller = threading.Thread(target=poll_health, args=(url, stop, latencies, failures))
    poller.start()
    time.sleep(seconds)
    stop.set()
    poller.join()
    return latencies


def main() -> None:
    args = arguments(__doc__ or "", burst="60", port="8131")
    database, burst = "measure_burst", int(args.burst)
    env = environment(fresh_database(database))
    cli(args.project, env, "migrate")
    load_before = load()
    server = Server(args.project, env, int(args.port), f"burst-{args.label}")
    try:
        pid = server.worker_pids()[0]
        with httpx2.Client() as client:  # warm up: one wrong login, so the hasher and its dummy hash exist
            client.post(f"{server.url}/login", json={"username": "warmup", "password": "wrong password!"})
        time.sleep(1)
        idle = health_window(server.url, 2)
        rss_before, cpu_before = status_kib(pid, "VmRSS"), cpu_seconds(pid)
        stop, health, health_failures, rss = threading.Event(), list[float](), list[str](), list[int]()
        watchers = [
            threading.Thread(target=poll_health, args=(server.url, stop, health, health_failures)),
            threading.Thread(target=sample_rss, args=(pid, stop, rss)),
        ]
        for watcher in watchers:
            watcher.start()
        barrier, answers = threading.Barrier(burst), list[tuple[str, float]]()
        clients = [threading.Thread(target=wrong_login, args=(server.url, index, barrier, answers)) for index in range(burst)]
        started = time.perf_counter()
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join()
        burst_seconds = time.perf_counter() - started
        time.sleep(0.5)
        stop.set()
        for watcher in watchers:
            watcher.join()
        peak, cpu_used, load_after = status_kib(pid, "VmHWM"), cpu_seconds(pid) - cpu_before, load()
    finally:
        server.stop()
        drop_database(database)
    statuses = collections.Counter(status for status, _ in answers)
    write_section(
        f"4. {burst} concurrent wrong logins from one address (issue 17): {args.label}",
        [
            f"- answers: {dict(statuses.most_common())}; all answered within {burst_seconds:.2f} s;"
            f" login latency {summary([ms for _, ms in answers])}",
            f"- worker RSS: {rss_before / 1024:.0f} MiB before the burst, **peak {peak / 1024:.0f} MiB** (VmHWM;"
            f" highest 10 ms sample {max(rss) / 1024:.0f} MiB), {len(rss)} samples",
            f"- worker CPU during the burst: {cpu_used:.1f} s",
            f"- GET /health every 10 ms during the burst: **p99 {percentile(health, 0.99):.1f} ms**, {summary(health)};"
            f" failures: {len(health_failures)}",
            f"- GET /health idle (2 s before the burst): p99 {percentile(idle, 0.99):.1f} ms, {summary(idle)}",
            f"- load average before / after: {load_before} / {load_after}",
            f"- command: `{command_line()}`",
        ],
    )


if __name__ == "__main__":
    main()
