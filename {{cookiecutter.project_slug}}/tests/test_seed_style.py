"""The published library's module-level style still works against this package:
settings with a raw `authpaseto_secret_key`, `@AuthPASETO.load_config`, `Authorize: AuthPASETO = Depends()`."""

from collections.abc import Iterator

import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from pydantic import BaseModel

from {{ cookiecutter.package_name }}.paseto import AuthPASETO, AuthPASETOException


class SeedSettings(BaseModel):
    authpaseto_secret_key: str = "a raw secret of thirty-two bytes"


@pytest.fixture
def seed_app() -> Iterator[TestClient]:
    previous = AuthPASETO._config_loader
    AuthPASETO.load_config(SeedSettings)
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


def test_module_level_configuration_issues_and_checks_tokens(seed_app: TestClient) -> None:
    tokens = seed_app.post("/token").json()
    whoami = seed_app.get("/whoami", headers={"Authorization": f"Bearer {tokens['access']}"}).json()
    assert whoami["user"] == "carol"
    renewed = seed_app.post("/renew", headers={"Authorization": f"Bearer {tokens['refresh']}"}).json()
    assert seed_app.get("/whoami", headers={"Authorization": f"Bearer {renewed['access']}"}).status_code == 200


def test_module_level_style_refuses_the_wrong_token_type(seed_app: TestClient) -> None:
    tokens = seed_app.post("/token").json()
    assert seed_app.get("/whoami", headers={"Authorization": f"Bearer {tokens['refresh']}"}).status_code == 401
    assert seed_app.post("/renew", headers={"Authorization": f"Bearer {tokens['access']}"}).status_code == 401
    assert seed_app.get("/whoami").json() == {"detail": "Not authenticated"}


def test_module_level_denylist_loader_refuses_revoked_tokens(seed_app: TestClient) -> None:
    revoked: set[str] = set()
    AuthPASETO.token_in_denylist_loader(lambda claims: claims["jti"] in revoked)
    access = seed_app.post("/token").json()["access"]
    headers = {"Authorization": f"Bearer {access}"}
    revoked.add(seed_app.get("/whoami", headers=headers).json()["jti"])
    assert seed_app.get("/whoami", headers=headers).json() == {"detail": "Token has been revoked"}
