"""The app factory: `create_app(settings)` wires settings, database, PASETO and the routers together.

Serve it with `uvicorn {{ cookiecutter.package_name }}.main:create_app --factory` after `{{ cookiecutter.project_slug }} migrate`.
"""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, exc
from sqlmodel import Session, select
from starlette.exceptions import HTTPException

from .account.router import router as account_router
from .activity.router import admin_router as activity_admin_router
from .activity.router import router as activity_router
from .admin.router import router as admin_router
{%- if cookiecutter.database == "postgresql" %}
from .auth.listener import listener_for
{%- endif %}
from .auth.models import TokenFamily
from .auth.revocation import RevokedFamilies
from .auth.router import router as auth_router
from .config import ENV_PREFIX, Settings
from .database import UNAVAILABLE_ERRORS, DatabaseUnavailable, HungQueryGuard, describe_failure, make_engine
from .errors import document_refusals, error, refusals
from .federation import router as federation
from .federation.service import Federation
from .housekeeping import keep_tidy
from .logs import configure_logging
from .mail import Mailer
from .mfa.router import router as mfa_router
from .middleware import EdgeMiddleware
from .notes.router import router as notes_router
from .observability import metrics
from .observability.request_id import RequestIdMiddleware
from .observability.tracing import start_tracing
from .paseto import AuthPASETOException, bind_config
from .passkeys.router import router as passkeys_router
from .resource_servers.router import router as resource_servers_router
from .users.exceptions import UserError
from .users.router import router as users_router
from .users.schemas import CONFIGURED_PASSWORD_RULES
from .users.snapshots import UserSnapshots
from .web.forms import router as web_forms
from .web.router import router as web_router
from .web.router import static_files

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider  # imported only when tracing is on (observability/tracing.py)

logger = logging.getLogger(__name__)
RETRY_AFTER_UNAVAILABLE = "5"  # seconds: about one connect timeout
# Codes for the framework's own refusals, fixed here because status phrases differ between Python versions.
HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "body_too_large", 415: "unsupported_media_type"}


def add_exception_handlers(app: FastAPI) -> None:
    """Map every exception a request can meet to its refusal; nothing reaches the client as a stack trace."""

    @app.exception_handler(AuthPASETOException)
    async def _auth(request: Request, exc: AuthPASETOException) -> JSONResponse:
        return error(exc.status_code, exc.code, exc.message, exc.headers, **getattr(exc, "extra", {}))

    @app.exception_handler(UserError)
    async def _user(request: Request, exc: UserError) -> JSONResponse:
        return error(exc.status_code, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Echo where and why, never the submitted values (they may hold a password).
        details = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        return error(422, "validation_error", details)

    async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
        logger.warning(
            "%s %s answered 503: %s", request.method, request.url.path, describe_failure(request.app.state.settings.database_url, exc)
        )
        return error(
            503, "database_unavailable", "The database is unavailable; try again shortly", {"Retry-After": RETRY_AFTER_UNAVAILABLE}
        )

    for unavailable in (DatabaseUnavailable, *UNAVAILABLE_ERRORS):
        app.add_exception_handler(unavailable, _unavailable)

    @app.exception_handler(exc.DataError)
    async def _data(request: Request, refused: exc.DataError) -> JSONResponse:
        # A value the database refused (text it cannot store, a number too large for its column): the
        # route's own bounds should have caught it, so it is logged, but it is the client's input, not
        # a fault. The request's session is rolled back when it closes (database.get_session).
        refusal = type(refused.orig).__name__  # never the value: it is the client's, and may be anything
        logger.warning("%s %s answered 422: the database refused a value (%s)", request.method, request.url.path, refusal)
        return error(422, "invalid_data", "A value is not one the database can hold")

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code) or HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_").replace("-", "_")
        return error(exc.status_code, code, exc.detail, exc.headers)


def describe_api(app: FastAPI, settings: Settings) -> None:
    """Complete the OpenAPI document: refusals that follow from each route's dependencies (errors.py), and the
    configured password lengths, which the models cannot know."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = FastAPI.openapi(app)  # generated once, then cached on the app
        document_refusals(schema, app.routes)
        for model in schema["components"]["schemas"].values():
            for field in model.get("properties", {}).values():
                if field.pop(CONFIGURED_PASSWORD_RULES, False):  # a NewPassword field (users/schemas.py)
                    field.update(minLength=settings.password_min_length, maxLength=settings.password_max_length)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _check_ready(engine: Engine) -> None:
    try:
        with Session(engine) as session:
            session.exec(select(TokenFamily.id).limit(1)).first()  # reachable, and migrated
    except exc.ProgrammingError:  # PostgreSQL: a missing table
        raise DatabaseUnavailable("the database has no tables yet: run migrations") from None


@asynccontextmanager
async def observing(settings: Settings, tracer_provider: "TracerProvider | None") -> AsyncIterator[None]:
    """While the app runs: the metrics on their own port (METRICS_PORT, if set; off the public one, so no proxy
    passes them on). After: the port closed, and the spans not yet sent sent."""
    metrics_server = None
    if settings.metrics_port is not None:
        try:
            metrics_server = metrics.serve(settings.metrics_host, settings.metrics_port)
        except OSError as error:
            where = f"{settings.metrics_host}:{settings.metrics_port}"
            raise RuntimeError(f"cannot serve metrics on {where} ({ENV_PREFIX}METRICS_HOST, {ENV_PREFIX}METRICS_PORT): {error}") from None
    try:
        yield
    finally:
        if metrics_server is not None:
            await anyio.to_thread.run_sync(metrics.stop, metrics_server)
        if tracer_provider is not None:
            await anyio.to_thread.run_sync(tracer_provider.shutdown)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()  # the key comes from the environment
    configure_logging(settings.log_level, settings.log_format)
    engine = make_engine(settings)
    hung_queries = HungQueryGuard(engine, settings.database_query_timeout) if engine.dialect.name == "postgresql" else None
    paseto_config = settings.paseto_config()
    accounts = UserSnapshots(settings.user_cache_size, settings.user_cache_seconds)
    accounts.serve(engine)  # an account changed through this engine is dropped from them at once (users/service.py)
    revoked = RevokedFamilies(
        engine,
        access_token_lifetime=paseto_config.access_token_expires + paseto_config.leeway,
        sync_seconds=settings.revocation_sync_seconds,
        max_staleness_seconds=settings.revocation_max_staleness_seconds,
        accounts=accounts,  # the same feed drops the snapshots of changed accounts
    )

    if settings.metrics_port is not None:
        metrics.start()
        metrics.observe_pool(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with observing(settings, tracer_provider), anyio.create_task_group() as background:
            # Revoked sessions are read before the first request, then kept up to date off the request path.
            await background.start(revoked.keep_in_sync)
            if hung_queries:
                background.start_soon(hung_queries.watch)
{%- if cookiecutter.database == "postgresql" %}
            if listener:
                background.start_soon(listener.run)
{%- endif %}
            if revoked.synced:  # the database answers: tidy up before serving, then hourly
                await background.start(keep_tidy, engine, settings)
            else:
                background.start_soon(keep_tidy, engine, settings)
            yield
            background.cancel_scope.cancel()
        app.state.federation.close()
        engine.dispose()

    docs = settings.docs_enabled
    app = FastAPI(
        title=settings.app_name,
        lifespan=lifespan,
        docs_url=None,  # served by web/ with pinned assets, when enabled
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
        # FastAPI's own telemetry would trace through any global OpenTelemetry set-up, query strings (one-time
        # links' tokens) and invalid input included: traces come from observability/tracing.py alone.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False, "auto_configure": False},
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.revoked_families = revoked
    app.state.user_snapshots = accounts
{%- if cookiecutter.database == "postgresql" %}
    # PostgreSQL pushes revocations to every instance at once; the periodic read above stays as the safety net.
    listen_url = settings.revocation_listen_url or settings.database_url
    listener = listener_for(revoked, listen_url, settings.database_connect_timeout)
    app.state.revocation_listener = listener
{%- endif %}
    app.state.mailer = Mailer(settings)
    app.state.federation = Federation(settings)  # OIDC_PROVIDERS: their discovery documents and keys are read when first needed
    paseto_config.denylist_loader = revoked  # refuses tokens of logged-out sessions, from memory
    bind_config(app, paseto_config)

    add_exception_handlers(app)
    describe_api(app, settings)
    if settings.cors_origins:  # inside the edge: hosts and body sizes are checked first
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-CSRF-Token"],
            max_age=600,
        )
    app.add_middleware(
        EdgeMiddleware, trusted_hosts=settings.trusted_hosts, max_body_bytes=settings.request_max_bytes, hsts=settings.cookie_secure
    )
    # Observability (observability/): outside the edge, so its refusals are timed and carry a request ID too.
    if settings.metrics_port is not None:
        app.add_middleware(metrics.MetricsMiddleware)
    tracer_provider, tag_span = None, None
    if settings.otel_exporter_otlp_endpoint is not None:
        tracer_provider, tag_span = start_tracing(app, engine, str(settings.otel_exporter_otlp_endpoint), "{{ cookiecutter.package_name }}")
    app.add_middleware(RequestIdMiddleware, on_request_id=tag_span)

    # Routes are matched in the order they are added: the probes first, as a load balancer calls them most.
    @app.get("/health", tags=["meta"])
    async def health() -> dict[str, str]:
        """Liveness: the process answers. Touches neither the database nor the thread pool."""
        return {"status": "ok"}

    @app.get("/ready", tags=["meta"], responses=refusals(503))
    def ready() -> dict[str, str]:
        """Readiness: the database answers and holds the app's tables."""
        _check_ready(engine)
        return {"status": "ready"}

    app.include_router(auth_router)
    app.include_router(account_router)
    app.include_router(users_router)
    app.include_router(mfa_router)
    app.include_router(notes_router)
    app.include_router(admin_router)
    app.include_router(resource_servers_router)
    app.include_router(activity_router)
    app.include_router(activity_admin_router)
    app.include_router(passkeys_router)
    app.include_router(web_router)
    app.include_router(web_forms)
    app.include_router(federation.pages)
    app.include_router(federation.forms)
    app.include_router(federation.api)
    app.mount("/static", static_files, name="static")

    return app
