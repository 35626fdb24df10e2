"""A stream entry as a worker reads it: its id, its fields, how many times it was delivered, and the envelope
those fields form (bot/runtime/queue.py reads entries; bot/runtime/worker.py runs them)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from bot.runtime.envelope import Envelope


def as_str(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _lenient(value: Any) -> str:
    return value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) else str(value)


@dataclass
class Entry:
    """One stream entry. `envelope` is None when the fields do not form one (dead-lettered unprocessed)."""

    entry_id: str
    fields: dict[str, str]
    attempts: int = 1                    # deliveries so far, this one included (XPENDING times_delivered)
    envelope: Envelope | None = field(default=None)

    @classmethod
    def parse(cls, entry_id: Any, raw: dict[Any, Any], attempts: int = 1) -> Entry:
        """Never raises: one poison entry (say, bytes that are not UTF-8) must not take the other entries of
        its batch down with it, or every later XAUTOCLAIM sweep, which returns it first, would fail too."""
        try:
            data = {as_str(k): as_str(v) for k, v in (raw or {}).items()}
        except UnicodeDecodeError:
            data = {_lenient(k): _lenient(v) for k, v in (raw or {}).items()}
            return cls(as_str(entry_id), data, attempts, None)
        try:
            envelope: Envelope | None = dataclasses.replace(Envelope.from_fields(data), attempt=attempts)
        except (KeyError, TypeError, ValueError):
            envelope = None
        return cls(as_str(entry_id), data, attempts, envelope)
