"""Finding the engines and running them under a memory limit.

checkov pins `packaging<24` and ships a fork of detect-secrets that overwrites the `detect_secrets` package
prguard uses, so it cannot share prguard's environment; it lives in its own virtual environment, looked up
in this order: `PRGUARD_CHECKOV` (a path to the `checkov` executable), `<prguard's venv>/engines/checkov`,
then `checkov` on PATH. zizmor is a Rust binary from a wheel in prguard's own environment.

Helm charts are rendered by checkov's own helm framework, which runs a `helm` executable. There is none
here, so `prguard engines install` puts `helm-python-sdk` (Helm's Go SDK as a shared library) into checkov's
environment and a `helm` shim over it in that environment's `bin` (`checks/iac/helm_shim.py`); `run_engine`
puts that `bin` first on checkov's PATH, and tells the shim where to record each chart's render
(`helm_report_path`), since checkov only logs a chart that did not render.

Kustomizations are rendered by prguard itself with the machine's `kubectl kustomize` (`checks.iac.kustomize`),
under `KUSTOMIZE_OFFLINE_ENV`: dead proxies behind its refusal of remote references.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from checks import tools
from checks.tools import CheckTimeout

if TYPE_CHECKING:
    from checks.context import CheckContext

#: RLIMIT_AS for an engine, in MiB, unless the policy says otherwise (checkov peaks near 200 MB RSS and
#: about 1 GB of address space on a small tree)
DEFAULT_MEMORY_MB = 2048



class EngineMissing(RuntimeError):
    """The engine is not installed where prguard looks for it (a one-line message with the fix)."""


def _venv_bin() -> Path:
    return Path(sys.executable).parent


#: the checkov prguard's severity table and tests were made with (`prguard engines install` installs it)
CHECKOV_REQUIREMENT = "checkov==3.3.30"
#: Helm's Go SDK (v4.2.3) for Python, which the `helm` shim renders charts with (no dependencies of its own)
HELM_SDK_REQUIREMENT = "helm-python-sdk==0.2.2"
#: seconds one chart may take to render (the shim's SIGALRM; the check's deadline still bounds checkov)
HELM_RENDER_TIMEOUT = 120


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


def helm_shim_path(checkov: str | None = None) -> Path | None:
    """The `helm` shim checkov will run: beside `checkov` (its environment's `bin`), else in prguard's
    engines environment; None when not installed."""
    for directory in ([Path(checkov).parent] if checkov else []) + [checkov_home() / "bin"]:
        candidate = directory / "helm"
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def helm_report_path(ctx: CheckContext) -> Path:
    """Where the shim records each chart it renders for this check (one JSON line per chart): in the
    engines' private HOME of the check's workspace, outside every tree an engine scans."""
    return ctx.workspace.home() / "helm-renders.jsonl"


def _checkov_env(checkov: str, ctx: CheckContext) -> dict[str, str]:
    """PATH with the `helm` shim first (a real `helm` elsewhere on PATH would download dependencies),
    where the shim reports, and how long one render may take."""
    shim = helm_shim_path(checkov)
    if shim is None:
        return {}
    path = os.environ.get("PATH", os.defpath)
    timeout = max(1, min(HELM_RENDER_TIMEOUT, int(ctx.remaining())))
    return {"PATH": f"{shim.parent}{os.pathsep}{path}", "PRGUARD_HELM_REPORT": str(helm_report_path(ctx)),
            "PRGUARD_HELM_TIMEOUT": str(timeout)}


#: a proxy nothing listens on: a renderer that tries the network fails at once instead of reaching it
DEAD_PROXY = "http://127.0.0.1:9"
#: environment of a kustomize render (`checks.iac.kustomize`), a second guard behind its refusing remote
#: references: every proxy variable dead, git never prompting, checkov's own allowlist matching nothing
KUSTOMIZE_OFFLINE_ENV = {
    "HTTPS_PROXY": DEAD_PROXY, "HTTP_PROXY": DEAD_PROXY, "ALL_PROXY": DEAD_PROXY, "https_proxy": DEAD_PROXY,
    "http_proxy": DEAD_PROXY, "all_proxy": DEAD_PROXY, "NO_PROXY": "", "no_proxy": "",
    "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
    "CHECKOV_KUSTOMIZE_ALLOWED_REMOTE_PREFIXES": "none",
}


def zizmor_path() -> str:
    """`PRGUARD_ZIZMOR` (a path to a zizmor executable), else the one beside this interpreter, else PATH's."""
    explicit = os.environ.get("PRGUARD_ZIZMOR")
    if explicit:
        if os.access(explicit, os.X_OK):
            return explicit
        raise EngineMissing(f"PRGUARD_ZIZMOR is not an executable: {explicit}")
    beside = _venv_bin() / "zizmor"
    if os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("zizmor")
    if found:
        return found
    raise EngineMissing("zizmor is not installed: pip install 'zizmor>=1.32,<2'")


#: where `prguard engines install` keeps the parser-grammar caches checkov's Terraform parser (lark) writes
#: to the temporary directory on first use (see `seed_grammar_cache`)
GRAMMAR_CACHE = "grammar-cache"
_LARK_CACHE = ".lark_cache_*.tmp"


def grammar_cache_dir() -> Path:
    return checkov_home() / GRAMMAR_CACHE


def seed_grammar_cache(tmpdir: Path, source: Path | None = None) -> int:
    """Copy the grammar caches made at install time into an engine run's private TMPDIR; how many.

    Why: lark (checkov's HCL parser) compiles its Terraform grammar and caches it in the temp directory.
    Plain checkov finds it in /tmp from its previous run; prguard gives every check its own TMPDIR, so each
    run compiled it again: ~0.8 s of a 3-4 s checkov run. The cache is a pickle, so it is only ever taken
    from the engines' own directory, written by `prguard engines install` from checkov's grammar alone —
    never from a TMPDIR an engine wrote while reading a change.
    """
    source = source or grammar_cache_dir()
    copied = 0
    try:
        tmpdir.mkdir(mode=0o700, parents=True, exist_ok=True)
        for cached in source.glob(_LARK_CACHE):
            target = tmpdir / cached.name
            if not target.exists():
                shutil.copyfile(cached, target)
                copied += 1
    except OSError:  # a missing or unreadable cache only costs the compile
        return copied
    return copied


def run_engine(ctx: CheckContext, name: str, argv: list[str], *, cwd: Path, memory_mb: int,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    """`ctx.run_tool` under the memory limit; a timeout names the engine, not the limit's wrapper."""
    if name == "checkov":
        env = {**_checkov_env(argv[0], ctx), **(env or {}),
               "CHECKOV_KUSTOMIZE_ALLOWED_REMOTE_PREFIXES": "none",  # checkov never fetches a remote base
               **(KUSTOMIZE_OFFLINE_ENV if "kustomize" in argv else {})}
        seed_grammar_cache(ctx.workspace.home() / "tmp")
    try:
        return ctx.run_tool(argv, cwd=cwd, env=env, memory_mb=memory_mb)  # the limit: `checks.tools`
    except CheckTimeout as exc:
        shown = os.path.basename(argv[0])
        message = str(exc)
        raise CheckTimeout(name + message[len(shown):] if message.startswith(shown) else message) from None


def with_memory_limit(argv: list[str], memory_mb: int) -> list[str]:
    """`argv` run with an address-space limit of `memory_mb` MiB (0: no limit); see `checks.tools`."""
    return tools.with_memory_limit(argv, memory_mb)
