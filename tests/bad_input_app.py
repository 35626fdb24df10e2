"""Shared setup for the bad-input tests (issue 11, part 2: the attack suite), split by theme into
`test_bad_input_files.py` (unlisted, binary, undecodable, huge-line and strangely named files, symlinks),
`test_bad_input_bombs.py` (YAML and model-file bombs) and `test_bad_input_commands.py` (slash-commands).

Each test drives hostile input through the whole App (receiver → Redis → worker → the GitHub double, real
checks and engines) or through `prguard scan` in a subprocess on a real git repository, and asserts what a
user sees, in bounded time and memory: every run completed (never left `in_progress`), content that could
not be checked never passing as `success` (a "not scanned", "not fully scanned" or parse-error reason),
weird but benign file names getting their findings on the right file, shown escaped. Unit tests of each
bound live beside the code they bound (grep bomb, symlink, 3000, control); these files are about the App as
a whole surviving them — and about an ordinary PR sent alongside still getting its normal runs.

Memory is measured as the growth of this process's RSS, sampled during the test (receiver, worker, checks
and the double all run in it), and with `wait4`'s max RSS for a `prguard scan` subprocess.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.e2e_stack import CHECKS, Stack, pr_payload
from tests.github_double.double import GitHubDouble
from tests.gitrepo import GitRepo
from tests.secrets_keys import github_token

SCAN = ("scan",)
#: generous but real bounds for every test: wall time, and memory (RSS growth here, or a child's max RSS)
MAX_SECONDS = 60.0
MAX_MB = 500
STRICT = b"fail_on_unscanned: true\n"


def rss_bytes() -> int:
    """This process's resident set size now (Linux /proc)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@contextlib.contextmanager
def bounded(seconds: float = MAX_SECONDS, mb: int = MAX_MB) -> Iterator[None]:
    """Fail unless the block finishes within `seconds` and this process's RSS never grows by `mb` MiB over
    what it was at the start (sampled every 10 ms: receiver, worker, checks and the double all live here;
    tracemalloc would be exact for Python objects but slows a 3,000-file scan about sevenfold)."""
    base = rss_bytes()
    peak = [base]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.01):
            peak[0] = max(peak[0], rss_bytes())

    sampler = threading.Thread(target=sample, name="rss-sampler", daemon=True)
    sampler.start()
    began = time.monotonic()
    try:
        yield
    finally:
        took = time.monotonic() - began
        done.set()
        sampler.join(5)
    grew = (max(peak[0], rss_bytes()) - base) / 2**20
    assert took < seconds, f"took {took:.1f} s (bound {seconds} s)"
    assert grew < mb, f"RSS grew by {grew:.0f} MiB (bound {mb} MiB)"


def noise(size: int) -> bytes:
    """`size` bytes that look like a binary (NULs, every byte value), the same on every run."""
    return (bytes(range(256)) * (size // 256 + 1))[:size]


def assert_all_completed(d: GitHubDouble, head_sha: str) -> None:
    """No run prguard opened on this head is left `in_progress` or `queued`."""
    runs = d.check_runs("octo/repo", head_sha)
    assert runs and all(r.status == "completed" for r in runs), [(r.name, r.status) for r in runs]


def assert_no_unchecked_success(runs: dict[str, Any]) -> None:
    """A run that lists a file it could not read, parse or fetch in full is never `success` (with the
    policy's `fail_on_unscanned: true`; by default such files are listed under *Not scanned* only)."""
    unchecked = ("could not be read", "larger than", "could not parse", "not fully scanned", "partly scanned")
    for name, run in runs.items():
        if run.conclusion == "success":
            assert not any(u in run.summary.lower() for u in unchecked), (name, run.summary)


async def deliver(stack: Stack, pr: Any, inst: int) -> None:
    reply = await stack.deliver("pull_request", pr_payload(pr, inst))
    assert reply.status_code == 202, reply.text


def ordinary_leak(d: GitHubDouble) -> tuple[Any, str]:
    """An ordinary PR (its own head branch) adding a GitHub token on line 2 of `app/settings.py`."""
    token = github_token()
    pr = d.create_pull_request("octo/repo", head="ordinary", changes={
        "app/settings.py": (None, b"import os\nTOKEN = '%s'\n" % token.encode())})
    return pr, token


async def assert_ordinary_pr_found(stack: Stack, pr: Any, token: str) -> None:
    runs = await stack.completed(pr.head_sha, timeout=MAX_SECONDS)
    run = runs["prguard/secrets"]
    assert run.conclusion == "failure", run.summary
    assert [(a["path"], a["start_line"]) for a in run.annotations] == [("app/settings.py", 2)]
    assert {runs[n].conclusion for n in CHECKS if n != "prguard/secrets"} == {"success"}
    assert token not in run.summary


def run_scan(repo: GitRepo, *args: str) -> tuple[int, str, float, float]:
    """`prguard scan` in a child process: exit code, stdout+stderr, seconds, and its peak RSS in MiB.

    The peak is the child's own `VmHWM`, sampled while it runs. Not `wait4`'s `ru_maxrss`: Linux carries the
    forking process's high-water mark across `exec` (subprocess forks with vfork), so under pytest-xdist a
    worker grown to 500 MB made a 110 MB scan look like 546 MB."""
    began = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "scan", str(repo.path), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = began + MAX_SECONDS * 2
    output = b""
    peak_kib = 0
    assert proc.stdout is not None
    os.set_blocking(proc.stdout.fileno(), False)
    while True:
        output += proc.stdout.read() or b""
        peak_kib = max(peak_kib, _hwm_kib(proc.pid))
        pid, status, _usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise AssertionError("prguard scan did not finish in time")
        time.sleep(0.01)
    output += proc.stdout.read() or b""
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: keep Popen from waiting again
    took = time.monotonic() - began
    assert peak_kib, "the scan ended before its memory could be read"
    return proc.returncode, output.decode("utf-8", "replace"), took, peak_kib / 1024


def _hwm_kib(pid: int) -> int:
    """The process's peak resident memory so far (0 once it has exited or not yet started Python)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, ValueError):
        pass
    return 0
