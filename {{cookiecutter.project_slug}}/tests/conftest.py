"""Shared fixtures: every test builds its own app from its own Settings and its own empty database.

{% if cookiecutter.database == "postgresql" -%}
The database is created for the test on the PostgreSQL server at TEST_DATABASE_URL (default: the
local server as user postgres) and dropped after it.
{%- else -%}
The database is a SQLite file in the test's temporary folder.
{%- endif %} Tables come from the models (`create_all`, in tests
only); tests/test_migrations.py proves the migrations make the same ones.
"""

{% if cookiecutter.database == "postgresql" -%}
import os
{% endif -%}
import socket
import sys
import threading
import time
{% if cookiecutter.database == "postgresql" -%}
import uuid
{% endif -%}
from collections.abc import Callable, Iterator
{%- if cookiecutter.database == "postgresql" %}
from concurrent.futures import ThreadPoolExecutor
{%- endif %}
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
{%- if cookiecutter.database == "sqlite" %}
from pathlib import Path
{%- endif %}
from types import ModuleType
from typing import Any, Self, TypeVar

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import {% if cookiecutter.database == "postgresql" %}Engine, {% endif %}create_engine{% if cookiecutter.database == "postgresql" %}, text
from sqlalchemy.engine import make_url{% endif %}
from sqlmodel import Session

from {{ cookiecutter.package_name }} import database
from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.database import table_metadata
from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.paseto import cache as token_cache
from {{ cookiecutter.package_name }}.paseto import generate_key
from {{ cookiecutter.package_name }}.paseto import tokens as token_checks
from {{ cookiecutter.package_name }}.paseto.keys import Purpose
from {{ cookiecutter.package_name }}.users import service as users_service

PURPOSE: Purpose = "{{ cookiecutter.paseto_purpose }}"
PASSWORD = "correct horse battery staple"
T = TypeVar("T")
{%- if cookiecutter.database == "postgresql" %}
SERVER_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def drop_database(server_url: str, name: str) -> None:
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def server() -> Iterator[tuple[Engine, ThreadPoolExecutor]]:
    """The test server, through one pool for the whole run; databases are dropped in the background."""
    admin = create_engine(SERVER_URL, isolation_level="AUTOCOMMIT")
    drops = ThreadPoolExecutor(max_workers=1)
    yield admin, drops
    drops.shutdown(wait=True)
    admin.dispose()


def _drop(admin: Engine, name: str) -> None:
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def database_url(server: tuple[Engine, ThreadPoolExecutor]) -> Iterator[str]:
    """A database of the test's own, made for it on the test server and dropped after it (while the next runs)."""
    admin, drops = server
    name = f"test_{uuid.uuid4().hex[:16]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:
        pytest.fail(f"no PostgreSQL server for the tests at TEST_DATABASE_URL={SERVER_URL}: {error}", pytrace=False)
    yield make_url(SERVER_URL).set(database=name).render_as_string(hide_password=False)
    drops.submit(_drop, admin, name)
{%- else %}


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'test.db'}"
{%- endif %}


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "paseto_purpose": PURPOSE,
        "paseto_key": generate_key(PURPOSE),
        "purpose_key": generate_key("local"),
        "public_url": "http://testserver",
        "mail_backend": "memory",  # kept in app.state.mailer.outbox; tests/test_mail.py sends through a real SMTP server
        # Nearly every test logs in from a client new to the account, and counts its mails exactly:
        # tests/test_activity.py turns the new-device notice (on by default) back on.
        "new_device_notices": False,
        "cookie_secure": False,  # TestClient talks plain http to "testserver"
        "trusted_hosts": ["testserver", "127.0.0.1", "localhost"],
        "registration_open": True,
        "docs_enabled": True,
        "revocation_sync_seconds": 0.2,
        # Generous database deadlines: on a busy machine (several suites at once, PostgreSQL checkpointing for
        # every test database dropped) a commit can stall for seconds, and the hung-query guard would cut a
        # healthy request. tests/test_database_faults.py proves the production deadlines with tight ones.
        "database_pool_timeout": 60,
        "database_query_timeout": 60,
        # argon2id at its cheapest: the tests check behaviour, not hashing cost (2 ms instead of 200 ms a hash).
        "password_hash_memory_kib": 1024,
        "password_hash_time_cost": 1,
        "password_hash_parallelism": 1,
        # Many tests log in at once from one address: the hashing bounds have tests of their own.
        "password_hash_concurrency": 64,
        "password_hash_per_address": 64,
    }
    return Settings(_env_file=None, **{**values, **overrides})


def all_at_once(calls: list[Callable[[], T]]) -> list[T]:
    """Run the calls in threads released together; their results, in the order they finished."""
    barrier = threading.Barrier(len(calls))
    results: list[T] = []

    def run(call: Callable[[], T]) -> None:
        barrier.wait()
        results.append(call())

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def create_tables(database_url: str) -> None:
    engine = create_engine(database_url)
    table_metadata().create_all(engine)
    engine.dispose()


@dataclass(frozen=True)
class LiveServer:
    url: str
    settings: Settings
    app: FastAPI
    username: str = "alice"
    password: str = PASSWORD


@contextmanager
def run_server(app: Any, port: int = 0) -> Iterator[str]:
    """Any ASGI app on uvicorn on a loopback port (a free one by default), in a thread of the test process: its URL."""
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    # Bound here and handed to uvicorn, so no other process can take the port in between; a port just
    # given up by an earlier server of the test may be bound again (a restart).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    host, port = sock.getsockname()
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start; see the captured log above", pytrace=False)
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        sock.close()


@contextmanager
def serve(settings: Settings, port: int = 0) -> Iterator[LiveServer]:
    """The app on uvicorn on a loopback port (free by default), in a thread of the test process, with user alice.

    The server uses the test's own Settings and database, so a test reads the settings it runs with.
    """
    create_tables(settings.database_url)
    app = create_app(settings)
    with run_server(app, port) as url:
        with Session(app.state.engine) as session:
            if users_service.get_by_username(session, "alice") is None:  # a restarted server finds her there
                users_service.create_user(session, settings, "alice", PASSWORD, "alice@example.com")
        yield LiveServer(url=url, settings=settings, app=app)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
def make_client(database_url: str) -> Iterator[Callable[..., TestClient]]:
    """Build a started app (and its client) from settings overrides; several may share the database."""
    clients: list[TestClient] = []

    create_tables(database_url)

    def build(settings: Settings | None = None, **overrides: Any) -> TestClient:
        client = TestClient(create_app(settings or make_settings(database_url, **overrides)), raise_server_exceptions=False)
        clients.append(client.__enter__())
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient], settings: Settings) -> TestClient:
    return make_client(settings)


@pytest.fixture
def user(client: TestClient) -> dict[str, str]:
    """A registered user: {"username": ..., "password": ...}."""
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        users_service.create_user(session, client.app.state.settings, "alice", PASSWORD, "alice@example.com")  # type: ignore[attr-defined]
    return {"username": "alice", "password": PASSWORD}


def login(client: TestClient, username: str = "alice", password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    tokens: dict[str, str] = response.json()
    return tokens


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def tokens(client: TestClient, user: dict[str, str]) -> dict[str, str]:
    """A fresh access token and a refresh token of a logged-in user."""
    return login(client)


# -- A clock the test moves -------------------------------------------------------------------------
_REAL_UTCNOW = database.utcnow
# The modules that must follow the clock for the tests that use it to mean anything.
_CLOCKED_MODULES = {f"{database.__package__}.{name}" for name in ("users.throttle", "auth.service", "auth.revocation")}


class Clock:
    """The app's wall clock, frozen for one test: time stands still until the test moves it.

    What reads this clock instead of the real one:
    - `utcnow()`, in every module of the app that imports it (found, not listed): the throttle's waits
      and windows, a session's expiry and refresh grace period, revocation times and the revocation
      set's memory;
    - the token clock (`datetime.now` and `time.time` in paseto/tokens.py, `time.time` in
      paseto/cache.py): a token's `iat`/`nbf`/`exp` and its expiry check.

    So a test about time passing moves the clock past a bound (`clock.move(seconds=...)`) instead of
    sleeping, and a wait the app sets cannot run out before the test looks at it, however slow the
    machine: real time passing changes nothing. The clock starts at the real time, so it agrees with
    times written before the test froze it; times a test writes itself should come from `clock.now()`
    (a `utcnow` imported into a test module is the real one). Frozen means two readings between moves are equal:
    code that counts on time passing between them (a `>` against its previous reading) sees none pass.

    Not moved: `time.monotonic()`, which times the revocation set's staleness, the beat of its
    background read and the database's hung-query guard: those keep real time unless a test calls
    `clock.freeze_monotonic_in(module)`. Nor the creation times models fill in themselves
    (`default_factory=utcnow` holds the real function); nothing here decides on them.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._monkeypatch = monkeypatch
        self._now = _REAL_UTCNOW()
        self._monotonic = time.monotonic()
        self._time_module = _ClockTime(self)
        package = f"{database.__package__}."
        loaded = list(sys.modules.items())
        clocked = {name for name, module in loaded if name.startswith(package) and getattr(module, "utcnow", None) is _REAL_UTCNOW}
        assert clocked >= _CLOCKED_MODULES, f"these modules no longer read utcnow(): {_CLOCKED_MODULES - clocked}"
        for name in clocked:
            monkeypatch.setattr(sys.modules[name], "utcnow", self.now)
        monkeypatch.setattr(token_checks, "datetime", _clock_datetime(self))
        monkeypatch.setattr(token_checks, "time", self._time_module)
        monkeypatch.setattr(token_cache, "time", self._time_module)

    def now(self) -> datetime:
        """The app's current time (UTC), what `utcnow()` returns."""
        return self._now

    def monotonic(self) -> float:
        return self._monotonic

    def move(self, *, seconds: float) -> None:
        """Let this much time pass, at once (forward only)."""
        assert seconds >= 0, "the clock only moves forward"
        self._now += timedelta(seconds=seconds)
        self._monotonic += seconds

    def freeze_monotonic_in(self, module: ModuleType) -> None:
        """Let `time.monotonic()` (and `time.time()`) as this module sees them read the clock too.

        For a module that compares monotonic readings, such as auth/revocation.py (the staleness of the
        revoked set). Call it before the app starts, so that the first read is timed on this clock.
        A loop there that sleeps until a monotonic deadline sleeps longer each round while the clock
        stands still: give such a loop an interval longer than the test.
        """
        self._monkeypatch.setattr(module, "time", self._time_module)


class _ClockTime:
    """The `time` module as a module under the clock sees it: `time()` and `monotonic()` read the clock."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def time(self) -> float:
        return self._clock.now().timestamp()

    def monotonic(self) -> float:
        return self._clock.monotonic()

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)  # the module (the method of that name is not in scope here)


def _clock_datetime(clock: Clock) -> type[datetime]:
    """`datetime` whose `now()` reads the clock."""

    class ClockDatetime(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> Self:
            return cls.fromtimestamp(clock.now().timestamp(), tz)

    return ClockDatetime


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The app's wall clock, frozen at the real time until the test moves it (see Clock)."""
    return Clock(monkeypatch)
