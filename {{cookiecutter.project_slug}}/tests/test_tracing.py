"""Traces: with OTEL_EXPORTER_OTLP_ENDPOINT set, each request is a span with its SQL statements under it,
exported over OTLP/HTTP to a real receiver (tests/otlp.py); nothing secret is in any of it. Without it,
OpenTelemetry's SDK is not even imported."""

import os
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import Session

from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.observability.tracing import REQUEST_ID_ATTRIBUTE, redact
from {{ cookiecutter.package_name }}.users import service as users_service

from .conftest import PASSWORD, bearer, create_tables, make_settings
from .otlp import attributes, otlp_receiver

SERVER, CLIENT = 2, 3  # the protobuf's SpanKind values
LINK_TOKEN = "v4.local.link-token-that-must-not-be-traced"


def test_a_login_is_a_server_span_over_its_sql_and_nothing_secret_is_exported(database_url: str) -> None:
    create_tables(database_url)
    with otlp_receiver() as received:
        settings = make_settings(database_url, otel_exporter_otlp_endpoint=received.url)
        with TestClient(create_app(settings)) as client:
            with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
                users_service.create_user(session, settings, "alice", PASSWORD, "alice@example.com")
            login = client.post("/login", json={"username": "alice", "password": PASSWORD}, headers={"X-Request-ID": "trace-login"})
            assert login.status_code == 200, login.text
            tokens = login.json()
            refreshed = client.post("/refresh", headers=bearer(tokens["refresh_token"]))
            assert refreshed.status_code == 200, refreshed.text
            assert client.get("/protected", headers=bearer(refreshed.json()["access_token"])).status_code == 200
            client.post("/login", json={"username": "alice", "password": "a wrong guess"})
            client.get(f"/password/reset?token={LINK_TOKEN}&next=1")  # a one-time link's page: its token is in the URL
            client.get(f"/email/verify?token={LINK_TOKEN}")
        # Leaving the client stops the app, which sends what is left.

    assert set(received.paths) == {"/v1/traces"}
    spans = received.spans()
    by_id = {span.span_id: span for span in spans}
    (server,) = [span for span in spans if attributes(span).get(REQUEST_ID_ATTRIBUTE) == "trace-login"]  # the request's ID
    assert (server.name, server.kind) == ("POST /login", SERVER)
    assert attributes(server)["http.route"] == "/login"
    statements = [span for span in spans if span.trace_id == server.trace_id and span.span_id != server.span_id]
    kinds = Counter(span.name.split()[0] for span in statements)
    assert kinds["SELECT"] >= 1 and kinds["INSERT"] >= 1, kinds  # read the account, start the session
    for statement in statements:
        assert statement.kind == CLIENT
        parent = by_id[statement.parent_span_id]  # each under the request's span, through whatever is between
        while parent.span_id != server.span_id:
            parent = by_id[parent.parent_span_id]

    reset = next(span for span in spans if span.name == "GET /password/reset")
    assert "token=[redacted]" in " ".join(str(value) for value in attributes(reset).values())  # the URL is there, its token is not

    exported = b"".join(received.bodies)
    secrets = [PASSWORD, "a wrong guess", LINK_TOKEN, tokens["access_token"], tokens["refresh_token"], tokens["device_token"]]
    secrets += [refreshed.json()["access_token"], refreshed.json()["refresh_token"], "Bearer "]
    for secret in secrets:
        assert secret.encode() not in exported, secret[:20]
    assert b"v4.local." not in exported and b"v4.public." not in exported  # no token of any kind


def test_tokens_are_cut_out_of_any_url() -> None:
    assert redact("/password/reset?token=abc.def&next=1") == "/password/reset?token=[redacted]&next=1"
    assert redact("http://h/email/verify?a=1&token=x") == "http://h/email/verify?a=1&token=[redacted]"
    assert redact("http://h/x?mfa_token=secret") == "http://h/x?mfa_token=[redacted]"
    assert redact("/no/query") == "/no/query"


def test_without_an_endpoint_nothing_of_the_sdk_or_the_metrics_client_is_imported(database_url: str) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        from tests.conftest import make_settings
        from {{ cookiecutter.package_name }}.main import create_app
        create_app(make_settings({database_url!r}))
        loaded = [name for name in sys.modules if name.startswith(("opentelemetry.sdk", "opentelemetry.exporter",
                  "opentelemetry.instrumentation", "prometheus_client", "google.protobuf"))]
        print(loaded)
        """
    )
    environment = {name: value for name, value in os.environ.items() if not name.startswith("OTEL_")}
    project = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=environment, cwd=project, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", result.stdout
