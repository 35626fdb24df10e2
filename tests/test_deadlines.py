"""The receiver's deadline sweep (bot/runtime/deadlines.py): a deadline fires once, within one period of being
due, unless forgotten; watching again moves it."""

from __future__ import annotations

import asyncio

import pytest

from bot.runtime.deadlines import Sweep, interval_for, sweep_for

pytestmark = pytest.mark.timeout(30)


async def test_a_deadline_fires_once_about_on_time_and_a_forgotten_one_never() -> None:
    loop = asyncio.get_running_loop()
    sweep = Sweep(loop, interval=0.05)
    fired: list[tuple[str, float]] = []
    started = loop.time()
    sweep.watch("due", 0.2, lambda: fired.append(("due", loop.time() - started)))
    sweep.watch("forgotten", 0.1, lambda: fired.append(("forgotten", loop.time() - started)))
    sweep.watch("moved", 0.1, lambda: fired.append(("moved-early", loop.time() - started)))
    sweep.watch("moved", 0.4, lambda: fired.append(("moved", loop.time() - started)))
    sweep.forget("forgotten")
    await asyncio.sleep(0.7)
    assert [name for name, _ in fired] == ["due", "moved"]
    assert 0.2 <= fired[0][1] < 0.2 + 0.05 + 0.1 and 0.4 <= fired[1][1] < 0.4 + 0.05 + 0.1
    assert sweep.entries == {} and sweep._handle is None, "an idle sweep schedules nothing"


async def test_one_sweep_per_loop_and_period() -> None:
    loop = asyncio.get_running_loop()
    assert sweep_for(loop, 10) is sweep_for(loop, 10)
    assert sweep_for(loop, 10) is not sweep_for(loop, 0.5)
    assert interval_for(10) == 1.0 and interval_for(0.1) == 0.05 and interval_for(3) == pytest.approx(0.3)


async def test_a_failing_callback_does_not_stop_the_other_deadlines() -> None:
    loop = asyncio.get_running_loop()
    sweep = Sweep(loop, interval=0.05)
    fired: list[str] = []

    def boom() -> None:
        raise RuntimeError("a bug in one expiry")

    sweep.watch("boom", 0.05, boom)
    sweep.watch("next", 0.05, lambda: fired.append("next"))
    sweep.watch("later", 0.3, lambda: fired.append("later"))
    await asyncio.sleep(0.5)
    assert fired == ["next", "later"]


def test_a_pipelined_request_still_being_answered_is_not_cut_off_by_the_head_deadline() -> None:
    """uvicorn starts a pipelined request inside `on_response_complete`, before the deadline is re-armed for
    the next head: a slow second request must still get its answer (it did not: closed at the deadline)."""
    import socket
    import threading
    import time

    import uvicorn

    from bot.cli.serve import protocol_class
    from tests.redis_server import free_port

    async def app(scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
        if scope["type"] != "http":
            return
        if scope["path"] == "/slow":
            await asyncio.sleep(1.5)
        await send({"type": "http.response.start", "status": 200,  # type: ignore[operator]
                    "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})  # type: ignore[operator]

    for fast in (True, False):  # httptools and h11
        port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False,
                                http=protocol_class(0.5, fast=fast), loop="asyncio", lifespan="off")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 10
            while not server.started:
                assert time.monotonic() < deadline
                time.sleep(0.02)
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(b"GET /fast HTTP/1.1\r\nHost: x\r\n\r\nGET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
                replies = b""
                while replies.count(b"HTTP/1.1 200") < 2:
                    chunk = sock.recv(65536)
                    assert chunk, f"closed after {replies!r} (fast={fast})"
                    replies += chunk
        finally:
            server.should_exit = True
            thread.join(10)
