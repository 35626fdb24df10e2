"""What travels on the queue: an `Envelope` naming the feature that handles it, and how it dedupes and
supersedes.

The runtime knows no feature. It reads only the envelope's own fields:

- `feature` picks the handler on the worker;
- `dedupe_key` is what makes two deliveries the same work (by default the feature and GitHub's delivery id, so
  a redelivery is queued once per feature, and a delivery two features want is queued once for each);
- `supersede_key` + `version` say which work a newer push makes obsolete: a PR scan's key is the PR and its
  version the head SHA, so a newer head cancels an older scan. Work with no `supersede_key` (a slash-command)
  is never superseded. `version_order` (the payload's `updated_at`) and `version_before` (the push's `before`)
  order versions; only envelopes with `records_version` (deliveries that are authoritative about the newest
  version, e.g. `pull_request`) record one.

`pr_number` and `head_sha` are first-class because nearly every feature concerns one PR head and every log
line names them. Anything else a feature needs travels in `data` (flat strings: a Redis Stream entry holds
strings).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from types import MappingProxyType
from typing import Any, Protocol

#: prefix of a feature's own fields in a stream entry, so they never collide with the envelope's
DATA_PREFIX = "data."
#: the feature of a webhook delivery the receiver queued as it came, before any feature saw it
#: (`bot.runtime.deliveries` routes it)
DELIVERY_FEATURE = "delivery"
#: the feature of stream entries written before envelopes named one (they were all PR scans)
LEGACY_FEATURE = "scan"


@dataclass(frozen=True)
class Envelope:
    feature: str
    event: str
    action: str
    delivery_id: str
    installation_id: int
    owner: str
    repo: str
    pr_number: int = 0            # 0 = not known yet (e.g. a check suite from a fork): the feature maps it
    head_sha: str = ""
    dedupe_key: str = ""          # "" = "<feature>:<delivery_id>"
    supersede_key: str = ""       # "" = never superseded
    version: str = ""
    version_order: str = ""
    version_before: str = ""
    records_version: bool = False
    data: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    attempt: int = 1              # set by the queue from the stream's delivery count

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.repo}"

    @property
    def dedupe(self) -> str:
        return self.dedupe_key or f"{self.feature}:{self.delivery_id}"

    def get(self, key: str, default: str = "") -> str:
        """One of the feature's own fields."""
        return self.data.get(key, default)

    def log_context(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "event": f"{self.event}.{self.action}",
            "delivery": self.delivery_id,
            "repo": self.full_name,
            "pr": self.pr_number,
            "head_sha": self.head_sha,
        }

    def to_fields(self) -> dict[str, str]:
        """The stream entry's fields. Empty values (``""``, 0, False) are left out: `from_fields` reads them
        back as empty, and the receiver's entry (event, delivery id, body) stays a few arguments long."""
        out: dict[str, str] = {"feature": self.feature}
        for name in _FIELD_NAMES:
            value = getattr(self, name)
            if name == "data":
                out.update({f"{DATA_PREFIX}{k}": str(v) for k, v in value.items()})
            elif value is True:
                out[name] = "1"
            elif value:
                out[name] = value if isinstance(value, str) else str(value)
        return out

    @classmethod
    def from_fields(cls, raw: Mapping[str, str] | Mapping[bytes, bytes]) -> Envelope:
        """The envelope in a stream entry. Raises KeyError/ValueError/TypeError when it is not one.

        Entries written before envelopes existed (flat PR-scan jobs without `feature`) still parse: they are
        scans, and their extra fields (`base_ref`, …) land in `data`.
        """
        decoded = {_text(k): _text(v) for k, v in raw.items()}
        known = {f.name: f for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        data: dict[str, str] = {}
        for key, value in decoded.items():
            name = key.removeprefix(DATA_PREFIX)
            if key.startswith(DATA_PREFIX) or name not in known or name == "data":
                data[name] = value
            elif known[name].type in ("int", int):
                kwargs[name] = int(value)
            elif known[name].type in ("bool", bool):
                kwargs[name] = value not in ("", "0", "False", "false")
            else:
                kwargs[name] = value
        kwargs.setdefault("feature", LEGACY_FEATURE)
        if not kwargs.get("event") or not kwargs.get("delivery_id"):
            raise KeyError("not an envelope: no event or delivery_id")
        for name in _REQUIRED_TEXT:  # left out of the entry when empty (`to_fields`)
            kwargs.setdefault(name, "")
        for name in _REQUIRED_INT:
            kwargs.setdefault(name, 0)
        return cls(**kwargs, data=MappingProxyType(data))


#: the envelope's field names, once (`dataclasses.fields` builds them again on every call)
_FIELD_NAMES = tuple(f.name for f in fields(Envelope) if f.name != "feature")
_REQUIRED = [f for f in fields(Envelope) if f.default is MISSING and f.default_factory is MISSING]
_REQUIRED_TEXT = tuple(f.name for f in _REQUIRED if f.type in ("str", str) and f.name != "feature")
_REQUIRED_INT = tuple(f.name for f in _REQUIRED if f.type in ("int", int))


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


IsCurrent = Callable[[], Awaitable[bool]]


class Handler(Protocol):
    """What a worker does with one feature's envelopes. The runtime owns retries, reclaim and dead letters."""

    async def process(self, envelope: Envelope, is_current: IsCurrent) -> None:
        """Do the work. Raise to have it retried (the same envelope comes back with `attempt` + 1).

        `is_current()` says whether the envelope's version is still the newest for its `supersede_key`
        (always True for work that is never superseded); check it before posting results.
        """
        ...

    async def fail(self, envelope: Envelope, reason: str) -> None:
        """The runtime gave up (dead letter): leave nothing the feature started hanging (e.g. complete its
        check runs as `failure` saying how to retry)."""
        ...

    async def cancel(self, envelope: Envelope, newer_version: str) -> None:
        """A newer version superseded this envelope before it ran: close whatever it had opened."""
        ...
