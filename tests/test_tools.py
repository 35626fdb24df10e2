"""Engines never outlive what started them (a cancelled check, a stopping worker), and get a private HOME."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

from checks import tools
from checks.change import Change, ChangedFile, FileStatus, LineSet
from checks.context import CheckContext, Deadline
from checks.tools import CheckTimeout, run_tool

# a child that writes its pid, then sleeps; it also starts a grandchild in the same group that does the same
SLEEPER = """
import os, subprocess, sys, time
out = sys.argv[1]
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
with open(out, "w") as fh:
    fh.write(f"{os.getpid()} {child.pid}")
time.sleep(60)
"""


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b")", 1)[1].split()[0]
    except OSError:
        return False
    return state != b"Z"


def pids_from(path: Path, deadline_s: float = 10.0) -> list[int]:
    deadline = time.monotonic() + deadline_s
    while not (path.exists() and path.read_text().strip()):
        assert time.monotonic() < deadline, "the engine never started"
        time.sleep(0.02)
    return [int(p) for p in path.read_text().split()]


def wait_dead(pids: list[int], deadline_s: float = 5.0) -> None:
    deadline = time.monotonic() + deadline_s
    while any(alive(p) for p in pids):
        assert time.monotonic() < deadline, [p for p in pids if alive(p)]
        time.sleep(0.02)


def test_a_cancelled_check_kills_its_engine_and_the_engines_children(tmp_path: Path) -> None:
    cancel = threading.Event()
    out = tmp_path / "pids"
    errors: list[BaseException] = []

    def run() -> None:
        try:
            run_tool([sys.executable, "-c", SLEEPER, str(out)], cwd=tmp_path, timeout=60, cancel=cancel)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    pids = pids_from(out)
    started = time.monotonic()
    cancel.set()
    thread.join(10)
    assert not thread.is_alive()
    assert time.monotonic() - started < 2.0
    assert len(errors) == 1 and isinstance(errors[0], CheckTimeout)
    assert "cancelled" in str(errors[0])
    wait_dead(pids)


def test_kill_all_stops_engines_whose_waiting_thread_is_abandoned(tmp_path: Path) -> None:
    """What a stopping worker does before it exits with a check's thread still waiting on an engine."""
    out = tmp_path / "pids"
    codes: list[int] = []
    argv = [sys.executable, "-c", SLEEPER, str(out)]
    thread = threading.Thread(
        target=lambda: codes.append(run_tool(argv, cwd=tmp_path, timeout=60).returncode), daemon=True)
    thread.start()
    pids = pids_from(out)
    assert tools.kill_all() == 1
    wait_dead(pids)
    thread.join(10)
    assert codes == [-9]
    assert tools.kill_all() == 0


def test_engines_get_a_private_home_inside_the_check_workspace(tmp_path: Path) -> None:
    change = Change("b", "h", [ChangedFile("a.py", FileStatus.ADDED, LineSet.whole(1),
                                           head_loader=lambda: b"x = 1\n")])
    ctx = CheckContext(change, deadline=Deadline(30))
    try:
        done = ctx.run_tool([sys.executable, "-c", "import os; print(os.environ['HOME'])"], cwd=tmp_path)
        home = done.stdout.decode().strip()
        assert home != os.environ.get("HOME") and Path(home).is_dir()
        assert home.startswith(str(ctx.workspace.home()))
    finally:
        ctx.workspace.close()
    assert not Path(home).exists()
