"""Shared fixtures: every test builds its own app from its own Settings and its own empty database.

The database is a SQLite file in the test's temporary folder, or, when TEST_DATABASE_URL names a
PostgreSQL server, a database created for the test and dropped after it.
"""

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.paseto import generate_key
from {{ cookiecutter.package_name }}.paseto.keys import Purpose
from {{ cookiecutter.package_name }}.users import service as users_service

PURPOSE: Purpose = "{{ cookiecutter.paseto_purpose }}"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def database_url(tmp_path: Any) -> Iterator[str]:
    server = os.environ.get("TEST_DATABASE_URL")
    if not server:
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    name = f"test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(server).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "paseto_purpose": PURPOSE,
        "paseto_key": generate_key(PURPOSE),
        "cookie_secure": False,  # TestClient talks plain http to "testserver"
        "revocation_sync_seconds": 0.2,
    }
    return Settings(_env_file=None, **{**values, **overrides})


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
def make_client(database_url: str) -> Iterator[Callable[..., TestClient]]:
    """Build a started app (and its client) from settings overrides; several may share the database."""
    clients: list[TestClient] = []

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
        users_service.create_user(session, "alice", PASSWORD, "alice@example.com")
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
