"""Rego policies (`.github/prguard/*.rego` on the base branch), evaluated offline by an embedded engine
(regopy, Microsoft's rego-cpp) in a child process with a time limit.

Each file is a module of `package prguard` (or any package: `data.prguard` is what is asked). The input is the
facts document (`checks.signoff.facts`); `deny` messages block the sign-off, `warn` messages are shown. A
module that does not parse is a `RegoError` naming the file and line, shown on the run like an invalid policy.

The engine runs in a child process (`python -m checks.signoff.rego`): a policy that takes too long is killed
at the deadline and reported, never left to hang a worker. Its memory is bounded too: rego-cpp's allocator
(snmalloc) reserves hundreds of GiB of address space up front, so RLIMIT_AS / RLIMIT_DATA cannot be used;
instead the parent watches the child's resident memory every 50 ms and kills it over `memory_mb`. The child
gets PATH and PYTHONPATH only, none of the worker's credentials. Policies are the base branch's, written by
admins; nothing from the pull request is ever evaluated as a policy.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_TIMEOUT = 10.0
#: resident memory (MiB) the Rego child may reach before it is killed
DEFAULT_MEMORY_MB = 1024
#: seconds between two looks at the child's resident memory
_WATCH_S = 0.05
MAX_MODULES = 50
MAX_MODULE_BYTES = 256 * 1024
_ERROR_AT = re.compile(r"\(error \d+:([^|\s]+)\|(\d+)\|")
_ERROR_MSG = re.compile(r"errormsg \d+:([^)]*)")
_ERROR_LINE = re.compile(r"^-- (.+?):(\d+):\d+\s*$", re.M)


class RegoError(Exception):
    def __init__(self, message: str, path: str = "", line: int | None = None) -> None:
        self.message, self.path, self.line = message, path, line
        where = f"{path}{f' line {line}' if line else ''}: " if path else ""
        super().__init__(f"{where}{message}")


@dataclass
class RegoResult:
    deny: list[str] = field(default_factory=list)
    warn: list[str] = field(default_factory=list)


def evaluate(
    modules: Mapping[str, str], facts: Mapping[str, Any], *, timeout: float = DEFAULT_TIMEOUT,
    memory_mb: int = DEFAULT_MEMORY_MB,
) -> RegoResult:
    """`data.prguard.deny` / `warn` for `facts`, from `modules` (path -> source). Raises RegoError."""
    if not modules:
        return RegoResult()
    if len(modules) > MAX_MODULES:
        raise RegoError(f"too many Rego files ({len(modules)}; at most {MAX_MODULES})")
    for path, text in modules.items():
        if len(text.encode()) > MAX_MODULE_BYTES:
            raise RegoError(f"larger than {MAX_MODULE_BYTES} bytes", path)
    request = json.dumps({"modules": dict(modules), "input": facts})
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-S", "-m", "checks.signoff.rego"],  # -S: no site hooks (PYTHONPATH has the paths)
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    try:
        out = _communicate(proc, request.encode(), time.monotonic() + timeout, memory_mb)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise RegoError(f"Rego evaluation exceeded its time limit ({timeout:g} s)") from None
    except MemoryError:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise RegoError(f"Rego evaluation exceeded its memory limit ({memory_mb} MiB)") from None
    try:
        reply = json.loads(out or b"{}")
    except ValueError:
        reply = {}
    if "error" in reply or proc.returncode != 0:
        error = reply.get("error") or {"message": f"the Rego engine exited with {proc.returncode}"}
        raise RegoError(str(error.get("message")), str(error.get("path", "")), error.get("line"))
    return RegoResult(
        deny=[str(m) for m in reply.get("deny", [])], warn=[str(m) for m in reply.get("warn", [])]
    )


def _communicate(proc: subprocess.Popen[bytes], request: bytes, until: float, memory_mb: int) -> bytes:
    """The child's stdout; TimeoutExpired at `until`, MemoryError once its resident memory passes
    `memory_mb` (0: not watched)."""
    first = True
    while True:
        left = until - time.monotonic()
        if left <= 0:
            raise subprocess.TimeoutExpired(proc.args, 0)
        try:  # the request goes with the first call only: communicate keeps sending it across retries
            out, _ = proc.communicate(request if first else None, timeout=min(left, _WATCH_S))
            return out
        except subprocess.TimeoutExpired:
            first = False
        if memory_mb > 0 and _resident_mb(proc.pid) > memory_mb:
            raise MemoryError


def _resident_mb(pid: int) -> float:
    """VmRSS of `pid` in MiB (Linux /proc; 0 when it cannot be read)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


def _line_of(modules: Mapping[str, str], text: str) -> tuple[str, int | None]:
    """(module path, 1-based line) of the first error in regopy's error text."""
    at = _ERROR_LINE.search(text)
    if at and at.group(1) in modules:
        return at.group(1), int(at.group(2))
    match = _ERROR_AT.search(text)
    if not match:
        return "", None
    name, offset = match.group(1), int(match.group(2))
    source = modules.get(name)
    if source is None:
        return name, None
    return name, source.encode()[:offset].count(b"\n") + 1


def _messages(value: Any) -> list[str]:
    if isinstance(value, list):
        return sorted(str(v) for v in value)
    if isinstance(value, dict):
        return sorted(str(k) for k in value)
    return []


def _child() -> int:
    """The child: read {modules, input} on stdin, print {deny, warn} or {error} as JSON."""
    request = json.loads(sys.stdin.buffer.read())
    modules: dict[str, str] = request["modules"]
    devnull = os.open(os.devnull, os.O_WRONLY)
    reply = os.fdopen(os.dup(1), "w")
    os.dup2(devnull, 1)  # rego-cpp prints its own diagnostics on stdout/stderr; errors come back as data
    os.dup2(devnull, 2)
    try:
        from regopy import Interpreter

        rego = Interpreter()
        for path, source in modules.items():
            rego.add_module(path, source)
        rego.set_input_term(json.dumps(request["input"]))
        result = {}
        for rule in ("deny", "warn"):
            output = rego.query(f"data.prguard.{rule}")
            text = str(output)
            if text.strip() == "undefined":
                result[rule] = []  # no module defines the rule
                continue
            if not output.ok() or not text.lstrip().startswith("{"):
                raise RuntimeError(text)
            expressions = json.loads(text).get("expressions") or [[]]
            result[rule] = _messages(expressions[0] if expressions else [])
    except Exception as exc:  # the engine's own error: a parse error or an evaluation error
        text = str(exc)
        path, line = _line_of(modules, text)
        said = _ERROR_MSG.search(text)
        first = said.group(1) if said else text.strip().splitlines()[0] if text.strip() else ""
        message = (
            f"the Rego policy could not be compiled: {first[:200]}" if path else f"Rego error: {text[:300]}"
        )
        reply.write(json.dumps({"error": {"message": message, "path": path, "line": line}}))
        reply.close()
        return 0
    reply.write(json.dumps(result))
    reply.close()
    return 0


if __name__ == "__main__":
    sys.exit(_child())
