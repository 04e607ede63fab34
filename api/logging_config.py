"""Server logging that never writes a bearer token.

Uvicorn's access log prints each request's path with its query string, and its
websocket lines do the same, so the live channel's `?token=...` used to land in
the log in full. A filter on every handler (uvicorn's two and the root one for
Quire's own loggers) rewrites each record before it is formatted: query values
of `token` / `access_token`, `Bearer ...` credentials and anything shaped like a
Quire token (`qt_...`) become `[REDACTED]`.

`QUIRE_LOG_FORMAT=json` writes every line (uvicorn's access and error logs,
Quire's own loggers) as one JSON object: `time`, `level`, `logger`,
`message`, `request_id` (api/request_id.py; null outside a request), and for
access lines `client`, `method`, `path`, `status`; an exception's traceback
goes in `exc`. Tokens are redacted before the object is encoded. `text` (the
default) keeps uvicorn's lines and adds the request id to Quire's own.
"""

from __future__ import annotations

import copy
import json
import logging
import logging.config
import re
from datetime import UTC, datetime
from typing import Any

from api.request_id import current_request_id

REDACTED = "[REDACTED]"

_PATTERNS = (
    # ?token=... / &access_token=... (up to the next & or the end of the value)
    (re.compile(r"(?i)([?&;](?:access_)?token=)[^&;\s\"']*"), rf"\g<1>{REDACTED}"),
    (re.compile(r"(?i)(\bbearer\s+)[^\s\"',]+"), rf"\g<1>{REDACTED}"),
    (re.compile(r"\bqt_[A-Za-z0-9_-]{8,}"), REDACTED),
)


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bytes):
        return redact(value.decode("latin-1")).encode("latin-1")
    return value


class RedactTokens(logging.Filter):
    """Rewrites a record's message and arguments; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _redacted(v) for k, v in record.args.items()}
        return True


class RequestIdFilter(logging.Filter):
    """Adds the current request's id (or None) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = current_request_id.get() or None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line; every string in it already redacted."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            "request_id": getattr(record, "request_id", None),
        }
        if record.name == "uvicorn.access" and isinstance(record.args, tuple):
            args = record.args
            if len(args) == 5:
                client, method, path, _version, status = args
                line.update(
                    client=client, method=method, path=redact(str(path)), status=status
                )
        if record.exc_info:
            line["exc"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            line["exc"] = redact(record.exc_text)
        return json.dumps(line, ensure_ascii=False, default=str)


#: Quire's own loggers: INFO and above (the live channel's socket lines).
QUIRE_LOGGERS = ("api", "projections", "release", "workspace")


def uvicorn_log_config(log_format: str = "text") -> dict[str, Any]:
    """Uvicorn's default logging configuration, with `RedactTokens` and the
    request id on every handler and Quire's own loggers through the same
    filtered handler; `log_format="json"` formats every line as JSON."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {
        "redact_tokens": {"()": RedactTokens},
        "request_id": {"()": RequestIdFilter},
    }
    for handler in config["handlers"].values():
        handler["filters"] = [
            *handler.get("filters", []),
            "redact_tokens",
            "request_id",
        ]
    if log_format == "json":
        config["formatters"]["json"] = {"()": JsonFormatter}
        for handler in config["handlers"].values():
            handler["formatter"] = "json"
    else:
        config["formatters"]["quire"] = {
            "()": "uvicorn.logging.DefaultFormatter",
            "fmt": "%(levelprefix)s %(name)s [%(request_id)s] %(message)s",
            "use_colors": None,
        }
        config["handlers"]["quire"] = {
            "formatter": "quire",
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
            "filters": ["redact_tokens", "request_id"],
        }
    handler = "default" if log_format == "json" else "quire"
    config["root"] = {"handlers": [handler], "level": "WARNING"}
    for name in QUIRE_LOGGERS:
        config["loggers"][name] = {
            "handlers": [handler],
            "level": "INFO",
            "propagate": False,
        }
    return config


def configure(log_format: str = "text") -> None:
    """The same configuration for processes without uvicorn (`quire worker`)."""
    logging.config.dictConfig(uvicorn_log_config(log_format))
