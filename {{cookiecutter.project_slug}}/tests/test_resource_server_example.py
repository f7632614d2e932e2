"""examples/resource_server.py and the app, both live: another service accepts the app's tokens holding no
secret of it, by the published keys (public bakes) or by introspection (every bake); a route of it wants
a login that proved a second factor (`mfa` in `amr`)."""

import hashlib
import importlib.util
import time
from collections.abc import Iterator
from contextlib import contextmanager
{%- if cookiecutter.paseto_purpose == "public" %}
from datetime import timedelta
{%- endif %}
from pathlib import Path
from types import ModuleType

import httpx2
import pyotp
import pytest
{%- if cookiecutter.paseto_purpose == "public" %}
from pydantic import SecretStr
{%- endif %}

from {{ cookiecutter.package_name }}.config import IntrospectionClient, Settings
{%- if cookiecutter.paseto_purpose == "public" %}
from {{ cookiecutter.package_name }}.paseto import KeyRing, PasetoConfig, generate_key, public_paserk
from {{ cookiecutter.package_name }}.paseto.tokens import encode_token
{%- endif %}

from .conftest import PASSWORD, {% if cookiecutter.paseto_purpose == "public" %}free_port, {% endif %}run_server, serve

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "resource_server.py"
CLIENT = ("orders", "the orders service's secret, long and random")


def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("resource_server", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def access_token(app_url: str) -> str:
    response = httpx2.post(f"{app_url}/login", json={"username": "alice", "password": PASSWORD})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def totp_access_token(app_url: str) -> str:
    """alice sets up an authenticator app and logs in with a code of it: an access token whose `amr` has `mfa`."""
    tokens = httpx2.post(f"{app_url}/login", json={"username": "alice", "password": PASSWORD}).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    secret = httpx2.post(f"{app_url}/mfa/totp/setup", headers=headers).json()["secret"]
    totp = pyotp.TOTP(secret)
    assert httpx2.post(f"{app_url}/mfa/totp/confirm", json={"code": totp.now()}, headers=headers).status_code == 200
    first = httpx2.post(f"{app_url}/login", json={"username": "alice", "password": PASSWORD}).json()
    assert first["code"] == "mfa_required", first
    # The confirming code's step is spent; the next step's code is accepted already (one step of clock skew).
    second = httpx2.post(f"{app_url}/login/mfa", json={"mfa_token": first["mfa_token"], "code": totp.at(time.time() + 30)})
    assert second.status_code == 200, second.text
    token: str = second.json()["access_token"]
    return token


def payout(service_url: str, token: str) -> httpx2.Response:
    return httpx2.post(f"{service_url}/payouts", headers={"Authorization": f"Bearer {token}"})


def greeting(service_url: str, token: str) -> httpx2.Response:
    return httpx2.get(f"{service_url}/greeting", headers={"Authorization": f"Bearer {token}"})


@contextmanager
def resource_server(app_url: str, **options: object) -> Iterator[str]:
    with run_server(example().create_resource_server(app_url, **options)) as url:
        yield url


def with_client(settings: Settings) -> Settings:
    """The app's settings with the example listed as an introspection client."""
    listed = IntrospectionClient(id=CLIENT[0], secret_sha256=hashlib.sha256(CLIENT[1].encode()).hexdigest())
    return settings.model_copy(update={"introspection_clients": [listed]})


def test_by_introspection_a_logout_is_refused_at_once(settings: Settings) -> None:
    with serve(with_client(settings)) as app, resource_server(app.url, client=CLIENT) as service:
        token = access_token(app.url)
        assert greeting(service, token).json() == {"hello": "alice"}
        assert httpx2.post(f"{app.url}/logout", headers={"Authorization": f"Bearer {token}"}).status_code == 204
        refused = greeting(service, token)
        assert (refused.status_code, refused.json()["code"]) == (401, "invalid_token")


@pytest.mark.parametrize("way", ["introspection"{% if cookiecutter.paseto_purpose == "public" %}, "published keys"{% endif %}])
def test_a_payout_wants_a_login_with_a_second_factor_both_ways(settings: Settings, way: str) -> None:
    with serve(with_client(settings)) as app, resource_server(app.url, **({"client": CLIENT} if way == "introspection" else {})) as service:
        password_only = access_token(app.url)
        assert greeting(service, password_only).status_code == 200  # what any login may do
        refused = payout(service, password_only)
        assert (refused.status_code, refused.json()["code"]) == (403, "insufficient_user_authentication")
        assert payout(service, totp_access_token(app.url)).json() == {"paid_by": "alice"}


def test_by_introspection_a_wrong_audience_is_refused(settings: Settings) -> None:
    with serve(with_client(settings.model_copy(update={"paseto_audience": "orders"}))) as app:
        token = access_token(app.url)
        with resource_server(app.url, client=CLIENT, audience="orders") as orders:
            assert greeting(orders, token).status_code == 200
        with resource_server(app.url, client=CLIENT, audience="billing") as billing:
            assert greeting(billing, token).json()["code"] == "invalid_claims"
{%- if cookiecutter.paseto_purpose == "public" %}


def test_by_published_keys_tokens_pass_before_and_after_a_rotation(settings: Settings) -> None:
    port, old_key, new_key = free_port(), generate_key("public"), generate_key("public")
    service_app = example().create_resource_server(f"http://127.0.0.1:{port}")
    with run_server(service_app) as service:  # it runs on while the app restarts
        with serve(settings.model_copy(update={"paseto_key": SecretStr(old_key)}), port) as app:
            before = access_token(app.url)
            assert greeting(service, before).json() == {"hello": "alice"}
            assert service_app.state.checker.fetches == 1
        # rotate-keys: a new key signs, the old one verifies; the app restarts on the same address.
        keys = {"paseto_key": SecretStr(new_key), "paseto_previous_keys": [SecretStr(public_paserk(old_key))]}
        rotated = settings.model_copy(update=keys)
        with serve(rotated, port) as app:
            after = access_token(app.url)
            # An unknown kid: the service fetches the keys again, once its last fetch is REFETCH_SECONDS old.
            deadline = time.monotonic() + 60
            while (answer := greeting(service, after)).status_code != 200:
                assert answer.json()["code"] == "unknown_key" and time.monotonic() < deadline, answer.text
                time.sleep(0.2)
            assert answer.json() == {"hello": "alice"}
            assert greeting(service, before).json() == {"hello": "alice"}  # the retired key still verifies
            fetched = service_app.state.checker.fetches
            assert fetched == 2
            for _ in range(5):  # tokens of keys it will never learn do not make it fetch again and again
                assert greeting(service, foreign_access_token()).json()["code"] == "unknown_key"
            assert service_app.state.checker.fetches <= fetched + 1  # at most one fetch per REFETCH_SECONDS


def foreign_access_token() -> str:
    config = PasetoConfig(keys=KeyRing.from_paserk("public", generate_key("public")))
    return encode_token(config, subject="alice", token_type="access", expires_in=timedelta(minutes=5))


def test_by_published_keys_a_wrong_audience_is_refused(settings: Settings) -> None:
    with serve(settings.model_copy(update={"paseto_audience": "orders"})) as app:
        token = access_token(app.url)
        with resource_server(app.url, audience="billing") as billing:
            assert greeting(billing, token).json()["code"] == "invalid_claims"
        with resource_server(app.url, audience="orders") as orders:
            assert greeting(orders, token).json() == {"hello": "alice"}
{%- endif %}
