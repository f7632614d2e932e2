"""Logging: one handler for the app's loggers, plain text for people or JSON for log collectors.

Security events are one line each: a stable event name, then who, which session and from where.
Never a token, a key or a password: callers pass names and ids only.
A line written while a request is handled ends with its ID (`request_id=...`; a field in JSON), uvicorn's
access line included (observability/request_id.py).
"""

import json
import logging
import re
from typing import Any

from .observability.request_id import current_request_id

APP_LOGGER = "{{ cookiecutter.package_name }}"
security_log = logging.getLogger(f"{APP_LOGGER}.security")

_TEXT_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"
_PLAIN_VALUE = re.compile(r"[\w.:@/+-]+")  # anything else is quoted, so a value cannot forge a field
# A one-time link's token, and an OpenID Connect callback's code and state (federation/).
_LINK_TOKEN = re.compile(r"((?:^|[?&])(?:token|code|state)=)[^&\s]*")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if request_id := current_request_id.get():
            entry["request_id"] = request_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class WithRequestId(logging.Formatter):
    """Another formatter's line, ending with ` request_id=<id>` when written during a request."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        line = self.inner.format(record)
        request_id = current_request_id.get()
        return f"{line} request_id={request_id}" if request_id else line


class RedactLinkTokens(logging.Filter):
    """uvicorn's access log writes each request's URL: the token of a one-time link (`?token=`) is cut out,
    and so are the code and state of a provider's callback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(arg, str) and _LINK_TOKEN.search(arg) for arg in record.args):
            record.args = tuple(_LINK_TOKEN.sub(r"\1[redacted]", arg) if isinstance(arg, str) else arg for arg in record.args)
        return True


def configure_logging(level: str, log_format: str) -> None:
    """Give the app's loggers their handler, uvicorn's access log its redaction, and uvicorn's lines the request ID.
    Called by every create_app (uvicorn has set up its own logging by then)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else WithRequestId(logging.Formatter(_TEXT_FORMAT)))
    logger = logging.getLogger(APP_LOGGER)
    logger.handlers = [handler]
    logger.setLevel(level)
    access_log = logging.getLogger("uvicorn.access")
    access_log.filters = [f for f in access_log.filters if not isinstance(f, RedactLinkTokens)] + [RedactLinkTokens()]
    for name in ("uvicorn", "uvicorn.access"):  # uvicorn's own handlers (uvicorn.error writes through the first)
        for uvicorn_handler in logging.getLogger(name).handlers:
            if uvicorn_handler.formatter is not None and not isinstance(uvicorn_handler.formatter, WithRequestId):
                uvicorn_handler.setFormatter(WithRequestId(uvicorn_handler.formatter))


def _text(value: object) -> str:
    text = str(value)
    return text if _PLAIN_VALUE.fullmatch(text) else json.dumps(text)


def security_event(event: str, *, warning: bool = False, **fields: object) -> None:
    """Log `event=<name> user=... family=... client=...`; fields that are None are left out."""
    present = {name: value for name, value in fields.items() if value is not None}
    message = " ".join([f"event={event}", *(f"{name}={_text(value)}" for name, value in present.items())])
    security_log.log(logging.WARNING if warning else logging.INFO, message, extra={"fields": {"event": event, **present}})
