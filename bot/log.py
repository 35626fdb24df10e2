"""Structured logs: one JSON object per line, with secrets scrubbed before anything is written.

Every log call passes its context (event, delivery, repo, pr, head_sha, …) as keyword fields. Values that must
never appear (the webhook secret, the private key, installation tokens, secrets found by a scan) are
registered with `add_sensitive` and replaced in every record, whatever logged them.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from typing import Any

from checks.redact import redact

#: values never to be logged -> the same value as it appears inside a JSON string (`"` `\\` and non-ASCII
#: escaped), since log lines are scrubbed after serialisation; insertion-ordered so short-lived ones
#: (installation tokens) can be evicted
_sensitive: dict[str, str] = {}
#: values registered with `pinned=True` (webhook secret, private key): never evicted
_pinned: set[str] = set()
#: bound on remembered short-lived (unpinned) values: tokens live an hour, so a long-running worker
#: would otherwise grow the list (and the cost of every log line) forever
MAX_SENSITIVE = 512
_lock = threading.Lock()


def add_sensitive(*values: str | None, pinned: bool = False) -> None:
    """Register values that must never be logged (ignores short values to avoid scrubbing common words).

    `pinned` values (configuration secrets) stay for the process's life; others are forgotten oldest-first
    beyond `MAX_SENSITIVE`, which is safe for installation tokens that expire within the hour.
    """
    with _lock:
        for value in values:
            if not value or len(value) < 8:
                continue
            parts = [value]
            # a PEM key is also logged line by line in tracebacks: register each long line
            parts += [line.strip() for line in value.splitlines() if len(line.strip()) >= 16]
            for part in parts:
                _sensitive.pop(part, None)
                _sensitive[part] = _json_escaped(part)
                if pinned:
                    _pinned.add(part)
        transient = [v for v in _sensitive if v not in _pinned]
        for old in transient[: max(0, len(transient) - MAX_SENSITIVE)]:
            del _sensitive[old]


def _json_escaped(value: str) -> str:
    return json.dumps(value)[1:-1]


def scrub(text: str) -> str:
    """`text` with every registered value redacted, whether it appears raw or escaped in a JSON string."""
    if not _sensitive:
        return text
    with _lock:
        values = sorted(_sensitive.items(), key=lambda item: len(item[0]), reverse=True)
    for value, escaped in values:
        if value in text:
            text = text.replace(value, redact(value))
        if escaped != value and escaped in text:
            text = text.replace(escaped, _json_escaped(redact(value)))
    return text


class JsonFormatter(logging.Formatter):
    _reserved = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in self._reserved and not key.startswith("_"):
                # `event` names the log line; a job's GitHub event (`Job.log_context()`) is kept beside it
                payload["github_event" if key == "event" else key] = value
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return scrub(json.dumps(payload, default=str))


_RECORD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class Logger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """`log.info("job.done", repo=..., pr=...)`: keyword arguments become JSON fields."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        std = {k: kwargs.pop(k) for k in ("exc_info", "stack_info", "stacklevel") if k in kwargs}
        extra = dict(self.extra or {})
        extra.update(kwargs)
        # `logging` raises KeyError for a field named like a LogRecord attribute (name, message, args...):
        # a log call must never be what fails a job, so such a field gets a trailing underscore instead
        for key in [k for k in extra if k in _RECORD_ATTRS]:
            extra[f"{key}_"] = extra.pop(key)
        std["extra"] = extra
        return msg, std


def get_logger(name: str, **context: Any) -> Logger:
    return Logger(logging.getLogger(name), context)


def configure(level: str = "INFO") -> None:
    """Send JSON lines to stderr at `level` (the `PRGUARD_LOG_LEVEL` setting)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request URL at INFO; keep it at WARNING unless we are debugging
    logging.getLogger("httpx").setLevel(logging.DEBUG if level.upper() == "DEBUG" else logging.WARNING)
