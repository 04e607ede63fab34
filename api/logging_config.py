"""Server logging that never writes a bearer token.

Uvicorn's access log prints each request's path with its query string, and its
websocket lines do the same, so the live channel's `?token=...` used to land in
the log in full. A filter on every handler (uvicorn's two and the root one for
Quire's own loggers) rewrites each record before it is formatted: query values
of `token` / `access_token`, `Bearer ...` credentials and anything shaped like a
Quire token (`qt_...`) become `[REDACTED]`.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

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


def uvicorn_log_config() -> dict[str, Any]:
    """Uvicorn's default logging configuration, with `RedactTokens` on every
    handler and Quire's own warnings through the same filtered handler."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact_tokens": {"()": RedactTokens}}
    for handler in config["handlers"].values():
        handler["filters"] = [*handler.get("filters", []), "redact_tokens"]
    config["root"] = {"handlers": ["default"], "level": "WARNING"}
    return config
