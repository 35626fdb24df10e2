"""Deadlines kept by one periodic sweep per event loop, not by a timer per request.

Why: the receiver bounds how long a client may take to send a request head and a body (bot/cli/serve.py,
bot/runtime/body.py). With a timer per request — `loop.call_later` plus its cancel for the head,
`asyncio.timeout` for the body — arming and disarming them was ~8 % of the receiver's CPU per delivery, for
deadlines of seconds that almost never fire. Here a request's deadline is one dict entry, and one sweep per
`interval` fires the overdue ones: a deadline fires at most `interval` late.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable

from bot.log import get_logger

log = get_logger("prguard.web")


def interval_for(seconds: float) -> float:
    """The sweep's period for deadlines of `seconds`: a tenth of them, between 50 ms and 1 s."""
    return min(1.0, max(0.05, seconds / 10))


class Sweep:
    """Deadlines on one event loop: `watch(key, seconds, expire)` calls `expire()` once `seconds` have
    passed unless `forget(key)` came first; watching a key again replaces its deadline. One loop only."""

    def __init__(self, loop: asyncio.AbstractEventLoop, interval: float) -> None:
        self.loop = loop
        self.interval = interval
        self.entries: dict[Hashable, tuple[float, Callable[[], None]]] = {}
        self._handle: asyncio.TimerHandle | None = None

    def watch(self, key: Hashable, seconds: float, expire: Callable[[], None]) -> None:
        self.entries[key] = (self.loop.time() + seconds, expire)
        if self._handle is None:
            self._handle = self.loop.call_later(self.interval, self._sweep)

    def forget(self, key: Hashable) -> None:
        self.entries.pop(key, None)

    def _sweep(self) -> None:
        now = self.loop.time()
        due = [key for key, (deadline, _) in self.entries.items() if deadline <= now]
        try:
            for key in due:
                _, expire = self.entries.pop(key)
                try:
                    expire()
                except Exception:  # one failing callback must not stop every other deadline
                    log.exception("deadline.expire_failed")
        finally:
            self._handle = self.loop.call_later(self.interval, self._sweep) if self.entries else None

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self.entries.clear()


_sweeps: dict[tuple[asyncio.AbstractEventLoop, float], Sweep] = {}


def sweep_for(loop: asyncio.AbstractEventLoop, seconds: float) -> Sweep:
    """The loop's sweep for deadlines of about `seconds` (one per loop and period, made on first use)."""
    interval = interval_for(seconds)
    sweep = _sweeps.get((loop, interval))
    if sweep is None:
        for key in [k for k in _sweeps if k[0].is_closed()]:  # tests run many loops: drop closed ones
            del _sweeps[key]
        sweep = _sweeps[(loop, interval)] = Sweep(loop, interval)
    return sweep
