"""The HTTP edge, one plain ASGI middleware (Starlette's BaseHTTPMiddleware costs far more per request).

- Requests for a Host this app does not serve are refused (400 invalid_host) before anything runs, as
  are those with no valid Host or with two (RFC 9112 section 3.2: servers may disagree on which counts).
- A body over the limit is refused (413 body_too_large): before it is read when its length is
  declared, as soon as the limit is passed when it is not (chunked).
- Every response gets security headers: no sniffing, no framing, no referrer, a strict
  Content-Security-Policy (pages load only their own scripts and styles; nothing inline), HSTS when
  cookies are Secure, and `Cache-Control: no-store` on everything but static files, since almost
  every answer here carries a token or says something about a session.
"""

import json
import re
from collections.abc import Iterable

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
API_POLICY = "default-src 'none'; frame-ancestors 'none'"
STATIC_PREFIX = "/static/"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})  # a route that never reads its body cannot be flooded


class BodyTooLarge(HTTPException):
    """Raised while a body is read; FastAPI hands HTTPExceptions to the app's handler (413 body_too_large)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body may be at most {limit} bytes")


# A Host header: a name or IPv4 address, or an IPv6 address in brackets, then an optional port; nothing else.
_HOST = re.compile(r"(?:(?P<name>[a-z0-9._-]+)|\[(?P<ipv6>[0-9a-f:.]+)\])(?::[0-9]{1,5})?")


def _hostname(value: str) -> str | None:
    """`example.com:8000` -> `example.com`, `[::1]:8000` -> `::1`; None when it is no host name."""
    match = _HOST.fullmatch(value.strip().lower())
    return (match["name"] or match["ipv6"]) if match else None


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, *, trusted_hosts: Iterable[str], max_body_bytes: int, hsts: bool) -> None:
        self.app = app
        hosts = [host.lower() for host in trusted_hosts]
        self._any_host = "*" in hosts
        self._hosts = frozenset(host for host in hosts if not host.startswith("*"))
        self._host_suffixes = tuple(host[1:] for host in hosts if host.startswith("*."))
        self._max_body_bytes = max_body_bytes
        common = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"), (b"referrer-policy", b"no-referrer")]
        if hsts:
            common.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
        self._common_headers = common

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        hosts: list[str] = []
        length = b""
        for name, value in scope["headers"]:
            if name == b"host":
                hosts.append(value.decode("latin-1"))
            elif name == b"content-length":
                length = value
        static = scope["path"].startswith(STATIC_PREFIX)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = self._with_security_headers(message.get("headers", []), static)
            await send(message)

        limit = self._max_body_bytes
        if not self._host_allowed(hosts):
            await _refuse(send_with_headers, 400, "invalid_host", "This server does not answer to that host name")
        elif length and (not length.isdigit() or int(length) > limit):
            await _refuse(send_with_headers, 413, "body_too_large", BodyTooLarge(limit).detail)
        elif scope["method"] in BODY_METHODS:
            await self.app(scope, _limited(receive, limit), send_with_headers)
        else:
            await self.app(scope, receive, send_with_headers)

    def _host_allowed(self, hosts: list[str]) -> bool:
        if len(hosts) > 1:
            return False
        name = _hostname(hosts[0]) if hosts else None
        if self._any_host:
            return name is not None or not hosts  # "*": any valid name (HTTP/1.0 may send none)
        return name is not None and (name in self._hosts or (bool(self._host_suffixes) and name.endswith(self._host_suffixes)))

    def _with_security_headers(self, headers: list[tuple[bytes, bytes]], static: bool) -> list[tuple[bytes, bytes]]:
        present = {name.lower() for name, _ in headers}
        added = [header for header in self._common_headers if header[0] not in present]
        if b"content-security-policy" not in present:
            html = any(name.lower() == b"content-type" and value.startswith(b"text/html") for name, value in headers)
            added.append((b"content-security-policy", (PAGE_POLICY if html else API_POLICY).encode()))
        if not static and b"cache-control" not in present:
            added.append((b"cache-control", b"no-store"))
        return [*headers, *added]


def _limited(receive: Receive, limit: int) -> Receive:
    received = 0

    async def receive_within_limit() -> Message:
        nonlocal received
        message = await receive()
        received += len(message.get("body", b""))
        if received > limit:
            raise BodyTooLarge(limit)
        return message

    return receive_within_limit


async def _refuse(send: Send, status: int, code: str, detail: str) -> None:
    body = json.dumps({"detail": detail, "code": code}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
