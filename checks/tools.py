"""Run an engine (semgrep, checkov, zizmor, …) as a subprocess that cannot outlive its check's deadline.

The engine runs in its own process group (`start_new_session=True`), so when the time is up the whole group
is SIGKILLed: an engine's own worker processes die with it, nothing is left running behind a check that
"finished". Waiting is done by `communicate` with a timeout in the calling thread (no helper thread is left
behind), and a timeout becomes `CheckTimeout`, which the engine reports as the check's error: a scan cut
short is never a clean one.

The engine gets a minimal environment built from an allow-list, never a copy of the worker's: the App's
process holds the GitHub App key, the webhook secret, the fingerprint key and the Redis URL (with its
password) in its environment, and no engine needs them. HOME and TMPDIR are never inherited: the caller
gives them (the check context points both into the check's private workspace), so no engine reads or writes
the worker's home directory or leaves files in the shared temp directory.

With `memory_mb`, the engine runs under an address-space limit (RLIMIT_AS) that holds for it and every
process it starts: a tiny interpreter sets the limit and then `exec`s the engine, because `preexec_fn` is not
safe in the threads checks run in. An engine that dies at the limit is never a clean result: it exits
non-zero or by a signal with no report, and a note naming the limit is added to its stderr, which the engines
quote in their error.

Every live engine's process group is recorded, so `kill_all()` can stop them when the process exits while a
check's thread is still waiting (a worker stopping mid-job); a `cancel` event stops one early (a job that
another worker took over, Ctrl-C in `prguard scan`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence

#: Variables an engine may inherit from ours; everything else (credentials included) stays behind. HOME and
#: TMPDIR are not among them: the caller gives private ones.
INHERITED_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "SSL_CERT_FILE")
#: RLIMIT_AS of an engine run through the check context, in MiB, unless the caller says otherwise (checkov
#: peaks near 200 MB RSS and about 1 GB of address space on a small tree)
DEFAULT_MEMORY_MB = 2048
#: sets RLIMIT_AS then becomes the engine (run with `-I -S`: nothing of the environment or site-packages is
#: read before the exec, and it starts in a few milliseconds)
_LIMIT = ("import os, resource, sys; n = int(sys.argv[1]) * 1048576; "
          "resource.setrlimit(resource.RLIMIT_AS, (n, n)); os.execv(sys.argv[2], sys.argv[2:])")
#: what an engine that hit its memory limit tends to leave on stderr (Python, Rust, glibc, OCaml, C++, Go)
_OUT_OF_MEMORY = (b"MemoryError", b"memory allocation of", b"Cannot allocate memory", b"out of memory",
                  b"Out of memory", b"bad_alloc", b"cannot allocate")
#: Seconds to collect a killed group's last output before closing the pipes regardless.
_REAP_GRACE = 5.0
#: How often a waiting check looks at its cancel event.
_POLL = 0.2

_live: set[int] = set()
_live_lock = threading.Lock()


class CheckTimeout(Exception):
    """An engine did not finish in time (or its check was cancelled) and was killed with its process
    group. One-line message."""


def kill_all() -> int:
    """SIGKILL every engine's process group still running; returns how many. For process exit paths."""
    with _live_lock:
        groups = list(_live)
        _live.clear()
    for pgid in groups:
        _signal_group(pgid)
    return len(groups)


def tool_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The minimal environment for an engine: a few harmless variables of ours, plus `extra`."""
    env = {k: os.environ[k] for k in INHERITED_ENV if k in os.environ}
    env.setdefault("PATH", os.defpath)
    env.setdefault("LC_ALL", "C.UTF-8")
    env.update(extra or {})
    return env


def with_memory_limit(argv: Sequence[str], memory_mb: int) -> list[str]:
    """`argv` run with an address-space limit of `memory_mb` MiB (0: no limit). FileNotFoundError when the
    program cannot be found, as `Popen` would raise it (the wrapper would only fail after the fork)."""
    if memory_mb <= 0:
        return list(argv)
    program = str(argv[0]) if os.path.isabs(str(argv[0])) else shutil.which(str(argv[0]))
    if program is None or not os.access(program, os.X_OK):
        raise FileNotFoundError(errno.ENOENT, "no such engine", str(argv[0]))
    return [sys.executable, "-I", "-S", "-c", _LIMIT, str(memory_mb), program, *map(str, argv[1:])]


def run_tool(
    argv: Sequence[str],
    *,
    cwd: str | os.PathLike[str],
    timeout: float,
    env: Mapping[str, str] | None = None,
    input: bytes | None = None,
    limit: str | None = None,
    cancel: threading.Event | None = None,
    memory_mb: int = 0,
) -> subprocess.CompletedProcess[bytes]:
    """Run `argv` in `cwd` and return its exit status and output; raise `CheckTimeout` after `timeout` s.

    The caller (the check context) passes the smaller of the tool's own limit and the check's remaining
    time, and `limit` to name it in the message ("the check's 300 s time limit"). A non-zero exit is
    returned, not raised: engines use exit codes to say "found something". A set `cancel` event kills the
    engine within a fraction of a second and raises `CheckTimeout` too. `memory_mb` > 0 limits its address
    space (see the module docstring).
    """
    name = os.path.basename(str(argv[0])) if argv else "?"
    limit = limit or f"{timeout:.3g} s"
    if timeout <= 0:
        raise CheckTimeout(f"{name} was not started: {limit} was already reached")
    proc = subprocess.Popen(
        with_memory_limit(argv, memory_mb),
        cwd=cwd,
        env=tool_env(env),
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    with _live_lock:
        _live.add(proc.pid)
    try:
        out, err = _wait(proc, input, time.monotonic() + timeout, cancel)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise CheckTimeout(f"{name} timed out: killed at {limit}") from None
    except _Cancelled:
        _kill_group(proc)
        raise CheckTimeout(f"{name} was stopped: the check was cancelled") from None
    except BaseException:
        _kill_group(proc)
        raise
    finally:
        with _live_lock:
            _live.discard(proc.pid)
        # members of the group that outlived its reaped leader (a daemonised helper) go too; only while the
        # group still exists, which also means its id cannot have been reused by another process
        if _group_exists(proc.pid):
            _signal_group(proc.pid)
    starved = proc.returncode < 0 or (proc.returncode > 0 and any(m in err for m in _OUT_OF_MEMORY))
    if memory_mb > 0 and starved:
        err += f"\nprguard: {name} may have run out of its {memory_mb} MiB memory limit (RLIMIT_AS)".encode()
    return subprocess.CompletedProcess(list(argv), proc.returncode, out, err)


class _Cancelled(Exception):
    pass


def _wait(proc: subprocess.Popen[bytes], input: bytes | None, until: float,
          cancel: threading.Event | None) -> tuple[bytes, bytes]:
    """`communicate` until `until`, in slices when there is a `cancel` event to look at."""
    first = True
    while True:
        left = until - time.monotonic()
        if left <= 0:
            raise subprocess.TimeoutExpired(proc.args, 0)
        if cancel is not None and cancel.is_set():
            raise _Cancelled
        try:
            # input goes with the first call only: communicate keeps sending it across retries
            return proc.communicate(input if first else None, timeout=min(left, _POLL) if cancel else left)
        except subprocess.TimeoutExpired:
            first = False
            if cancel is None:
                raise


def _group_exists(pgid: int) -> bool:
    """Whether any process is still in group `pgid` (Linux /proc; elsewhere assume it is gone)."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return False
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        # fields after the command name (which may hold spaces): state ppid pgrp ...
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 2 and fields[2] == str(pgid).encode():
            return True
    return False


def _signal_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the whole group, then reap the leader so no zombie (and no open pipe) is left."""
    _signal_group(proc.pid)
    try:
        proc.communicate(timeout=_REAP_GRACE)
    except subprocess.TimeoutExpired:  # a process that left the group still holds a pipe: stop listening
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        proc.wait()
