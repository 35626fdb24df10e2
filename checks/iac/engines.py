"""Finding the engines and running them under a memory limit.

checkov pins `packaging<24` and ships a fork of detect-secrets that overwrites the `detect_secrets` package
prguard uses, so it cannot share prguard's environment; it lives in its own virtual environment, looked up
in this order: `PRGUARD_CHECKOV` (a path to the `checkov` executable), `<prguard's venv>/engines/checkov`,
then `checkov` on PATH. zizmor is a Rust binary from a wheel in prguard's own environment.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from checks.tools import CheckTimeout

if TYPE_CHECKING:
    from checks.context import CheckContext

#: RLIMIT_AS for an engine, in MiB, unless the policy says otherwise (checkov peaks near 200 MB RSS and
#: about 1 GB of address space on a small tree)
DEFAULT_MEMORY_MB = 2048

#: sets RLIMIT_AS then becomes the engine, so the limit holds for it and every process it forks; run as
#: a separate program because `preexec_fn` is not safe in the threads checks run in
_LIMIT = ("import os, resource, sys; n = int(sys.argv[1]) * 1048576; "
          "resource.setrlimit(resource.RLIMIT_AS, (n, n)); os.execv(sys.argv[2], sys.argv[2:])")


class EngineMissing(RuntimeError):
    """The engine is not installed where prguard looks for it (a one-line message with the fix)."""


def _venv_bin() -> Path:
    return Path(sys.executable).parent


#: the checkov prguard's severity table and tests were made with (`prguard engines install` installs it)
CHECKOV_REQUIREMENT = "checkov==3.3.30"


def checkov_home() -> Path:
    """checkov's own virtualenv, beside prguard's (it cannot share it: see bot/cli/engines.py)."""
    return Path(sys.prefix) / "engines" / "checkov"


def checkov_path() -> str:
    explicit = os.environ.get("PRGUARD_CHECKOV")
    candidates = [explicit] if explicit else []
    candidates.append(str(checkov_home() / "bin" / "checkov"))
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("checkov")
    if found:
        return found
    raise EngineMissing(
        f"checkov is not installed: run `prguard engines install` ({CHECKOV_REQUIREMENT} in its own "
        "environment), or set PRGUARD_CHECKOV to a checkov binary")


def zizmor_path() -> str:
    beside = _venv_bin() / "zizmor"
    if os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("zizmor")
    if found:
        return found
    raise EngineMissing("zizmor is not installed: pip install 'zizmor>=1.32,<2'")


def run_engine(ctx: CheckContext, name: str, argv: list[str], *, cwd: Path, memory_mb: int,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    """`ctx.run_tool` under the memory limit; a timeout names the engine, not the limit's wrapper."""
    wrapped = with_memory_limit(argv, memory_mb)
    try:
        return ctx.run_tool(wrapped, cwd=cwd, env=env)
    except CheckTimeout as exc:
        shown = os.path.basename(wrapped[0])
        message = str(exc)
        raise CheckTimeout(name + message[len(shown):] if message.startswith(shown) else message) from None


def with_memory_limit(argv: list[str], memory_mb: int) -> list[str]:
    """`argv` run with an address-space limit of `memory_mb` MiB (0: no limit)."""
    if memory_mb <= 0:
        return argv
    program = argv[0] if os.path.isabs(argv[0]) else (shutil.which(argv[0]) or argv[0])
    return [sys.executable, "-c", _LIMIT, str(memory_mb), program, *argv[1:]]
