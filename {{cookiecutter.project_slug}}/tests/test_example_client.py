"""examples/client.py against a live server: expiry, single-flight refresh, lost answers, refusals, logout.

The server runs in this process, on the frozen clock (the `clock` fixture): its tokens expire when the
test moves the clock past them, and the tokens it issues after that live their whole lifetime however
slow the machine. Refreshes are counted from the app's security events, as the server saw them.
"""

import gc
import importlib.util
import json
import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx2
import pytest

from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.logs import APP_LOGGER

from .conftest import Clock, LiveServer, all_at_once, serve

CLIENT = Path(__file__).resolve().parents[1] / "examples" / "client.py"


def example_client() -> ModuleType:
    spec = importlib.util.spec_from_file_location("example_client", CLIENT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


example = example_client()


class Prompt:
    """The log-in callback, standing for a person at a password prompt: it records why it was asked."""

    def __init__(self, server: LiveServer, password: str | None = None, *, give_up: bool = False) -> None:
        self.username, self.password, self.give_up = server.username, password or server.password, give_up
        self.reasons: list[str | None] = []

    def __call__(self, ended: Any) -> Any:
        self.reasons.append(None if ended is None else ended.code)
        if ended is not None and self.give_up:
            raise ended
        return example.Credentials(self.username, self.password)


class LoseRefreshAnswers(httpx2.BaseTransport):
    """A network that drops the answer of the first `lose` refreshes after the server has sent it."""

    def __init__(self, lose: int = 1) -> None:
        self._network, self.lose, self.lost = httpx2.HTTPTransport(), lose, 0

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        response = self._network.handle_request(request)
        if request.url.path == "/refresh" and self.lost < self.lose:
            response.read()  # the server has spent the token and answered...
            response.close()
            self.lost += 1
            raise httpx2.ReadError("connection reset", request=request)  # ...and the answer never arrives
        return response

    def close(self) -> None:
        self._network.close()


def events(caplog: pytest.LogCaptureFixture, name: str) -> int:
    """How many security events of this name the server logged."""
    return sum(1 for record in caplog.records if getattr(record, "fields", {}).get("event") == name)


def move_past_expiry(client: httpx2.Client, access_token: str | None, clock: Clock) -> None:
    """Move the clock a second past the access token's expiry, as the server tells it (GET /session)."""
    session = client.get("/session", headers={"Authorization": f"Bearer {access_token}"}, auth=None).json()
    left = (datetime.fromisoformat(session["expires_at"]) - clock.now()).total_seconds()
    assert left > 0, session
    clock.move(seconds=left + 1)


def connect(server: LiveServer, prompt: Prompt, **options: Any) -> tuple[httpx2.Client, Any]:
    client = httpx2.Client(base_url=server.url, timeout=60, **options)
    client.auth = auth = example.PasetoAuth(client, prompt)
    return client, auth


@pytest.fixture(autouse=True)
def _security_events(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)


def test_the_example_client_refreshes_through_an_expiry(settings: Settings, clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    with serve(settings.model_copy(update={"access_token_minutes": 1})) as server:
        prompt = Prompt(server)
        client, auth = connect(server, prompt)
        with client:
            assert client.get("/users/me").json()["username"] == "alice"
            first_access, first_refresh = auth.access_token, auth.refresh_token
            move_past_expiry(client, first_access, clock)
            assert client.get("/protected").json() == {"user": "alice"}  # 401 token_expired, refresh, retry
            assert events(caplog, "refresh") == 1 and prompt.reasons == [None]  # one login, one refresh
            assert auth.access_token != first_access and auth.refresh_token != first_refresh
            expired = client.get("/protected", headers={"Authorization": f"Bearer {first_access}"}, auth=None)
            assert expired.json()["code"] == "token_expired"


def test_an_ended_session_logs_in_again_as_a_known_device(settings: Settings, clock: Clock) -> None:
    """The refresh token has expired too: the callback is asked again, told why, and the login sends back the device token."""
    lifetimes = {"access_token_minutes": 1, "refresh_token_days": 1 / 1440}  # both a minute
    with serve(settings.model_copy(update=lifetimes)) as server:
        logins: list[bytes] = []
        prompt = Prompt(server)
        hooks = {"request": [lambda request: logins.append(request.content) if request.url.path == "/login" else None]}
        client, auth = connect(server, prompt, event_hooks=hooks)
        with client:
            client.get("/users/me")
            first_access, device_token = auth.access_token, auth.device_token
            move_past_expiry(client, first_access, clock)
            assert client.get("/users/me").status_code == 200  # token_expired; the refresh is refused too; a new login
            assert prompt.reasons == [None, "token_expired"] and auth.access_token != first_access
            sent = [json.loads(body)["device_token"] for body in logins]
            assert device_token and sent == [None, device_token]


def test_threads_meeting_an_expired_token_refresh_once(settings: Settings, clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    with serve(settings.model_copy(update={"access_token_minutes": 1})) as server:
        client, auth = connect(server, Prompt(server))
        with client:
            client.get("/users/me")
            move_past_expiry(client, auth.access_token, clock)
            answers = all_at_once([lambda: client.get("/protected") for _ in range(8)])
            assert [answer.status_code for answer in answers] == [200] * 8
            assert events(caplog, "refresh") == 1 and events(caplog, "refresh_token_reused") == 0


def test_a_lost_refresh_answer_is_retried_within_the_grace_period(
    settings: Settings, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    with serve(settings.model_copy(update={"access_token_minutes": 1, "refresh_grace_seconds": 10})) as server:
        network, prompt = LoseRefreshAnswers(), Prompt(server)
        client, auth = connect(server, prompt, transport=network)
        with client:
            client.get("/users/me")
            move_past_expiry(client, auth.access_token, clock)
            assert client.get("/protected").status_code == 200  # refresh (answer lost), the same refresh again, retry
            assert network.lost == 1 and events(caplog, "refresh") == 2 and events(caplog, "refresh_token_reused") == 0
            assert any("retrying once" in record.getMessage() for record in caplog.records if record.name == "example_client")
            move_past_expiry(client, auth.access_token, clock)  # the session is intact: the retry's token refreshes
            assert client.get("/protected").status_code == 200
            assert events(caplog, "refresh") == 3 and prompt.reasons == [None]


@pytest.mark.parametrize("give_up", [False, True], ids=["logs-in-again", "gives-up"])
def test_a_lost_answer_without_grace_ends_the_session_and_says_so(
    settings: Settings, clock: Clock, caplog: pytest.LogCaptureFixture, give_up: bool
) -> None:
    with serve(settings.model_copy(update={"access_token_minutes": 1})) as server:
        prompt = Prompt(server, give_up=give_up)
        client, auth = connect(server, prompt, transport=LoseRefreshAnswers())
        with client:
            client.get("/users/me")
            move_past_expiry(client, auth.access_token, clock)
            if give_up:
                with pytest.raises(example.SessionEnded) as ended:
                    client.get("/protected")
                assert ended.value.code == "token_reused"
            else:
                assert client.get("/protected").status_code == 200  # retried, refused, logged in again
            assert prompt.reasons == [None, "token_reused"]  # the callback was told why
            assert events(caplog, "refresh_token_reused") == 1
            assert any("ended (token_reused)" in record.getMessage() for record in caplog.records if record.name == "example_client")


def test_a_wrong_password_is_a_clear_refusal(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with serve(settings) as server:
        client, _ = connect(server, Prompt(server, "not the password"))
        with client, pytest.raises(example.LoginRefused) as refused:
            client.get("/users/me")
        assert refused.value.code == "invalid_credentials"

        monkeypatch.setattr(example.getpass, "getpass", lambda prompt="": "not the password")
        assert example.main(["client.py", server.url, server.username]) == 1
        out, err = capsys.readouterr()
        said = [line for line in err.splitlines() if f"{APP_LOGGER}." not in line]  # the server, in this process, logs there too
        assert not out and said == ["Refused: invalid_credentials: Incorrect username or password"]

        monkeypatch.setattr(example.getpass, "getpass", lambda prompt="": server.password)
        assert example.main(["client.py", server.url, server.username]) == 0  # logs in, reads the account, logs out
        assert "'username': 'alice'" in capsys.readouterr().out


def test_log_out_revokes_the_session_even_with_an_expired_access_token(
    settings: Settings, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    with serve(settings.model_copy(update={"access_token_minutes": 1})) as server:
        client, auth = connect(server, Prompt(server))
        with client:
            client.get("/users/me")
            move_past_expiry(client, auth.access_token, clock)
            refresh_token = auth.refresh_token
            auth.log_out()  # POST /revoke with the refresh token: no refresh first
            assert events(caplog, "token_revoked") == 1 and events(caplog, "refresh") == 0
            assert auth.access_token is None and auth.refresh_token is None
            refused = client.post("/refresh", headers={"Authorization": f"Bearer {refresh_token}"}, auth=example.NO_AUTH)
            assert refused.status_code == 401 and refused.json()["code"] == "token_revoked"


def held_by(root: object) -> Iterator[object]:
    """Every object `root` holds through attributes and containers, its HTTP client included; not code
    (functions, methods, classes, modules, callables such as the log-in callback, which is the app's)."""
    seen, todo = set(), [root]
    while todo:
        item = todo.pop()
        if id(item) in seen or (item is not root and callable(item)) or isinstance(item, ModuleType):
            continue
        seen.add(id(item))
        yield item
        todo.extend(gc.get_referents(item))


def test_the_client_never_keeps_the_password(settings: Settings, clock: Clock) -> None:
    lifetimes = {"access_token_minutes": 1, "refresh_token_days": 1 / 1440}
    with serve(settings.model_copy(update=lifetimes)) as server:
        client, auth = connect(server, Prompt(server))
        with client:
            client.get("/users/me")
            move_past_expiry(client, auth.access_token, clock)
            client.get("/users/me")  # a second login
            held = list(held_by(auth))
            assert auth.device_token in held and auth.refresh_token in held
            secret = server.password
            assert not [item for item in held if isinstance(item, str) and secret in item]
            assert not [item for item in held if isinstance(item, bytes | bytearray) and secret.encode() in item]


def test_watch_shows_a_refresh_and_a_reuse_as_they_happen(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """`--watch` on the real clock: an access token of 2 s, a call a second for 5 calls, so the last call comes
    after the first token's expiry whatever the machine's speed; then the replay of the spent refresh token."""
    with serve(settings.model_copy(update={"access_token_minutes": 2 / 60})) as server:
        monkeypatch.setattr(example.getpass, "getpass", lambda prompt="": server.password)
        argv = ["client.py", server.url, server.username, "--watch", "--every", "1", "--rounds", "5", "--show-reuse"]
        assert example.main(argv) == 0
    out = capsys.readouterr().out
    said = [line.split("] ", 1)[1] for line in out.splitlines() if line.startswith("[")]
    assert said[0].startswith("POST /login -> 200: logged in"), out
    expired = next(i for i, line in enumerate(said) if line.startswith("GET /protected") and "401 token_expired" in line)
    refreshed = said[expired + 2]  # the 401, what the client does about it, the refresh
    assert refreshed.startswith("POST /refresh with refresh token #") and "-> 200: a new pair" in refreshed, out
    assert said[expired + 4].startswith("GET /protected -> 200"), out  # the same request, sent again
    replay, next_refresh = [line for line in said if line.startswith("POST /refresh") and "-> 401" in line]
    assert "401 token_reused: that refresh token was spent already" in replay, out
    assert "401 token_revoked" in next_refresh, out
    assert "The session is over (token_revoked)" in out
    assert events(caplog, "refresh_token_reused") == 1
    tokens = [word for line in said for word in line.split() if word.startswith("#")]
    assert server.password not in out and len(set(tokens)) >= 4, "fingerprints, never a token or the password"
