"""Prometheus metrics: counted where outcomes are decided, with bounded labels, served on their own port only,
added up across uvicorn workers, and scraped by a real Prometheus server (tests/prometheus.py).

Metrics live in the process (prometheus-client's registry): once a test here turns them on, later apps
of the test process count too, so these tests compare counts before and after what they do.
"""

import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx2
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import Session

from {{ cookiecutter.package_name }}.config import ENV_PREFIX
from {{ cookiecutter.package_name }}.database import make_engine
from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.observability.metrics import NAMESPACE
from {{ cookiecutter.package_name }}.users import service as users_service

from .conftest import PASSWORD, bearer, create_tables, free_port, login, make_settings
from .prometheus import prometheus_programs, prometheus_server, query, target_health, wait_for
from .test_workers import DEADLINE_SECONDS, KEEP_ALIVE_SECONDS, USERS, _env_value, _wait_until_serving, clients_on_two_workers

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> str:
    response = httpx2.get(f"{url}/metrics", timeout=DEADLINE_SECONDS)
    assert response.status_code == 200, response.text
    return response.text


def samples(text: str) -> Samples:
    """Every sample of the app's metrics: (name, sorted labels) -> value."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith(NAMESPACE)
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((f"{NAMESPACE}_{name}", tuple(sorted(labels.items()))), 0.0)


def test_off_by_default_and_never_on_the_public_port(make_client: Callable[..., TestClient]) -> None:
    assert make_client().get("/metrics").status_code == 404
    port = free_port()
    client = make_client(metrics_port=port)
    assert client.get("/metrics").status_code == 404  # the public port has no such route, whoever asks
    assert f"{NAMESPACE}_logins_total" in scrape(f"http://127.0.0.1:{port}")


def test_a_taken_metrics_port_stops_the_start_naming_the_setting(database_url: str) -> None:
    create_tables(database_url)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        app = create_app(make_settings(database_url, metrics_port=taken.getsockname()[1]))
        with pytest.raises(RuntimeError, match=f"{ENV_PREFIX}METRICS_PORT"), TestClient(app):
            pass


def test_outcomes_are_counted_with_bounded_labels(make_client: Callable[..., TestClient], tmp_path: Path) -> None:
    metrics_url = f"http://127.0.0.1:{free_port()}"
    client = make_client(metrics_port=int(metrics_url.rsplit(":", 1)[1]), login_free_failures=1)
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        users_service.create_user(session, client.app.state.settings, "alice", PASSWORD, "alice@example.com")  # type: ignore[attr-defined]
    before = samples(scrape(metrics_url))

    tokens = login(client)
    refreshed = client.post("/refresh", headers=bearer(tokens["refresh_token"]))
    assert refreshed.status_code == 200, refreshed.text
    assert client.post("/refresh", headers=bearer(tokens["refresh_token"])).json()["code"] == "token_reused"
    forged = client.post("/refresh", headers=bearer("v4.local.not-a-token")).json()["code"]  # which code depends on the purpose
    tokens = login(client)
    assert client.post("/logout", headers=bearer(tokens["access_token"])).status_code == 204
    stranger = TestClient(client.app, client=("192.0.2.7", 1000))
    assert stranger.post("/login", json={"username": "alice", "password": "wrong one"}).status_code == 401
    assert stranger.post("/login", json={"username": "alice", "password": "wrong two"}).status_code == 429
    assert client.post("/password/forgot", json={"email": "alice@example.com"}).status_code == 202  # a mail, after the answer
    assert client.delete("/sessions/abc123", headers=bearer(login(client)["access_token"])).status_code == 404
    assert client.get("/no/such/page/alice").status_code == 404

    text = scrape(metrics_url)
    after = samples(text)

    def added(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert added("logins_total", outcome="success") == 3
    assert added("logins_total", outcome="invalid_credentials") == 1
    assert added("logins_total", outcome="too_many_attempts") == 1
    assert added("refreshes_total", outcome="success") == 1
    assert added("refreshes_total", outcome="token_reused") == 1
    assert added("refreshes_total", outcome=forged) == 1
    assert added("refresh_token_reuse_total") == 1
    assert added("sessions_revoked_total", reason="reuse") == 1
    assert added("sessions_revoked_total", reason="logout") == 1
    assert added("mails_total", outcome="sent") == 1
    assert value(after, "password_hashes_in_progress", slots="others") == 0  # every slot given back
    # Every connection comes back (the background read of revocations borrows one now and then).
    wait_for(lambda: value(samples(scrape(metrics_url)), "db_pool_connections_in_use") == 0, "a connection stayed lent out")
    assert value(after, "revocation_feed_lag_seconds") < 60
    latency = "http_request_duration_seconds_count"
    assert added(latency, method="POST", route="/login", status="2xx") == 3
    assert added(latency, method="POST", route="/login", status="4xx") == 2
    assert added(latency, method="DELETE", route="/sessions/{family_id}", status="4xx") == 1  # the template, not the id
    assert added(latency, method="GET", route="unmatched", status="4xx") == 1
    assert "alice" not in text and "abc123" not in text and "/no/such" not in text  # no user name, no raw path

    _, promtool = prometheus_programs()
    (tmp_path / "metrics.txt").write_text(text)
    with (tmp_path / "metrics.txt").open() as scraped:
        checked = subprocess.run([promtool, "check", "metrics"], stdin=scraped, capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr


# -- several workers, and a real Prometheus ------------------------------------------------------------------


@pytest.fixture
def two_workers_with_metrics(database_url: str, tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """`uvicorn --workers 2` with METRICS_PORT set, as an operator runs it: (app URL, metrics URL, server log)."""
    create_tables(database_url)
    metrics_port = free_port()
    settings = make_settings(database_url, trusted_hosts=["127.0.0.1"], metrics_port=metrics_port)
    engine = make_engine(settings)
    with Session(engine) as session:
        for n in range(USERS):
            users_service.create_user(session, settings, f"user{n}", PASSWORD)
    engine.dispose()
    variables = {f"{ENV_PREFIX}{name.upper()}": _env_value(value) for name, value in settings.model_dump().items() if value is not None}
    environment = {name: value for name, value in os.environ.items() if name != "PROMETHEUS_MULTIPROC_DIR"}
    # The app makes its workers' shared folder in the temporary folder; an earlier run's, left behind, goes.
    left_behind = tmp_path / f"{NAMESPACE}-metrics-{os.getuid()}" / "999999999-1"
    left_behind.mkdir(parents=True, mode=0o700)
    left_behind.parent.chmod(0o700)
    environment |= {**variables, "TMPDIR": str(tmp_path)}
    port, log = free_port(), tmp_path / "server.log"
    command = [sys.executable, "-m", "uvicorn", "{{ cookiecutter.package_name }}.main:create_app", "--factory", "--workers", "2"]
    options = ["--host", "127.0.0.1", "--port", str(port), "--timeout-keep-alive", str(KEEP_ALIVE_SECONDS)]
    with log.open("w") as output:
        server = subprocess.Popen([*command, *options], env=environment, cwd=tmp_path, stdout=output, stderr=output)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(url, server, log)
        assert not left_behind.exists()
        yield url, f"http://127.0.0.1:{metrics_port}", log
    finally:
        server.terminate()
        try:
            server.wait(timeout=DEADLINE_SECONDS)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_both_workers_are_counted_and_prometheus_scrapes_them(two_workers_with_metrics: tuple[str, str, Path], tmp_path: Path) -> None:
    url, metrics_url, log = two_workers_with_metrics
    connections = clients_on_two_workers(url, log)  # logs in until a login has reached each worker
    try:
        (_, here), (_, there) = connections.items()
        tokens = here.post("/login", json={"username": "user0", "password": PASSWORD}).json()
        traced = there.get("/protected", headers={**bearer(tokens["access_token"]), "X-Request-ID": "access-line-1"})
        assert (traced.status_code, traced.headers["x-request-id"]) == (200, "access-line-1")
        assert there.post("/refresh", headers=bearer(tokens["refresh_token"])).status_code == 200
        assert here.post("/refresh", headers=bearer(tokens["refresh_token"])).json()["code"] == "token_reused"
        assert here.get("/metrics").status_code == 404  # not on the public port
    finally:
        for connection in connections.values():
            connection.close()

    logins = re.findall(r"\[(\d+)\] \S+: event=login ", log.read_text())
    assert len(set(logins)) == 2, "the logins reached both workers"
    # Whichever worker a scrape reaches, it reports every worker's counts.
    for _ in range(6):
        found = samples(scrape(metrics_url))
        assert value(found, "logins_total", outcome="success") == len(logins)
        assert value(found, "refresh_token_reuse_total") == 1
    # uvicorn's access line of a request ends with the request's ID too.
    wait_for(lambda: '"GET /protected HTTP/1.1" 200 OK request_id=access-line-1' in log.read_text(), f"no access line:\n{log.read_text()}")

    target = metrics_url.removeprefix("http://")
    with prometheus_server(target, tmp_path / "prometheus") as prometheus:
        wait_for(lambda: target_health(prometheus) == "up", f"Prometheus never scraped {target}")
        expression = NAMESPACE + '_logins_total{outcome="success"}'
        wait_for(lambda: query(prometheus, expression) == len(logins), f"{expression} never reached {len(logins)}")
        assert query(prometheus, f"{NAMESPACE}_refresh_token_reuse_total") == 1
