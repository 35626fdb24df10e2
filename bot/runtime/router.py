"""The event router: which feature wants a delivery, as bedevere's routers and Probot's `app.on(...)` do.

A feature declares the `(event, action)` pairs it handles and turns a delivery into an `Envelope` without any
I/O (the receiver answers GitHub within milliseconds, so it never calls GitHub); the worker later hands the
envelope to that feature's `Handler`. Adding a feature is one class and one line in `bot.features.FEATURES`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from bot.runtime.envelope import Envelope, Handler
from bot.runtime.scheduler import PeriodicTask

#: in `Feature.events`, stands for every action of an event
ANY_ACTION = "*"


class Feature(Protocol):
    #: short id carried by its envelopes (`Envelope.feature`) and used in logs
    name: str
    #: event -> the actions it handles (`ANY_ACTION` for all)
    events: Mapping[str, frozenset[str]]

    def envelopes(self, event: str, delivery_id: str, payload: dict[str, Any]) -> list[Envelope]:
        """The work this delivery asks of the feature (often one envelope, or none). No I/O: payload only.

        May raise KeyError/TypeError/ValueError on a payload of an unexpected shape (the receiver answers
        400).
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
        """Every envelope the delivery asks for, across features; empty when prguard has nothing to do."""
        action = str(payload.get("action", ""))
        out: list[Envelope] = []
        for feature in self.wants(event, action):
            out.extend(feature.envelopes(event, delivery_id, payload))
        return out

    def handlers(self, services: Any) -> dict[str, Handler]:
        return {name: feature.handler(services) for name, feature in self.features.items()}

    def periodic(self, services: Any) -> list[PeriodicTask]:
        return [task for feature in self.features.values() for task in feature.periodic(services)]
