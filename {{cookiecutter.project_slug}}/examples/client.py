"""An API client that does the refresh-token pattern for you, on httpx2 (the HTTP library the project uses).

    uv run python examples/client.py http://127.0.0.1:8000 demo     # asks for the password

`PasetoAuth` is an `httpx2.Auth`: it logs in on the first request, sends the access token with each
one, and when the server answers `401 token_expired` it spends the refresh token for a new pair and
sends the request again, once. A refresh token is single-use: if a refresh's answer is lost, retrying
it looks like theft and ends the session (unless the server allows a grace period,
{{ cookiecutter.package_name | upper }}_REFRESH_GRACE_SECONDS), so this client never retries a refresh by itself; it logs in again instead.
"""

import getpass
import sys
from collections.abc import Generator

import httpx2


class PasetoAuth(httpx2.Auth):
    requires_response_body = True  # the error code is in the body

    def __init__(self, username: str, password: str) -> None:
        self._credentials = {"username": username, "password": password}
        self.access_token: str | None = None
        self.refresh_token: str | None = None
        self.refreshes = 0  # how many times an expired access token was renewed

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        if self.access_token is None:
            yield from self._log_in(request)
        request.headers["Authorization"] = f"Bearer {self.access_token}"
        response = yield request
        if response.status_code == 401 and _code(response) == "token_expired":
            yield from self._refresh(request)
            request.headers["Authorization"] = f"Bearer {self.access_token}"
            yield request

    def _log_in(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        response = yield httpx2.Request("POST", request.url.join("/login"), json=self._credentials)
        self._keep(response)

    def _refresh(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        headers = {"Authorization": f"Bearer {self.refresh_token}"}
        response = yield httpx2.Request("POST", request.url.join("/refresh"), headers=headers)
        if response.status_code == 401:  # the session ended (logged out, revoked, expired): start a new one
            yield from self._log_in(request)
            return
        self._keep(response)
        self.refreshes += 1

    def _keep(self, response: httpx2.Response) -> None:
        response.raise_for_status()
        tokens = response.json()
        self.access_token, self.refresh_token = tokens["access_token"], tokens["refresh_token"]


def _code(response: httpx2.Response) -> str | None:
    try:
        code = response.json().get("code")
    except ValueError:
        return None
    return code if isinstance(code, str) else None


def main() -> None:
    base_url, username = sys.argv[1], sys.argv[2]
    with httpx2.Client(base_url=base_url, auth=PasetoAuth(username, getpass.getpass())) as client:
        print(client.get("/users/me").json())
        print(client.get("/protected").json())


if __name__ == "__main__":
    main()
