"""The published fastapi-paseto-auth API works against this package, so its users can move over by changing
one import: settings with a raw `authpaseto_secret_key`, `@AuthPASETO.load_config`, and routes that take
`Authorize: AuthPASETO = Depends()` (process-wide configuration, a class dependency)."""

import importlib
import logging
from collections.abc import Iterator

import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from pydantic import BaseModel

from {{ cookiecutter.package_name }}.paseto import AuthPASETO, AuthPASETOException


class PublishedSettings(BaseModel):
    authpaseto_secret_key: str = "a raw secret of thirty-two bytes"


@pytest.fixture
def published_app() -> Iterator[TestClient]:
    previous = AuthPASETO._config_loader
    AuthPASETO.load_config(PublishedSettings)
    app = FastAPI()

    @app.exception_handler(AuthPASETOException)
    def handle(request: Request, exc: AuthPASETOException) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code, content={"detail": exc.message})

    @app.post("/token")
    def token(Authorize: AuthPASETO = Depends()) -> dict[str, str]:  # noqa: N803
        return {"access": Authorize.create_access_token(subject="carol"), "refresh": Authorize.create_refresh_token(subject="carol")}

    @app.post("/renew")
    def renew(Authorize: AuthPASETO = Depends()) -> dict[str, str]:  # noqa: N803
        Authorize.paseto_required(refresh_token=True)
        return {"access": Authorize.create_access_token(subject=Authorize.get_subject() or "")}

    @app.get("/whoami")
    def whoami(Authorize: AuthPASETO = Depends()) -> dict[str, str | None]:  # noqa: N803
        Authorize.paseto_required()
        return {"user": Authorize.get_subject(), "jti": Authorize.get_jti()}

    yield TestClient(app)
    AuthPASETO._config_loader, AuthPASETO._loaded_config, AuthPASETO._denylist_loader = previous, None, None


def test_module_level_configuration_issues_and_checks_tokens(published_app: TestClient) -> None:
    tokens = published_app.post("/token").json()
    whoami = published_app.get("/whoami", headers={"Authorization": f"Bearer {tokens['access']}"}).json()
    assert whoami["user"] == "carol"
    renewed = published_app.post("/renew", headers={"Authorization": f"Bearer {tokens['refresh']}"}).json()
    assert published_app.get("/whoami", headers={"Authorization": f"Bearer {renewed['access']}"}).status_code == 200


def test_module_level_style_refuses_the_wrong_token_type(published_app: TestClient) -> None:
    tokens = published_app.post("/token").json()
    assert published_app.get("/whoami", headers={"Authorization": f"Bearer {tokens['refresh']}"}).status_code == 401
    assert published_app.post("/renew", headers={"Authorization": f"Bearer {tokens['access']}"}).status_code == 401
    assert published_app.get("/whoami").json() == {"detail": "Not authenticated"}


def test_module_level_denylist_loader_refuses_revoked_tokens(published_app: TestClient) -> None:
    revoked: set[str] = set()
    AuthPASETO.token_in_denylist_loader(lambda claims: claims["jti"] in revoked)
    access = published_app.post("/token").json()["access"]
    headers = {"Authorization": f"Bearer {access}"}
    revoked.add(published_app.get("/whoami", headers=headers).json()["jti"])
    assert published_app.get("/whoami", headers=headers).json() == {"detail": "Token has been revoked"}


@pytest.fixture
def documented_example(caplog: pytest.LogCaptureFixture) -> Iterator[TestClient]:
    """The documentation's example module, imported fresh (its decorators configure AuthPASETO process-wide)."""
    previous = AuthPASETO._config_loader
    with caplog.at_level(logging.WARNING):
        module = importlib.reload(importlib.import_module("tests.fastapi_paseto_auth_example"))
        yield TestClient(module.app)
    AuthPASETO._config_loader, AuthPASETO._loaded_config, AuthPASETO._denylist_loader = previous, None, None


def test_the_documented_example_runs_with_only_its_import_changed(documented_example: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    client = documented_example
    assert client.post("/login", json={"username": "test", "password": "wrong"}).status_code == 401
    tokens = client.post("/login", json={"username": "test", "password": "test"}).json()
    access, refresh = (f"Bearer {tokens[name]}" for name in ("access_token", "refresh_token"))
    assert client.get("/protected", headers={"Authorization": access}).json() == {"user": "test"}
    assert client.get("/protected", headers={"Authorization": refresh}).status_code == 401
    renewed = client.post("/refresh", headers={"Authorization": refresh}).json()["access_token"]
    assert client.get("/protected", headers={"Authorization": f"Bearer {renewed}"}).json() == {"user": "test"}
    assert client.post("/refresh", headers={"Authorization": access}).status_code == 401
    assert client.get("/protected", headers={"Authorization": "Bearer v4.public.abc"}).status_code == 401
    assert "authpaseto_secret_key is 6 bytes" in caplog.text  # its short example key works, with a warning
