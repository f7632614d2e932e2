"""examples/client.py against a live server: it logs in, and carries on through an access token's expiry."""

import importlib.util
import time
from datetime import datetime
from pathlib import Path
from types import ModuleType

import httpx2

from {{ cookiecutter.package_name }}.config import Settings

from .conftest import serve

CLIENT = Path(__file__).resolve().parents[1] / "examples" / "client.py"


def example_client() -> ModuleType:
    spec = importlib.util.spec_from_file_location("example_client", CLIENT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def wait_for_expiry(client: httpx2.Client, access_token: str) -> None:
    session = client.get("/session", headers={"Authorization": f"Bearer {access_token}"}, auth=None).json()
    time.sleep(max(0.0, datetime.fromisoformat(session["expires_at"]).timestamp() - time.time() + 1.05))


def test_the_example_client_refreshes_through_an_expiry(settings: Settings) -> None:
    with serve(settings.model_copy(update={"access_token_minutes": 2 / 60})) as server:
        auth = example_client().PasetoAuth(server.username, server.password)
        with httpx2.Client(base_url=server.url, auth=auth) as client:
            assert client.get("/users/me").json()["username"] == "alice"
            first_access, first_refresh = auth.access_token, auth.refresh_token
            wait_for_expiry(client, first_access)
            assert client.get("/protected").json() == {"user": "alice"}  # 401 token_expired, refresh, retry
            assert auth.refreshes == 1
            assert (auth.access_token, auth.refresh_token) != (first_access, first_refresh)
            expired = client.get("/protected", headers={"Authorization": f"Bearer {first_access}"}, auth=None)
            assert expired.json()["code"] == "token_expired"


def test_the_example_client_logs_in_again_when_its_refresh_token_has_expired(settings: Settings) -> None:
    lifetimes = {"access_token_minutes": 2 / 60, "refresh_token_days": 2 / 86400}  # both two seconds
    with serve(settings.model_copy(update=lifetimes)) as server:
        auth = example_client().PasetoAuth(server.username, server.password)
        with httpx2.Client(base_url=server.url, auth=auth) as client:
            client.get("/users/me")
            first_access = auth.access_token or ""
            wait_for_expiry(client, first_access)
            assert client.get("/users/me").status_code == 200  # token_expired; the refresh is refused too; a new login
            assert auth.refreshes == 0 and auth.access_token != first_access
