"""`prguard serve`: the webhook receiver (bot/runtime/receiver.py) under uvicorn, with connection bounds.

Why bounds here: the receiver is on the internet and answers anyone before it knows who they are. The app
bounds what one request may hold (body budget, body deadline); the server bounds connections:

- `limit_concurrency` (PRGUARD_WEBHOOK_MAX_CONNECTIONS): past it uvicorn answers 503 without running the app;
- `h11_max_incomplete_event_size` (16 KiB): the largest request head buffered (GitHub's are about 1 KiB);
- `timeout_keep_alive` (5 s): an idle kept-alive connection is closed;
- a request head must arrive within PRGUARD_WEBHOOK_READ_TIMEOUT (`HeadDeadlineH11Protocol`): uvicorn has no
  such deadline, and `limit_concurrency` would turn a few hundred silent connections into a full outage.

The HTTP parser is httptools (llhttp, C) on uvloop when both are installed (they are dependencies: the C
parser and event loop about double the deliveries one process answers), else h11 on asyncio; it is chosen by
name (never uvicorn's "auto") and both get the same head deadline. llhttp bounds a request head itself
(80 KiB); h11 is given `MAX_HEAD_BYTES`.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import os

from uvicorn.protocols.http.h11_impl import H11Protocol

try:  # the C parser and loop (uvicorn[standard]); the receiver works, slower, without them
    import uvloop  # noqa: F401
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - both are dependencies
    HttpToolsProtocol = None  # type: ignore[assignment,misc]

from bot.log import configure, get_logger
from bot.runtime import deadlines
from bot.settings import ConfigError, load_settings

log = get_logger("prguard.web")

#: uvicorn's own default, stated so an upgrade cannot raise it unnoticed.
MAX_HEAD_BYTES = 16 * 1024
KEEP_ALIVE_S = 5
#: glibc's `M_MMAP_THRESHOLD` and the fixed value `_return_freed_memory` sets.
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_BYTES = 128 * 1024


class HeadDeadline:
    """Mixed into uvicorn's HTTP protocols: close a connection whose next request head has not arrived in
    `head_timeout` seconds (from the connection's start, then from each response).

    Why: uvicorn times out idle kept-alive connections only until their first byte, so a client trickling a
    head (or the rest of a body the receiver already refused) kept its connection, and its slot under
    `limit_concurrency`, forever. Set `head_timeout` on a subclass (`protocol_class`). The deadline is an
    entry in the loop's `Sweep` (bot/runtime/deadlines.py), not a timer per request.
    """

    head_timeout: float = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)  # type: ignore[misc]
        self._sweep = deadlines.sweep_for(self.loop, self.head_timeout)  # type: ignore[attr-defined]
        self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._sweep.forget(self)
        super().connection_lost(exc)  # type: ignore[misc]

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        self._arm_head_deadline()

    def _arm_head_deadline(self) -> None:
        self._waiting_after = self.cycle  # type: ignore[attr-defined]  # a new request replaces it
        self._sweep.watch(self, self.head_timeout, self._head_expired)

    def _head_expired(self) -> None:
        """No request came after `_waiting_after` (the cycle when armed) in time: close. A cycle still being
        answered is not waiting for a head: a pipelined request starts inside `on_response_complete`, before
        the deadline is re-armed, and its own response re-arms it."""
        cycle = self.cycle  # type: ignore[attr-defined]
        if (cycle is self._waiting_after and (cycle is None or cycle.response_complete)
                and not self.transport.is_closing()):  # type: ignore[attr-defined]
            log.warning("webhook.head_timeout", seconds=self.head_timeout)
            self.transport.close()  # type: ignore[attr-defined]


class HeadDeadlineH11Protocol(HeadDeadline, H11Protocol):
    """h11 with the head deadline."""


def protocol_class(head_timeout: float, fast: bool = True) -> type:
    """The receiver's protocol with this deadline (uvicorn instantiates the class it is given): httptools
    when available and `fast`, else h11."""
    if fast and HttpToolsProtocol is not None:
        bases = (HeadDeadline, HttpToolsProtocol)
        return type("ReceiverHttpToolsProtocol", bases, {"head_timeout": head_timeout})
    return type("ReceiverH11Protocol", (HeadDeadlineH11Protocol,), {"head_timeout": head_timeout})


def _return_freed_memory() -> None:
    """On glibc, serve allocations of 128 KiB and more from their own mappings, returned to the system when
    freed. Why: glibc raises this threshold after each large free (up to 32 MiB), after which request bodies
    come from the heap, whose freed pages it keeps: after a flood of large bodies the process stayed at its
    peak RSS. Elsewhere (musl, macOS) nothing happens."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES)
    except (OSError, AttributeError):
        pass


def _quiet_collector() -> None:
    """Move everything loaded at start-up out of the garbage collector's view, and collect the young
    generation less often. Why: a delivery's payload is a few thousand small objects; with the defaults a
    full collection, which walks every module and class loaded, ran every few hundred deliveries and was the
    receiver's tail latency (p99 ~5× p50). Nothing here holds reference cycles that need prompt freeing."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="0.0.0.0", help="interface to listen on (default 0.0.0.0)")
    parser.add_argument("--port", type=int, default=None,
                        help="port to listen on (default $PORT, else 3000)")


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from bot.runtime.receiver import create_app

    try:
        settings = load_settings("web")
    except ConfigError as exc:
        return exc.exit()
    try:
        port = args.port if args.port is not None else int(os.environ.get("PORT") or 3000)
    except ValueError:
        return ConfigError("PORT must be an integer").exit()
    configure(settings.log_level)
    _return_freed_memory()
    _quiet_collector()
    log.info("web.start", host=args.host, port=port, api_url=settings.api_url, prefix=settings.redis_prefix,
             max_connections=settings.webhook_max_connections, body_budget=settings.webhook_body_budget,
             read_timeout=settings.webhook_read_timeout)
    protocol = protocol_class(settings.webhook_read_timeout)
    uvicorn.run(create_app(settings), host=args.host, port=port, log_config=None, access_log=False,
                proxy_headers=True, server_header=False, timeout_graceful_shutdown=10,
                loop="uvloop" if HttpToolsProtocol is not None else "asyncio", http=protocol,
                limit_concurrency=settings.webhook_max_connections,
                h11_max_incomplete_event_size=MAX_HEAD_BYTES, timeout_keep_alive=KEEP_ALIVE_S)
    return 0
