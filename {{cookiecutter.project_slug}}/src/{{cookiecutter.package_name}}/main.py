"""The app factory: `create_app(settings)` wires settings, database, PASETO and the routers together."""

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlmodel import Session, SQLModel
from starlette.exceptions import HTTPException

from .auth import service as auth_service
from .auth.revocation import RevokedFamilies
from .auth.router import router as auth_router
from .config import Settings
from .database import make_engine
from .paseto import AuthPASETOException, bind_config
from .users.router import router as users_router
from .users.service import UserError
from .web.router import router as web_router
from .web.router import static_files


def error(status_code: int, code: str, detail: object, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail, "code": code}, status_code=status_code, headers=headers)


def add_exception_handlers(app: FastAPI) -> None:
    """Every refusal is `{"detail": ..., "code": ...}` with a stable code; never a stack trace."""

    @app.exception_handler(AuthPASETOException)
    async def _auth(request: Request, exc: AuthPASETOException) -> JSONResponse:
        return error(exc.status_code, exc.code, exc.message, exc.headers)

    @app.exception_handler(UserError)
    async def _user(request: Request, exc: UserError) -> JSONResponse:
        return error(exc.status_code, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Echo where and why, never the submitted values (they may hold a password).
        details = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        return error(422, "validation_error", details)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        code = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_").replace("-", "_")
        return error(exc.status_code, code, exc.detail, exc.headers)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()  # the key comes from the environment
    engine = make_engine(settings.database_url)
    paseto_config = settings.paseto_config()
    revoked = RevokedFamilies(engine, settings.revocation_sync_seconds, paseto_config.access_token_expires)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        SQLModel.metadata.create_all(engine)
        with Session(engine) as session:
            auth_service.purge_expired(session, paseto_config.access_token_expires)
        revoked.sync()
        yield
        engine.dispose()

    app = FastAPI(title=settings.app_name, lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine
    app.state.revoked_families = revoked
    paseto_config.denylist_loader = revoked  # refuses tokens of logged-out sessions, from memory
    bind_config(app, paseto_config)

    add_exception_handlers(app)
    app.include_router(auth_router)
    app.include_router(users_router)
    app.include_router(web_router)
    app.mount("/static", static_files, name="static")

    @app.get("/health", tags=["meta"])
    def health() -> dict[str, str]:
        """Liveness probe."""
        return {"status": "ok"}

    return app
