"""Features: one module per thing prguard does for a delivery, registered here and only here.

A feature (`bot.runtime.router.Feature`) names the `(event, action)` pairs it handles, turns a delivery into
envelopes without I/O (when a worker routes the delivery), and builds a handler that does the work (in the
worker). Adding one is a module here and a line in `FEATURES`; the receiver, the queue and the worker need no
change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.features.commands import CommandsFeature
from bot.features.reaudit import ReauditFeature
from bot.features.reconcile import ReconcileFeature
from bot.features.scan import ScanFeature
from bot.features.signoff import SignoffFeature
from bot.runtime.router import Feature, Router

#: every feature, in the order a delivery's envelopes are queued
FEATURES: tuple[type[Feature], ...] = (ScanFeature, ReconcileFeature, SignoffFeature, CommandsFeature,
                                        ReauditFeature)


@dataclass(frozen=True)
class Services:
    """What handlers are built with, once per worker process."""

    settings: Any        # bot.settings.Settings
    redis: Any           # redis.asyncio.Redis (the worker's pool)
    github: Any          # bot.github.client.GitHubApp
    queue: Any           # bot.runtime.queue.JobQueue


def router(*extra: Feature) -> Router:
    """prguard's features (plus `extra`, for tests and embedding) behind one router."""
    return Router([*(feature() for feature in FEATURES), *extra])
