"""The event router: which feature wants a delivery, as bedevere's routers and Probot's `app.on(...)` do.

A feature declares the `(event, action)` pairs it handles and turns a delivery into an `Envelope` without any
I/O (a worker routes each queued delivery with it, `bot.runtime.deliveries`, as one short job); the worker
later hands each envelope to that feature's `Handler`. Adding a feature is one class and one line in
`bot.features.FEATURES`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Protocol

from bot.log import get_logger
from bot.runtime.envelope import Envelope, Handler
from bot.runtime.scheduler import PeriodicTask

#: in `Feature.events`, stands for every action of an event
ANY_ACTION = "*"

log = get_logger("prguard.router")


class Feature(Protocol):
    #: short id carried by its envelopes (`Envelope.feature`) and used in logs
    name: str
    #: event -> the actions it handles (`ANY_ACTION` for all)
    events: Mapping[str, frozenset[str]]

    def envelopes(self, event: str, delivery_id: str, payload: dict[str, Any]) -> list[Envelope]:
        """The work this delivery asks of the feature (often one envelope, or none). No I/O: payload only.

        May raise KeyError/TypeError/ValueError on a payload of an unexpected shape (the delivery is then
        unroutable: logged and counted, never retried).
        """
        ...

    def handler(self, services: Any) -> Handler:
        """The worker-side object doing the work, built once per worker process with its services."""
        ...

    def periodic(self, services: Any) -> list[PeriodicTask]:
        """Periodic work the feature needs (reconcile, refreshes); usually none."""
        ...


class Router:
    """Features by the events they handle."""

    def __init__(self, features: Iterable[Feature]) -> None:
        self.features: dict[str, Feature] = {}
        for feature in features:
            if feature.name in self.features:
                raise ValueError(f"two features are called {feature.name!r}")
            self.features[feature.name] = feature

    def wants(self, event: str, action: str) -> list[Feature]:
        """The features that handle `event.action`, in registration order."""
        return [
            f for f in self.features.values()
            if action in f.events.get(event, ()) or ANY_ACTION in f.events.get(event, ())
        ]

    def route(self, event: str, delivery_id: str, payload: dict[str, Any]) -> list[Envelope]:
        """Every envelope the delivery asks for, across features; empty when prguard has nothing to do.

        One feature that cannot read the payload must not cost the others their work (GitHub never retries
        a 4xx): its error is logged and the other features' envelopes are kept. Only when every interested
        feature failed does the error propagate (the delivery is unroutable).
        """
        action = payload.get("action")
        action = action if isinstance(action, str) else ""
        out: list[Envelope] = []
        failed: list[Exception] = []
        for feature in self.wants(event, action):
            try:
                envelopes = feature.envelopes(event, delivery_id, payload)
            except Exception as exc:  # a feature's bug or an odd payload: isolate it, say so
                # no traceback: the payload is unauthenticated-shaped data; the type and place are enough
                log.error("router.feature_failed", feature=feature.name, event=f"{event}.{action}"[:100],
                          delivery=delivery_id[:64], error=type(exc).__name__,
                          where=_where(exc))
                failed.append(exc)
                continue
            out.extend(envelopes)
        if failed and not out:
            raise failed[0]
        keys = [e.dedupe for e in out]
        if len(set(keys)) != len(keys):
            # two envelopes with one dedupe key: the second would be dropped silently as a "duplicate"
            raise ValueError(f"features gave envelopes with the same dedupe key for {event}.{action}")
        return out

    def handlers(self, services: Any) -> dict[str, Handler]:
        """Every feature's handler, and the one routing queued deliveries (`bot.runtime.deliveries`)."""
        from bot.runtime.deliveries import FEATURE, DeliveryHandler

        return {FEATURE: DeliveryHandler(self, services.queue),
                **{name: feature.handler(services) for name, feature in self.features.items()}}

    def periodic(self, services: Any) -> list[PeriodicTask]:
        return [task for feature in self.features.values() for task in feature.periodic(services)]


def _where(exc: BaseException) -> str:
    """`module.py:123` of the innermost frame: enough to find a feature's bug without logging a traceback."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return f"{tb.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno}" if tb is not None else "?"


class _StrayEnvelope:
    """The handler of a feature that reacts to no event: an envelope naming it (hand-written, or queued by a
    release that routed events to it) is dropped with a warning, never retried."""

    def __init__(self, feature: str) -> None:
        self.feature = feature

    async def process(self, envelope: Envelope, is_current: Any) -> None:
        log.warning("feature.unexpected_envelope", feature=self.feature, delivery=envelope.delivery_id)

    async def fail(self, envelope: Envelope, reason: str) -> None:
        return None

    async def cancel(self, envelope: Envelope, newer_version: str) -> None:
        return None


class PeriodicFeature:
    """Base of a feature that is only periodic work (reconcile, the advisory re-audit): no events, no
    envelopes; a subclass sets `name` and implements `periodic(services)`."""

    name = "periodic"
    events: Mapping[str, frozenset[str]] = MappingProxyType({})

    def envelopes(self, event: str, delivery_id: str, payload: dict[str, Any]) -> list[Envelope]:
        return []

    def handler(self, services: Any) -> Handler:
        return _StrayEnvelope(self.name)

    def periodic(self, services: Any) -> list[PeriodicTask]:
        return []  # a subclass returns its tasks
