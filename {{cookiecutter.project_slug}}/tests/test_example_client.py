"""examples/client.py against a live server: it logs in, and carries on through an access token's expiry.

The server runs in this process, on the frozen clock (the `clock` fixture): its tokens expire when the
test moves the clock past them, and the tokens it issues after that live their whole lifetime however
slow the machine.
"""

import importlib.util
from datetime import datetime
from pathlib import Path
from types import ModuleType

import httpx2

from {{ cookiecutter.package_name }}.config import Settings

from .conftest import Clock, serve

CLIENT = Path(__file__).resolve().parents[1] / "examples" / "client.py"


def example_client() -> ModuleType:
    spec = importlib.util.spec_from_file_location("example_client", CLIENT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def move_past_expiry(client: httpx2.Client, access_token: str, clock: Clock) -> None:
    """Move the clock a second past the access token's expiry, as the server tells it (GET /session)."""
    session = client.get("/session", headers={"Authorization": f"Bearer {access_token}"}, auth=None).json()
    left = (datetime.fromisoformat(session["expires_at"]) - clock.now()).total_seconds()
    assert left > 0, session
    clock.move(seconds=left + 1)


def test_the_example_client_refreshes_through_an_expiry(settings: Settings, clock: Clock) -> None:
    with serve(settings.model_copy(update={"access_token_minutes": 1})) as server:
        auth = example_client().PasetoAuth(server.username, server.password)
        with httpx2.Client(base_url=server.url, auth=auth, timeout=60) as client:
            assert client.get("/users/me").json()["username"] == "alice"
            first_access, first_refresh = auth.access_token, auth.refresh_token
            move_past_expiry(client, first_access, clock)
            assert client.get("/protected").json() == {"user": "alice"}  # 401 token_expired, refresh, retry
            assert auth.refreshes == 1
            assert (auth.access_token, auth.refresh_token) != (first_access, first_refresh)
            expired = client.get("/protected", headers={"Authorization": f"Bearer {first_access}"}, auth=None)
            assert expired.json()["code"] == "token_expired"


def test_the_example_client_logs_in_again_when_its_refresh_token_has_expired(settings: Settings, clock: Clock) -> None:
    lifetimes = {"access_token_minutes": 1, "refresh_token_days": 1 / 1440}  # both a minute
    with serve(settings.model_copy(update=lifetimes)) as server:
        auth = example_client().PasetoAuth(server.username, server.password)
        with httpx2.Client(base_url=server.url, auth=auth, timeout=60) as client:
            client.get("/users/me")
            first_access = auth.access_token or ""
            move_past_expiry(client, first_access, clock)
            assert client.get("/users/me").status_code == 200  # token_expired; the refresh is refused too; a new login
            assert auth.refreshes == 0 and auth.access_token != first_access
