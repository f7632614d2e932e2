"""Logging: one handler for the app's loggers, plain text for people or JSON for log collectors.

Security events are one line each: a stable event name, then who, which session and from where.
Never a token, a key or a password: callers pass names and ids only.
"""

import json
import logging
import re
from typing import Any

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
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class RedactLinkTokens(logging.Filter):
    """uvicorn's access log writes each request's URL: the token of a one-time link (`?token=`) is cut out,
    and so are the code and state of a provider's callback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(arg, str) and _LINK_TOKEN.search(arg) for arg in record.args):
            record.args = tuple(_LINK_TOKEN.sub(r"\1[redacted]", arg) if isinstance(arg, str) else arg for arg in record.args)
        return True


def configure_logging(level: str, log_format: str) -> None:
    """Give the app's loggers their handler, and uvicorn's access log its redaction. Called by every create_app."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(_TEXT_FORMAT))
    logger = logging.getLogger(APP_LOGGER)
    logger.handlers = [handler]
    logger.setLevel(level)
    access_log = logging.getLogger("uvicorn.access")
    access_log.filters = [f for f in access_log.filters if not isinstance(f, RedactLinkTokens)] + [RedactLinkTokens()]


def _text(value: object) -> str:
    text = str(value)
    return text if _PLAIN_VALUE.fullmatch(text) else json.dumps(text)


def security_event(event: str, *, warning: bool = False, **fields: object) -> None:
    """Log `event=<name> user=... family=... client=...`; fields that are None are left out."""
    present = {name: value for name, value in fields.items() if value is not None}
    message = " ".join([f"event={event}", *(f"{name}={_text(value)}" for name, value in present.items())])
    security_log.log(logging.WARNING if warning else logging.INFO, message, extra={"fields": {"event": event, **present}})
