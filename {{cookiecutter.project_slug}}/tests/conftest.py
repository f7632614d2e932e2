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
import threading
import time
{% if cookiecutter.database == "postgresql" -%}
import uuid
{% endif -%}
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
{%- if cookiecutter.database == "sqlite" %}
from pathlib import Path
{%- endif %}
from typing import Any, TypeVar

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import create_engine{% if cookiecutter.database == "postgresql" %}, text
from sqlalchemy.engine import make_url{% endif %}
from sqlmodel import Session

from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.database import table_metadata
from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.paseto import generate_key
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


@pytest.fixture
def database_url() -> Iterator[str]:
    name = f"test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(SERVER_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:
        pytest.fail(f"no PostgreSQL server for the tests at TEST_DATABASE_URL={SERVER_URL}: {error}", pytrace=False)
    finally:
        admin.dispose()
    yield make_url(SERVER_URL).set(database=name).render_as_string(hide_password=False)
    drop_database(SERVER_URL, name)
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
        "cookie_secure": False,  # TestClient talks plain http to "testserver"
        "trusted_hosts": ["testserver", "127.0.0.1", "localhost"],
        "registration_open": True,
        "docs_enabled": True,
        "revocation_sync_seconds": 0.2,
        # argon2id at its cheapest: the tests check behaviour, not hashing cost (2 ms instead of 200 ms a hash).
        "password_hash_memory_kib": 1024,
        "password_hash_time_cost": 1,
        "password_hash_parallelism": 1,
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
    username: str = "alice"
    password: str = PASSWORD


@contextmanager
def serve(settings: Settings) -> Iterator[LiveServer]:
    """The app on uvicorn on a free loopback port, in a thread of the test process, with user alice.

    The server uses the test's own Settings and database, so a test reads the settings it runs with.
    """
    create_tables(settings.database_url)
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    # Bound here and handed to uvicorn, so no other process can take the port in between.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    host, port = sock.getsockname()
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start; see the captured log above", pytrace=False)
        time.sleep(0.02)
    with Session(app.state.engine) as session:
        users_service.create_user(session, settings, "alice", PASSWORD, "alice@example.com")
    try:
        yield LiveServer(url=f"http://{host}:{port}", settings=settings)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


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
