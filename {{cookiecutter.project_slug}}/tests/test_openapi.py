"""The OpenAPI document tells the truth: every refusal documented in the `{"detail", "code"}` shape, logins
without security, field limits as configured; and schemathesis, fuzzing every operation with and
without a token, finds no 5xx and no answer the document does not describe."""

{% if cookiecutter.database == "sqlite" -%}
import shutil
import tempfile
{% else -%}
import uuid
{% endif -%}
from collections.abc import Iterator
{%- if cookiecutter.database == "sqlite" %}
from pathlib import Path
{%- endif %}
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance
{%- if cookiecutter.database == "postgresql" %}
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
{%- endif %}
from sqlmodel import Session

from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.users import service as users_service

from .conftest import PASSWORD, {% if cookiecutter.database == "postgresql" %}SERVER_URL, {% endif %}create_tables, {% if cookiecutter.database == "postgresql" %}drop_database, {% endif %}make_settings

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
LOGINS = ("/login", "/login/token", "/login/browser")


# One app for every fuzzed request: schemathesis reads its schema when the tests are collected, so the app
# is built then, on a database of its own on the kind of database the project uses (made when the first
# fuzzed request comes, by `token`): what the database refuses is fuzzed too.
{%- if cookiecutter.database == "postgresql" %}
FUZZ_DATABASE = f"fuzz_{uuid.uuid4().hex[:16]}"
FUZZ_DATABASE_URL = make_url(SERVER_URL).set(database=FUZZ_DATABASE).render_as_string(hide_password=False)
{%- else %}
FUZZ_FOLDER = Path(tempfile.mkdtemp(prefix="fuzz-"))
FUZZ_DATABASE_URL = f"sqlite:///{FUZZ_FOLDER / 'fuzz.db'}"
{%- endif %}
fuzzed_app = create_app(make_settings(FUZZ_DATABASE_URL, login_free_failures=1000, registration_free_attempts=1000))
api = schemathesis.openapi.from_asgi("/openapi.json", fuzzed_app)
api.config.generation.update(max_examples=25)
fuzzed_requests = {"without a token": 0, "with a token": 0}


@pytest.fixture(scope="module")
def token() -> Iterator[str]:
    """Make the fuzzed app's database, start the app (its lifespan reads revoked sessions) and log a user in:
    the token reaches every route that needs one (the notes of this user, among them)."""
{%- if cookiecutter.database == "postgresql" %}
    server = create_engine(SERVER_URL, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{FUZZ_DATABASE}"'))
    server.dispose()
{%- endif %}
    create_tables(FUZZ_DATABASE_URL)
    with TestClient(fuzzed_app) as client:
        with Session(fuzzed_app.state.engine) as session:
            users_service.create_user(session, fuzzed_app.state.settings, "alice", PASSWORD)
        yield client.post("/login", json={"username": "alice", "password": PASSWORD}).json()["access_token"]
{%- if cookiecutter.database == "postgresql" %}
    drop_database(SERVER_URL, FUZZ_DATABASE)
{%- else %}
    shutil.rmtree(FUZZ_FOLDER, ignore_errors=True)
{%- endif %}
    print(f"\nschemathesis: {fuzzed_requests} requests, none answered with a 5xx or outside the document")


@api.parametrize()
def test_fuzz_without_a_token(case: Any, token: str) -> None:
    fuzzed_requests["without a token"] += 1
    case.call_and_validate(checks=CHECKS)


@api.parametrize()
def test_fuzz_with_a_token(case: Any, token: str) -> None:
    fuzzed_requests["with a token"] += 1
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    document: dict[str, Any] = client.get("/openapi.json").json()
    return document


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_every_refusal_has_the_detail_and_code_shape(document: dict[str, Any]) -> None:
    assert document["components"]["schemas"]["ErrorBody"]["required"] == ["detail", "code"]
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, _method, operation in operations(document):
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}, (path, status)


def test_token_routes_document_401_with_its_challenge_and_logins_their_throttle(document: dict[str, Any]) -> None:
    for path, method, operation in operations(document):
        if "security" in operation:
            assert "WWW-Authenticate" in operation["responses"]["401"]["headers"], (path, method)
            assert "503" in operation["responses"], (path, method)
    for path in LOGINS:
        assert "Retry-After" in document["paths"][path]["post"]["responses"]["429"]["headers"]


def test_logins_declare_no_security_and_token_routes_one_scheme(document: dict[str, Any]) -> None:
    assert document["components"]["securitySchemes"]["PASETO"]["flows"]["password"]["tokenUrl"] == "login/token"
    for path in (*LOGINS, "/register"):
        assert "security" not in document["paths"][path]["post"], path
    for path, method in [("/protected", "get"), ("/refresh", "post"), ("/users/me", "get"), ("/logout", "post"), ("/fresh-only", "post")]:
        assert document["paths"][path][method]["security"] == [{"PASETO": []}], path


def test_field_limits_are_in_the_schema_as_configured(make_client: Any) -> None:
    document = make_client(password_min_length=12, password_max_length=200).get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    password = schemas["UserCreate"]["properties"]["password"]
    assert (password["minLength"], password["maxLength"]) == (12, 200)
    for model in ("PasswordChange", "PasswordReset"):
        assert schemas[model]["properties"]["new_password"]["minLength"] == 12, model
    assert schemas["Credentials"]["properties"]["username"]["maxLength"] == 256
