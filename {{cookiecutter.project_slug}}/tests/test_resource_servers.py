"""What other services get: published verification keys (public bakes), introspection for listed clients,
and CORS for listed origins."""

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

{% if cookiecutter.paseto_purpose == "public" -%}
import pyseto
{% endif -%}
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from {{ cookiecutter.package_name }}.cli import main
{%- if cookiecutter.paseto_purpose == "public" %}
from {{ cookiecutter.package_name }}.paseto import generate_key, public_paserk
{%- endif %}

from .conftest import PASSWORD, bearer, login, make_settings

SECRET = "a long random secret of the reporting service"
CLIENTS = [{"id": "reports", "secret_sha256": hashlib.sha256(SECRET.encode()).hexdigest()}]
REPORTS = ("reports", SECRET)


{% if cookiecutter.paseto_purpose == "public" -%}
def test_a_public_bake_publishes_its_verification_keys_and_never_a_secret(
    make_client: Callable[..., TestClient], user: dict[str, str]
) -> None:
    old_key, new_key = generate_key("public"), generate_key("public")
    client = make_client(paseto_key=new_key, paseto_previous_keys=[public_paserk(old_key)])
    response = client.get("/.well-known/paseto-keys")
    assert response.status_code == 200 and "max-age=300" in response.headers["Cache-Control"]
    keys = response.json()["keys"]
    assert [(entry["key"], entry["current"]) for entry in keys] == [(public_paserk(new_key), True), (public_paserk(old_key), False)]
    for entry in keys:  # every value is a public key: parsed, it verifies and cannot sign
        parsed = pyseto.Key.from_paserk(entry["key"])
        assert entry["key"].startswith("k4.public.") and not parsed.is_secret
    footer = login(client)["access_token"].rsplit(".", 1)[1]
    assert json.loads(pyseto.utils.base64url_decode(footer))["kid"] == keys[0]["kid"]


def test_rotate_keys_changes_what_is_published(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from .test_cli import settings_of, write_env

    monkeypatch.chdir(tmp_path)
    env = write_env(tmp_path, database_url)
    before = settings_of(env).key_ring().published()
    assert main(["rotate-keys"]) == 0
    after = settings_of(env).key_ring().published()
    assert [current for _, _, current in after] == [True, False]
    assert after[1][:2] == before[0][:2]  # the old signing key's public half, now retired
    assert all(key.startswith("k4.public.") for _, key, _ in after)
{%- else -%}
def test_a_local_bake_publishes_nothing(client: TestClient) -> None:
    # Its tokens are encrypted: other services ask POST /introspect.
    response = client.get("/.well-known/paseto-keys")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
{%- endif %}


@pytest.fixture
def reports(make_client: Callable[..., TestClient], user: dict[str, str]) -> TestClient:
    return make_client(introspection_clients=CLIENTS)


def introspect(client: TestClient, token: str) -> dict[str, object]:
    response = client.post("/introspect", data={"token": token}, auth=REPORTS)
    assert response.status_code == 200, response.text
    answer: dict[str, object] = response.json()
    return answer


def test_introspection_describes_a_live_access_token(reports: TestClient) -> None:
    tokens = login(reports)
    answer = introspect(reports, tokens["access_token"])
    assert {key: answer[key] for key in ("active", "sub", "token_type")} == {"active": True, "sub": "alice", "token_type": "access"}
    assert isinstance(answer["exp"], int) and isinstance(answer["iat"], int) and answer["exp"] > answer["iat"]


def test_introspection_sees_a_logout_at_once_on_every_instance(make_client: Callable[..., TestClient], reports: TestClient) -> None:
    tokens = login(reports)
    elsewhere = make_client(paseto_key=reports.app.state.settings.paseto_key, introspection_clients=CLIENTS, revocation_sync_seconds=3600)  # type: ignore[attr-defined]
    assert introspect(elsewhere, tokens["access_token"])["active"] is True
    assert reports.post("/logout", headers=bearer(tokens["access_token"])).status_code == 204
    assert introspect(elsewhere, tokens["access_token"]) == {"active": False}  # read from the database, not a cached set


def test_a_spent_refresh_token_or_anything_invalid_is_inactive(reports: TestClient) -> None:
    tokens = login(reports)
    assert introspect(reports, tokens["refresh_token"])["active"] is True
    newest = reports.post("/refresh", headers=bearer(tokens["refresh_token"])).json()
    for token in (tokens["refresh_token"], "v4.local.junk", "junk", tokens["access_token"][:-3]):
        assert introspect(reports, token) == {"active": False}
    # A spent refresh token presented anywhere is reuse: its session has ended.
    assert reports.post("/refresh", headers=bearer(newest["refresh_token"])).json()["code"] == "token_revoked"


@pytest.mark.parametrize("auth", [None, ("reports", "wrong secret"), ("strangers", SECRET)])
def test_no_listed_client_no_answer(reports: TestClient, auth: tuple[str, str] | None) -> None:
    token = {"token": login(reports)["access_token"]}
    refused = reports.post("/introspect", data=token, auth=auth) if auth else reports.post("/introspect", data=token)
    assert (refused.status_code, refused.json()["code"]) == (401, "invalid_client")
    assert refused.headers["WWW-Authenticate"] == 'Basic realm="introspection"'


def test_guessing_a_client_secret_is_throttled(make_client: Callable[..., TestClient]) -> None:
    client = make_client(introspection_clients=CLIENTS, login_free_failures=3)
    statuses = [client.post("/introspect", data={"token": "x"}, auth=("reports", f"guess {n}")).status_code for n in range(4)]
    assert statuses == [401, 401, 401, 429]


def test_a_blocked_address_is_refused_before_the_secret_is_compared(make_client: Callable[..., TestClient], user: dict[str, str]) -> None:
    client = make_client(introspection_clients=CLIENTS, login_free_failures=5)
    token = {"token": login(client)["access_token"]}
    assert [client.post("/introspect", data=token, auth=("reports", f"guess {n}")).status_code for n in range(5)] == [401] * 5
    right = client.post("/introspect", data=token, auth=REPORTS)
    assert (right.status_code, right.json()["code"]) == (429, "too_many_attempts")  # the right secret tells nothing now


def test_the_right_secret_gives_its_attempt_back(make_client: Callable[..., TestClient], user: dict[str, str]) -> None:
    client = make_client(introspection_clients=CLIENTS, login_free_failures=2)
    token = {"token": login(client)["access_token"]}
    assert [client.post("/introspect", data=token, auth=REPORTS).status_code for _ in range(5)] == [200] * 5


@pytest.mark.parametrize("origin", ["*", "null", "https://app.example/path", "app.example", "ftp://app.example"])
def test_cors_origins_must_be_origins(database_url: str, origin: str) -> None:
    with pytest.raises(ValidationError, match="cors_origins"):
        make_settings(database_url, cors_origins=[origin])


def test_the_command_line_adds_a_client_and_shows_its_secret_once(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from .test_cli import settings_of, write_env

    monkeypatch.chdir(tmp_path)
    env = write_env(tmp_path, database_url)
    assert main(["create-introspection-client", "reports"]) == 0
    secret = capsys.readouterr().out.rsplit("(shown once): ", 1)[1].strip()
    (client,) = settings_of(env).introspection_clients
    assert (client.id, client.secret_sha256) == ("reports", hashlib.sha256(secret.encode()).hexdigest())
    assert secret not in env.read_text()


def test_cors_lets_listed_origins_in_with_credentials_and_no_others(make_client: Callable[..., TestClient]) -> None:
    client = make_client(cors_origins=["https://app.example.com"])
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    allowed = client.options("/login", headers={"Origin": "https://app.example.com", **preflight})
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    assert allowed.headers["access-control-allow-credentials"] == "true"
    other = client.options("/login", headers={"Origin": "https://evil.example", **preflight})
    assert "access-control-allow-origin" not in other.headers
    assert "access-control-allow-origin" not in make_client().get("/health", headers={"Origin": "https://app.example.com"}).headers


def test_password_never_leaves_in_an_introspection(reports: TestClient) -> None:
    assert PASSWORD not in json.dumps(introspect(reports, login(reports)["access_token"]))
