"""An API client for this app, on httpx2: how a program holds a session of the refresh-token pattern.

    uv run python examples/client.py http://127.0.0.1:8000 demo     # asks for the password

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

import getpass
import logging
import sys
import threading
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
                        log.warning("The session ended (%s): logging in again", ended.code)
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


def main(argv: list[str]) -> int:
    """Log in, read the account, log out. A failure is one line on stderr, never a traceback."""
    if len(argv) != 3:
        print("usage: client.py URL USERNAME", file=sys.stderr)
        return 2
    url, username = argv[1], argv[2]

    def ask(ended: SessionEnded | None) -> Credentials:
        if ended is not None:
            print(f"The session ended ({ended.code}); log in again.", file=sys.stderr)
        return Credentials(username, getpass.getpass(f"Password for {username}: "))

    try:
        with httpx2.Client(base_url=url, timeout=10) as http:
            auth = http.auth = PasetoAuth(http, ask)
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
