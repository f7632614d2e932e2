"""The OpenAPI document tells the truth: every refusal documented in the `{"detail", "code"}` shape, logins
without security, field limits as configured; and schemathesis, fuzzing every operation with and
without a token, finds no 5xx and no answer the document does not describe."""

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance
from sqlmodel import Session

from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.users import service as users_service

from .conftest import PASSWORD, create_tables, make_settings

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
LOGINS = ("/login", "/login/token", "/login/browser")


# One app for every fuzzed request: schemathesis reads its schema when the tests are collected.
FUZZ_DATABASE = Path(tempfile.mkdtemp(prefix="fuzz-")) / "fuzz.db"
{%- if cookiecutter.database == "postgresql" %}
# (SQLite, even in the PostgreSQL project: what is fuzzed is the HTTP surface, not the database.)
{%- endif %}
fuzzed_app = create_app(make_settings(f"sqlite:///{FUZZ_DATABASE}", login_free_failures=1000, registration_free_attempts=1000))
api = schemathesis.openapi.from_asgi("/openapi.json", fuzzed_app)
api.config.generation.update(max_examples=25)
fuzzed_requests = {"without a token": 0, "with a token": 0}


@pytest.fixture(scope="module")
def token() -> Iterator[str]:
    """Start the fuzzed app (its lifespan reads revoked sessions) and log a user in."""
    create_tables(f"sqlite:///{FUZZ_DATABASE}")
    with TestClient(fuzzed_app) as client:
        with Session(fuzzed_app.state.engine) as session:
            users_service.create_user(session, fuzzed_app.state.settings, "alice", PASSWORD)
        yield client.post("/login", json={"username": "alice", "password": PASSWORD}).json()["access_token"]
    shutil.rmtree(FUZZ_DATABASE.parent, ignore_errors=True)
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
