"""Run an engine (semgrep, checkov, zizmor, …) as a subprocess that cannot outlive its check's deadline.

The engine runs in its own process group (`start_new_session=True`), so when the time is up the whole group
is SIGKILLed: an engine's own worker processes die with it, nothing is left running behind a check that
"finished". Waiting is done by `communicate` with a timeout in the calling thread (no helper thread is left
behind), and a timeout becomes `CheckTimeout`, which the engine reports as the check's error: a scan cut
short is never a clean one.

The engine gets a minimal environment, not the worker's: the App's process holds the GitHub App key and the
webhook secret in its environment, and no engine needs them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence

#: Variables an engine may inherit from ours; everything else (credentials included) stays behind.
INHERITED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ", "SSL_CERT_FILE")
#: Seconds to collect a killed group's last output before closing the pipes regardless.
_REAP_GRACE = 5.0


class CheckTimeout(Exception):
    """An engine did not finish in time and was killed with its process group. One-line message."""


def tool_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The minimal environment for an engine: a few harmless variables of ours, plus `extra`."""
    env = {k: os.environ[k] for k in INHERITED_ENV if k in os.environ}
    env.setdefault("PATH", os.defpath)
    env.setdefault("LC_ALL", "C.UTF-8")
    env.update(extra or {})
    return env


def run_tool(
    argv: Sequence[str],
    *,
    cwd: str | os.PathLike[str],
    timeout: float,
    env: Mapping[str, str] | None = None,
    input: bytes | None = None,
    limit: str | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run `argv` in `cwd` and return its exit status and output; raise `CheckTimeout` after `timeout` s.

    The caller (the check context) passes the smaller of the tool's own limit and the check's remaining
    time, and `limit` to name it in the message ("the check's 300 s time limit"). A non-zero exit is
    returned, not raised: engines use exit codes to say "found something".
    """
    name = os.path.basename(str(argv[0])) if argv else "?"
    limit = limit or f"{timeout:.3g} s"
    if timeout <= 0:
        raise CheckTimeout(f"{name} was not started: {limit} was already reached")
    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=tool_env(env),
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise CheckTimeout(f"{name} timed out: killed at {limit}") from None
    except BaseException:
        _kill_group(proc)
        raise
    finally:
        # members of the group that outlived its leader (a daemonised helper) go too
        _signal_group(proc.pid)
    return subprocess.CompletedProcess(list(argv), proc.returncode, out, err)


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
