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
