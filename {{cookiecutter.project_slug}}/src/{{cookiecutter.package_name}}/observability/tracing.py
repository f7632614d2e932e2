"""OpenTelemetry traces of requests and their SQL, exported over OTLP/HTTP; only when OTEL_EXPORTER_OTLP_ENDPOINT is set.

Without it nothing of OpenTelemetry is imported: tracing costs nothing. With it, each app gets a tracer
provider of its own (no global state: tests build several apps), FastAPI's instrumentation for the
request's span, and SQLAlchemy's for a span per statement (the SQL with its placeholders: values are
never recorded). The exporter reads the other standard variables itself (OTEL_EXPORTER_OTLP_HEADERS,
OTEL_EXPORTER_OTLP_TIMEOUT...); OTEL_SERVICE_NAME names the service (default: the package's name).

What a span must never hold: the instrumentation records each request's URL, query string included,
and the one-time links' pages take their token there (`/password/reset?token=...`): the request's
span has every `token=` value cut out as it starts (`_scrub`). Headers are not recorded (no
Authorization, no Cookie), nor bodies (no password).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from sqlalchemy import Engine

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_ENDPOINT"
REQUEST_ID_ATTRIBUTE = "http.request.id"
_TOKEN_VALUE = re.compile(r"((?:^|[?&;])[^=&;?]*token=)[^&;#\s]*", re.IGNORECASE)


def redact(value: str) -> str:
    """`/reset?token=abc&x=1` -> `/reset?token=[redacted]&x=1` (any parameter ending in `token`)."""
    return _TOKEN_VALUE.sub(r"\1[redacted]", value)


def start_tracing(app: FastAPI, engine: Engine, endpoint: str, service_name: str) -> tuple[TracerProvider, Callable[[str], None]]:
    """Instrument the app and its engine; returns the provider (shut it down to flush) and the request-ID hook."""
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import NoOpMeterProvider
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": service_name})
    provider = TracerProvider(resource=resource)
    # The generic endpoint variable names the collector; traces go to its /v1/traces (the OTLP spec's rule).
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces")))
    no_metrics = NoOpMeterProvider()  # metrics are Prometheus' job here (observability/metrics.py)

    def _scrub(span: Any, scope: dict[str, Any]) -> None:
        if not span.is_recording():
            return
        for key, value in list(span.attributes.items()):
            if isinstance(value, str) and "token=" in value.lower():
                span.set_attribute(key, redact(value))

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        meter_provider=no_metrics,
        server_request_hook=_scrub,
        exclude_spans=["receive", "send"],  # a span per ASGI message would say nothing the request's does not
    )
    tracer = trace.get_tracer("opentelemetry.instrumentation.sqlalchemy", tracer_provider=provider)
    connections = no_metrics.get_meter(__name__).create_up_down_counter("db.client.connections.usage")
    # This engine only: the instrumentor's instrument() would patch every engine made in the process.
    EngineTracer(tracer, engine, connections)  # type: ignore[no-untyped-call]

    def tag_span(request_id: str) -> None:
        trace.get_current_span().set_attribute(REQUEST_ID_ATTRIBUTE, request_id)

    return provider, tag_span
