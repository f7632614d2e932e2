"""Prometheus metrics: named counters the app calls where it decides an outcome, served on a port of their own.

Off unless `METRICS_PORT` is set: then prometheus-client is imported, the metrics below are made, and
each worker serves them on METRICS_HOST:METRICS_PORT (127.0.0.1 by default), never on the public port.
While off, each call here is one check of a module variable.

Several uvicorn workers count into one directory (prometheus-client's multiprocess mode): each worker
writes its own files and any worker's answer to a scrape adds them all up. The directory is the
operator's `PROMETHEUS_MULTIPROC_DIR` if set (they empty it before each start, as prometheus-client
documents); else one made for this run of the server in the temporary folder, named after the
supervising process, and those of earlier runs are removed. A single process needs none.
Every worker listens on the metrics port (SO_REUSEPORT): the kernel hands each scrape to one of them.

Label values are fixed sets (outcome codes, route templates, reasons): never a user name or a raw path.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import socket
import stat
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from sqlalchemy import Engine, event
from sqlalchemy.pool import QueuePool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "MetricsMiddleware",
    "enabled",
    "hash_refused",
    "hashing",
    "mail",
    "observe_pool",
    "outcomes",
    "reuse_detected",
    "revocation_feed_lag",
    "sessions_revoked",
    "start",
]

logger = logging.getLogger(__name__)
NAMESPACE = "{{ cookiecutter.package_name }}"
MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})  # any other is "other": bounded
UNMATCHED = "unmatched"  # the route of a request no route took (404, a refused host): never its raw path
# Seconds: most answers here take milliseconds; a login about 0.1-0.3 s (argon2id); 503s wait seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20)


class _Metrics:
    """Every metric of the app, made once per process (prometheus-client's registry is the process's)."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        def counter(name: str, documentation: str, *labels: str) -> Counter:
            return Counter(name, documentation, labels, namespace=NAMESPACE)

        self.outcomes = {
            "login": counter("logins", "Password logins and second steps, by outcome (success or the refusal's code)", "outcome"),
            "refresh": counter("refreshes", "Refresh-token exchanges, by outcome (success or the refusal's code)", "outcome"),
        }
        self.sessions_revoked = counter("sessions_revoked", "Sessions (token families) revoked, by reason", "reason")
        self.reuse = counter("refresh_token_reuse", "Spent refresh tokens presented again: each revoked its session")
        self.mails = counter("mails", "Mails handed to the mail backend, by outcome (sent, failed)", "outcome")
        self.hash_refusals = counter("password_hash_refusals", "Password checks refused with 429 because every hashing slot was taken")
        self.hashing: Gauge = Gauge(
            "password_hashes_in_progress",
            "Hashing slots in use (known devices have slots of their own)",
            ["slots"],
            namespace=NAMESPACE,
            multiprocess_mode="livesum",
        )
        self.feed_lag: Gauge = Gauge(
            "revocation_feed_lag_seconds",
            "Seconds since revoked sessions were last read from the database (the slowest worker); fail closed past the staleness bound",
            namespace=NAMESPACE,
            multiprocess_mode="livemax",
        )
        self.pool_in_use: Gauge = Gauge(
            "db_pool_connections_in_use", "Pooled database connections lent out", namespace=NAMESPACE, multiprocess_mode="livesum"
        )
        self.pool_size: Gauge = Gauge("db_pool_size", "Pooled database connections kept", namespace=NAMESPACE, multiprocess_mode="livesum")
        self.pool_waits = counter("db_pool_waits", "Requests for a database connection that found none free and waited")
        self.latency: Histogram = Histogram(
            "http_request_duration_seconds",
            "Time to answer, by method, route template and status class",
            ["method", "route", "status"],
            namespace=NAMESPACE,
            buckets=LATENCY_BUCKETS,
        )


_metrics: _Metrics | None = None  # None: off
_lock = threading.Lock()


def enabled() -> bool:
    return _metrics is not None


def start(tmp_root: str | None = None) -> None:
    """Turn metrics on in this process (once; later calls change nothing). In a worker of several: multiprocess mode."""
    global _metrics
    with _lock:
        if _metrics is not None:
            return
        directory = _multiprocess_directory(tmp_root)
        from prometheus_client import values

        # Chosen by prometheus-client as it is imported: chosen again, for a directory set just now.
        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
        if directory is not None:
            _forget_dead_workers(directory)
        _metrics = _Metrics()


def _multiprocess_directory(tmp_root: str | None) -> Path | None:
    """The directory workers share: the operator's, or one for this run (made here); None for a single process."""
    if configured := os.environ.get(MULTIPROC_VARIABLE):
        return Path(configured)
    parent = multiprocessing.parent_process()  # uvicorn starts its workers with multiprocessing (spawn)
    if parent is None or parent.pid is None:
        return None
    base = Path(tmp_root or tempfile.gettempdir()) / f"{NAMESPACE}-metrics-{os.getuid()}"
    base.mkdir(mode=0o700, exist_ok=True)
    info = base.lstat()
    # In a shared /tmp, a folder someone else made (or a link) could feed a scrape false numbers.
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise RuntimeError(f"{base} is not a private folder of this user: remove it, or set {MULTIPROC_VARIABLE}")
    run = base / _process_id(parent.pid)
    for earlier in base.iterdir():
        if earlier != run and not _running(earlier.name):
            shutil.rmtree(earlier, ignore_errors=True)
    run.mkdir(exist_ok=True)
    os.environ[MULTIPROC_VARIABLE] = str(run)  # read by prometheus-client as it makes each metric
    return run


def _process_id(pid: int) -> str:
    """`<pid>-<start time>`: a pid alone is taken again by the next run (a container's supervisor is always 1)."""
    try:
        started = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]  # field 22: start time, in ticks since boot
    except (OSError, IndexError):
        started = "0"
    return f"{pid}-{started}"


def _running(run: str) -> bool:
    pid = run.partition("-")[0]
    return pid.isdigit() and _process_id(int(pid)) == run and _alive(int(pid))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _forget_dead_workers(directory: Path) -> None:
    """A worker that died without stopping (killed, crashed) leaves its gauges: they must not count as in use."""
    from prometheus_client import multiprocess

    pids = {int(path.stem.rsplit("_", 1)[1]) for path in directory.glob("gauge_live*_*.db") if path.stem.rsplit("_", 1)[1].isdigit()}
    for pid in pids - {os.getpid()}:
        if not _alive(pid):
            multiprocess.mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]


# -- what the app counts ------------------------------------------------------------------------------------


@contextmanager
def outcomes(kind: str) -> Iterator[None]:
    """Count what a login or refresh (`kind`) came to: `success`, or the code of the refusal it raised."""
    if _metrics is None:
        yield
        return
    counter = _metrics.outcomes[kind]
    try:
        yield
    except Exception as refusal:
        code = getattr(refusal, "code", None)  # the stable code of every refusal: a fixed set
        counter.labels(code if isinstance(code, str) else "error").inc()
        raise
    counter.labels("success").inc()


def sessions_revoked(reason: str, count: int) -> None:
    if _metrics is not None and count:
        _metrics.sessions_revoked.labels(reason).inc(count)


def reuse_detected() -> None:
    if _metrics is not None:
        _metrics.reuse.inc()


def mail(sent: bool) -> None:
    if _metrics is not None:
        _metrics.mails.labels("sent" if sent else "failed").inc()


def hashing(known_device: bool, change: int) -> None:
    """A hashing slot taken (+1) or given back (-1)."""
    if _metrics is not None:
        _metrics.hashing.labels("known_devices" if known_device else "others").inc(change)


def hash_refused() -> None:
    if _metrics is not None:
        _metrics.hash_refusals.inc()


def revocation_feed_lag(seconds: float) -> None:
    if _metrics is not None:
        _metrics.feed_lag.set(seconds)


def observe_pool(engine: Engine) -> None:
    """Connections lent out and waits for one, from a queue pool's events (in-memory SQLite has no such pool)."""
    if _metrics is None or not isinstance(engine.pool, QueuePool):
        return
    metrics, pool = _metrics, engine.pool
    metrics.pool_size.inc(pool.size())

    def lent(*_: Any) -> None:
        metrics.pool_in_use.inc()

    def returned(*_: Any) -> None:  # invalidated connections too: the pool counts them back in the same way
        metrics.pool_in_use.dec()

    event.listen(engine, "checkout", lent)
    event.listen(engine, "checkin", returned)
    connect = pool.connect

    def connect_counting_waits() -> Any:
        # The app's pools never overflow (database.py): none idle and all lent out means this one waits.
        if pool.checkedin() == 0 and pool.checkedout() >= pool.size():
            metrics.pool_waits.inc()
        return connect()

    pool.connect = connect_counting_waits  # type: ignore[method-assign]


class MetricsMiddleware:
    """Times each HTTP request, labelled by its route's path template (`/sessions/{family_id}`), never its path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _metrics is None:
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or UNMATCHED
            method = scope["method"] if scope["method"] in METHODS else "other"
            _metrics.latency.labels(method, template, f"{status // 100}xx").observe(time.perf_counter() - started)


# -- serving them -----------------------------------------------------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the standard library's name)
        """A scrape every few seconds is no news."""


class MetricsServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class MetricsServerIPv6(MetricsServer):
    address_family = socket.AF_INET6


def serve(host: str, port: int) -> MetricsServer:
    """Serve the metrics on host:port from a thread; `shutdown()` and `server_close()` stop it."""
    from prometheus_client import REGISTRY, CollectorRegistry, make_wsgi_app, multiprocess

    registry = REGISTRY
    if MULTIPROC_VARIABLE in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    server_class = MetricsServerIPv6 if ":" in host else MetricsServer
    server = server_class((host, port), _QuietHandler, bind_and_activate=False)
    # The workers of one run all listen (SO_REUSEPORT), and each scrape reaches one, which reads every worker's
    # files; a single process keeps the port to itself, so that another server already on it is an error.
    server.allow_reuse_port = MULTIPROC_VARIABLE in os.environ
    try:
        server.server_bind()
        server.server_activate()
    except OSError:
        server.server_close()
        raise
    server.set_app(make_wsgi_app(registry))
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    logger.info("metrics on http://%s:%d/metrics", f"[{host}]" if ":" in host else host, port)
    return server


def stop(server: MetricsServer) -> None:
    """Stop serving; a worker that stops takes its gauges (slots, connections in use) out of the sums."""
    server.shutdown()
    server.server_close()
    if directory := os.environ.get(MULTIPROC_VARIABLE):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid(), directory)  # type: ignore[no-untyped-call]
