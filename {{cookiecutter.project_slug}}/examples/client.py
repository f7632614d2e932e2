"""An API client for this app, on httpx2: how a program holds a session of the refresh-token pattern.

    uv run python examples/client.py http://127.0.0.1:8000 demo     # asks for the password
    uv run python examples/client.py http://127.0.0.1:8000 demo --watch --show-reuse

The first logs in, reads the account and logs out. `--watch` keeps calling `/protected` (every
`--every` seconds, for `--rounds` calls or until Ctrl-C) and says what happens as it happens: the access
token expiring, the refresh that spends the refresh token for a new pair, and with `--show-reuse` what
a thief's copy of a spent refresh token sets off. Serve the app with a short access token to see a
refresh within seconds: `{{ cookiecutter.package_name | upper }}_ACCESS_TOKEN_MINUTES=0.1` (6 s).

`PasetoAuth` is an `httpx2.Auth` for an `httpx2.Client`: it sends the access token with each request
and, when the server answers `401 token_expired`, renews the token and sends the request again, once.
It follows the rules every client of this app should follow:

- **Never keep the password.** A callback (`log_in`) is asked for credentials when a session is
  needed: at the start, and when the session has ended (it is told why). Nothing here holds the
  password once the login request is sent.
- **Never replay a spent refresh token.** A refresh spends its token; sending it again looks like theft
  and ends the session (`401 token_reused`). The one exception: when the answer to a refresh is lost
  on the way back, the client retries once with the same token, and logs that it does. With the
  server's grace period on (`{{ cookiecutter.package_name | upper }}_REFRESH_GRACE_SECONDS`) the retry gets a new pair; with it
  off, the retry is refused as `token_reused` and the client says the session ended and asks to log
  in again, never carrying on as if nothing happened.
- **Refresh once for every thread.** Threads that meet an expired token at the same time wait at a
  lock for one refresh; a thread that finds the token renewed while it waited uses the new one.
- **Keep tokens where only this program reads them.** Here, in memory. An app that stays logged in
  across restarts keeps the refresh token and the device token in the platform's secure storage
  (Keychain, Android Keystore, Windows Credential Locker), never in a plain file or a log.
- **Send the device token back.** A login returns a `device_token`; sent with the next login, it
  marks this client as a known device, which password guessing against the account does not slow down.
- **Log out with `POST /revoke`.** It takes the refresh token, so it works after the access token
  has expired.

Every refusal becomes an exception with the server's code: `LoginRefused`, `SessionEnded`, `Refused`.
"""

import argparse
import getpass
import hashlib
import logging
import sys
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import httpx2

log = logging.getLogger("example_client")
NO_AUTH = httpx2.Auth()  # for the token requests, which carry their own credentials


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)


class Refused(Exception):
    """The server said no: its `code` (`invalid_credentials`, `token_reused`, ...) and its `detail`."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code, self.detail = code, detail


class LoginRefused(Refused):
    """The login failed: `invalid_credentials`, `too_many_attempts`, `email_unverified`, ..."""


class SessionEnded(Refused):
    """The refresh was refused: the session is over (`token_reused`, `token_revoked`, `session_expired`,
    `token_expired`); only a new login goes on."""


class PasetoAuth(httpx2.Auth):
    requires_response_body = True  # the refusal's code is in the body

    def __init__(self, http: httpx2.Client, log_in: Callable[[SessionEnded | None], Credentials]) -> None:
        """`http` sends the token requests (login, refresh, revoke); `log_in` asks the user for credentials,
        told why the last session ended (None for the first login). To give up, it raises."""
        self._http, self._log_in = http, log_in
        self._lock = threading.Lock()
        self.access_token: str | None = None
        self.refresh_token: str | None = None
        self.device_token: str | None = None

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        token = self.access_token or self._renew(None)
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401 and _refusal(response)[0] in ("token_expired", "token_revoked"):
            request.headers["Authorization"] = f"Bearer {self._renew(token)}"
            yield request

    def refresh(self) -> None:
        """Refresh now, before the access token expires; a refusal raises SessionEnded (no new login is asked for)."""
        with self._lock:
            if self.refresh_token is None:
                raise SessionEnded("no_session", "Not logged in")
            self._refresh()

    def log_out(self) -> None:
        """End the session (RFC 7009 revocation, with the refresh token) and forget its tokens."""
        with self._lock:
            if self.refresh_token is not None:
                _ok(self._http.post("/revoke", data={"token": self.refresh_token}, auth=NO_AUTH))
            self.access_token = self.refresh_token = None

    def _renew(self, stale: str | None) -> str:
        """A new access token, made once for all the threads that ask with the same stale one."""
        with self._lock:
            if self.access_token in (stale, None):  # no other thread renewed it while this one waited
                if self.refresh_token is None:
                    self._start(None)
                else:
                    try:
                        self._refresh()
                    except SessionEnded as ended:
                        log.warning("The session ended (%s): a new login is needed", ended.code)
                        self._start(ended)
            assert self.access_token is not None
            return self.access_token

    def _start(self, ended: SessionEnded | None) -> None:
        credentials = self._log_in(ended)
        body = {"username": credentials.username, "password": credentials.password, "device_token": self.device_token}
        tokens = _ok(self._http.post("/login", json=body, auth=NO_AUTH), LoginRefused).json()
        self.access_token, self.refresh_token, self.device_token = tokens["access_token"], tokens["refresh_token"], tokens["device_token"]

    def _refresh(self) -> None:
        headers = {"Authorization": f"Bearer {self.refresh_token}"}
        try:
            response = self._http.post("/refresh", headers=headers, auth=NO_AUTH)
        except httpx2.TransportError as lost:  # the server may have spent the token: only its grace period takes it again
            log.warning("The answer to a refresh was lost (%s): retrying once with the same refresh token", type(lost).__name__)
            response = self._http.post("/refresh", headers=headers, auth=NO_AUTH)
        tokens = _ok(response, SessionEnded if response.status_code == 401 else Refused).json()
        self.access_token, self.refresh_token = tokens["access_token"], tokens["refresh_token"]


def _refusal(response: httpx2.Response) -> tuple[str, str]:
    """The refusal's code and detail (`{"detail": ..., "code": ...}` here; the status if the body says nothing)."""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    body = body if isinstance(body, dict) else {}
    return str(body.get("code", response.status_code)), str(body.get("detail", response.reason_phrase))


def _ok(response: httpx2.Response, refused: type[Refused] = Refused) -> httpx2.Response:
    """The response if it is a success; else its refusal, raised."""
    if response.is_success:
        return response
    raise refused(*_refusal(response))


def fingerprint(token: str) -> str:
    """A short name for a token, to tell tokens apart on screen: a token is a secret and is never printed."""
    return "#" + hashlib.sha256(token.encode()).hexdigest()[:6]


# Why the server refused, by its code: what a learner should take from each.
WHY = {
    "token_expired": "it has outlived its lifetime ({{ cookiecutter.package_name | upper }}_ACCESS_TOKEN_MINUTES; a refresh token's: {{ cookiecutter.package_name | upper }}_REFRESH_TOKEN_DAYS)",
    "token_revoked": "its session has been revoked (a logout, a reset, or a reuse)",
    "token_reused": "that refresh token was spent already: someone holds a copy, so the server revoked the whole session",
    "session_expired": "the session has reached its maximum age ({{ cookiecutter.package_name | upper }}_SESSION_MAX_DAYS)",
}


class Narrator:
    """Says what each exchange with the server means, for a person learning the pattern: an httpx2
    response hook, so it sees every request the client sends, the ones `PasetoAuth` makes on its own too."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self._say, self._started = say, time.monotonic()
        self._access_expires: dict[str, float] = {}  # fingerprint -> when it expires (this program's clock)

    def __call__(self, response: httpx2.Response) -> None:
        response.read()
        request, path = response.request, response.request.url.path
        sent = fingerprint(request.headers.get("Authorization", "").removeprefix("Bearer "))
        code, detail = ("", "") if response.is_success else _refusal(response)
        why = WHY.get(code, detail)
        if path in ("/login", "/refresh") and response.is_success:
            self._issued(path, sent, response.json())
        elif path in ("/login", "/refresh"):
            what = f"refresh token {sent}" if path == "/refresh" else "the login"
            self._line(f"POST {path} with {what} -> {response.status_code} {code}: {why}.")
        elif path == "/revoke":
            self._line(f"POST /revoke -> {response.status_code}: logged out; the session's refresh token is worth nothing now.")
        elif response.is_success:
            left = max(self._access_expires.get(sent, 0) - time.monotonic(), 0)
            self._line(f"{request.method} {path} -> {response.status_code} with access token {sent} (about {left:.0f} s left).")
        else:
            self._line(f"{request.method} {path} with access token {sent} -> {response.status_code} {code}: {why}.")
            if code in ("token_expired", "token_revoked"):
                self._line("  The client refreshes, once for all its threads, and sends the request again.")

    def _issued(self, path: str, sent: str, tokens: dict[str, Any]) -> None:
        access, refresh = fingerprint(tokens["access_token"]), fingerprint(tokens["refresh_token"])
        self._access_expires[access] = time.monotonic() + tokens["expires_in"]
        lives = _span(tokens["refresh_token_expires_in"])
        pair = f"access token {access} for {tokens['expires_in']} s, refresh token {refresh} for {lives}"
        if path == "/login":
            self._line(f"POST /login -> 200: logged in; a fresh {pair}. The password is not kept.")
        else:
            self._line(f"POST /refresh with refresh token {sent} -> 200: a new pair, {pair}.")
            self._line(f"  Refresh token {sent} is spent now: the server accepts only the newest of a session.")

    def _line(self, text: str) -> None:
        self._say(f"[{time.monotonic() - self._started:6.1f} s] {text}")


def _span(seconds: float) -> str:
    return f"{seconds / 86400:g} days" if seconds >= 86400 else f"{seconds:g} s"


def watch(http: httpx2.Client, auth: PasetoAuth, every: float, rounds: int | None, show_reuse: bool, say: Callable[[str], None]) -> None:
    """Call /protected every `every` seconds, `rounds` times (None: until Ctrl-C); then, if asked, show a reuse."""
    spent: str | None = None  # a copy of a spent refresh token, kept only to play the thief below
    done = 0
    try:
        while rounds is None or done < rounds:
            if done:
                time.sleep(every)
            before = auth.refresh_token
            _ok(http.get("/protected"))
            spent = before if before is not None and auth.refresh_token != before else spent
            done += 1
    except KeyboardInterrupt:  # Ctrl-C ends the watch, not the program: the reuse or the logout follows
        say("Stopped watching.")
    if not show_reuse:
        auth.log_out()
        return
    say("Now a thief replays a spent refresh token (one copied before it was used).")
    if spent is None:
        say("No refresh happened while watching: refreshing now, to have a spent token.")
        spent = auth.refresh_token
        auth.refresh()
    assert spent is not None
    http.post("/refresh", headers={"Authorization": f"Bearer {spent}"}, auth=NO_AUTH)  # the Narrator says what came back
    say("The client's own refresh token was never spent, yet its next refresh fails: the whole session is revoked.")
    try:
        auth.refresh()
    except SessionEnded as ended:
        say(f"The session is over ({ended.code}): the client would ask for the password again. That ends the demo.")
        return
    say("The refresh was accepted: is {{ cookiecutter.package_name | upper }}_REFRESH_GRACE_SECONDS on? A replay within it counts as a lost answer's retry.")
    auth.log_out()


def main(argv: list[str]) -> int:
    """Log in, read the account, log out (or `--watch`). A failure is one line on stderr, never a traceback."""
    parser = argparse.ArgumentParser(prog="client.py", description="A client of the refresh-token pattern.")
    parser.add_argument("url")
    parser.add_argument("username")
    parser.add_argument("--watch", action="store_true", help="keep calling /protected and say what happens")
    parser.add_argument("--every", type=float, default=2, metavar="SECONDS", help="--watch: seconds between calls (2)")
    parser.add_argument("--rounds", type=int, metavar="N", help="--watch: stop after N calls (default: at Ctrl-C)")
    parser.add_argument("--show-reuse", action="store_true", help="--watch: at the end, replay a spent refresh token")
    args = parser.parse_args(argv[1:])
    url, username = args.url, args.username

    def ask(ended: SessionEnded | None) -> Credentials:
        if ended is not None:
            print(f"The session ended ({ended.code}); log in again.", file=sys.stderr)
        return Credentials(username, getpass.getpass(f"Password for {username}: "))

    def say(line: str) -> None:
        print(line, flush=True)

    try:
        hooks: dict[str, list[Callable[..., Any]]] = {"response": [Narrator(say)]} if args.watch else {}
        with httpx2.Client(base_url=url, timeout=10, event_hooks=hooks) as http:
            auth = http.auth = PasetoAuth(http, ask)
            if args.watch:
                watch(http, auth, args.every, args.rounds, args.show_reuse, say)
            else:
                print(_ok(http.get("/users/me")).json())
                auth.log_out()
    except Refused as refused:
        print(f"Refused: {refused}", file=sys.stderr)
        return 1
    except (httpx2.HTTPError, httpx2.InvalidURL) as failed:
        print(f"{url}: {failed}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, EOFError):
        print(file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
