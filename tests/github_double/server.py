"""Runs an ASGI app with uvicorn in a background thread on a socket bound before start-up.

Binding first (port 0) means the port is known before the server runs and no other process can take it in
between; the thread owns its own event loop, so tests may be sync or async.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import uvicorn
from starlette.types import ASGIApp


def bind_loopback() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.set_inheritable(True)
    return sock


class _QuickServer(uvicorn.Server):
    """uvicorn's server, polling for exit every 10 ms instead of 100 ms: tests stop a double often."""

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            counter += 1
            await asyncio.sleep(0.01)


class ThreadedServer:
    def __init__(self, app: ASGIApp, sock: socket.socket) -> None:
        config = uvicorn.Config(
            app, log_level="warning", lifespan="off", access_log=False, timeout_graceful_shutdown=1
        )
        self._server = _QuickServer(config)
        self._sock = sock
        self._thread = threading.Thread(target=self._run, name="github-double", daemon=True)
        self._error: BaseException | None = None

    def _run(self) -> None:
        try:
            asyncio.run(self._server.serve(sockets=[self._sock]))
        except BaseException as exc:  # reported to the starting thread
            self._error = exc

    def start(self, timeout: float = 5.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if self._error is not None or not self._thread.is_alive():
                raise RuntimeError(f"the GitHub double did not start: {self._error!r}")
            if time.monotonic() > deadline:
                raise RuntimeError("the GitHub double did not start in time")
            time.sleep(0.002)

    def stop(self) -> None:
        # force_exit: do not wait for replies still in flight (a slow-reply fault may be sleeping).
        self._server.should_exit = self._server.force_exit = True
        self._thread.join(timeout=5)
        self._sock.close()
