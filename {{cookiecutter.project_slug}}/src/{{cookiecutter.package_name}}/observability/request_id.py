"""Request IDs: each request's `X-Request-ID`, taken from the client or made here, answered back, and in its logs and trace.

An incoming ID is kept only if it is 1-128 printable ASCII characters without spaces (so it cannot
break a log line into fields or lines); anything else is replaced by a fresh one. Every log line
written while the request is handled carries it (logs.py reads `current_request_id`), uvicorn's access
line included, and so does the request's trace span.
"""

import os
import re
from collections.abc import Callable
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-request-id"
MAX_LENGTH = 128
_ACCEPTED = re.compile(rb"[\x21-\x7e]{1,%d}" % MAX_LENGTH)

# Set for the request's task, and never reset: the server runs each request in a task of its own, so
# the value ends with it, after its last log line (uvicorn's report of an unhandled error comes last).
current_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def _new_id() -> str:
    return os.urandom(16).hex()


class RequestIdMiddleware:
    """The outermost middleware: every answer, refusals at the edge included, carries the request's ID."""

    def __init__(self, app: ASGIApp, on_request_id: Callable[[str], None] | None = None) -> None:
        self.app = app
        self._on_request_id = on_request_id  # tracing: puts the ID on the request's span

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = None
        for name, value in scope["headers"]:
            if name == HEADER:
                request_id = value.decode("ascii") if _ACCEPTED.fullmatch(value) else None
                break
        request_id = request_id or _new_id()
        current_request_id.set(request_id)
        if self._on_request_id is not None:
            self._on_request_id(request_id)
        header = (HEADER, request_id.encode("ascii"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        await self.app(scope, receive, send_with_id)
