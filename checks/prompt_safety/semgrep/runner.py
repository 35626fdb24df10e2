"""One offline semgrep run over a job's source files, through the check context.

Why each choice:
- one process for all rules and files: semgrep's start-up (~2 s) dominates its run time;
- `--metrics=off`, `--disable-version-check` and the matching environment variables: without them semgrep
  resolves semgrep.dev and, with no DNS, a run takes ~98 s instead of ~2 s; settings and log files go to
  the check's private HOME, never the worker's;
- the files are written by `ctx.materialize` (regular files only, no symlink followed) and every one is
  named on the command line: an explicit target is scanned even when a `.semgrepignore` added by the
  change would hide it; `--disable-nosem` keeps `# nosemgrep` comments added by the change from
  silencing a rule;
- whatever semgrep could not scan (a parse error, a timeout, a target it dropped) is reported as a
  `Skipped` on that file; a run that fails as a whole raises `SemgrepError` (the check reports an error);
- an explicit `-j` and an address-space limit that fits it (`memory_mb`): semgrep-core (OCaml) reserves
  about 1 GiB of address space per parallel job on top of ~2 GiB, so the limit follows the job count, and
  the job count no longer follows whatever machine the worker landed on. A run over its limit fails as a
  whole (no report, or semgrep's own fatal error): an error, never a clean scan.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from checks.change import ChangedFile, FileStatus
from checks.finding import Finding, Skipped
from checks.prompt_safety.semgrep.results import SemgrepError, parse_output

if TYPE_CHECKING:
    from checks.context import CheckContext

#: the rule files shipped with prguard
RULES_DIR = Path(__file__).with_name("rules")
#: file suffix -> semgrep language; the rules cover Python first, JavaScript/TypeScript where cheap
LANGUAGES: dict[str, str] = {
    ".py": "python", ".pyi": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript", ".tsx": "typescript",
}
#: seconds semgrep may spend on one rule and one file before it gives that file up (reported as skipped)
PER_FILE_TIMEOUT = 10
#: at most this many files scanned at once by one semgrep run (one per core, fewer for fewer files)
MAX_JOBS = 4
#: RLIMIT_AS of a semgrep run: this much, plus `MEMORY_PER_JOB_MB` per job (measured: 1 job needs more than
#: 2,048 MiB, 2 jobs up to 3,584, 8 jobs up to 10,240)
MEMORY_BASE_MB = 3072
MEMORY_PER_JOB_MB = 1024


def applies(path: str) -> bool:
    """Whether semgrep's LLM-code rules read this path (decided from its suffix only)."""
    return Path(path).suffix.lower() in LANGUAGES


def semgrep_binary() -> str:
    """`PRGUARD_SEMGREP` (a path to a semgrep executable), else the semgrep beside this interpreter (the
    virtualenv's), else the one on PATH."""
    explicit = os.environ.get("PRGUARD_SEMGREP")
    if explicit:
        if not os.access(explicit, os.X_OK):
            raise SemgrepError(f"PRGUARD_SEMGREP is not an executable: {explicit}")
        return explicit
    beside = Path(sys.executable).parent / "semgrep"
    if beside.is_file():
        return str(beside)
    found = shutil.which("semgrep")
    if found is None:
        raise SemgrepError("semgrep is not installed: LLM-code rules were not run")
    return found


def jobs(targets: int) -> int:
    """Files scanned at once: one per core this process may use, at most `MAX_JOBS`, at most `targets`."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_JOBS, targets))


def memory_mb(job_count: int) -> int:
    """The address-space limit of a run with `job_count` jobs."""
    return MEMORY_BASE_MB + MEMORY_PER_JOB_MB * job_count


def command(targets: Sequence[str], rules: Path = RULES_DIR, job_count: int = 1) -> list[str]:
    """The argv of one offline run over `targets` (relative paths, already checked repository paths)."""
    return [
        semgrep_binary(), "scan", "--config", str(rules), "--json", "--quiet", "-j", str(job_count),
        "--metrics=off", "--disable-version-check", "--no-rewrite-rule-ids", "--disable-nosem",
        "--no-git-ignore", "--oss-only", "--max-target-bytes", "0", "--timeout", str(PER_FILE_TIMEOUT),
        "--timeout-threshold", "0",
        # "./" keeps a path that starts with "-" from reading as an option
        *(f"./{t}" for t in targets),
    ]


def environment(home: Path) -> dict[str, str]:
    """Variables that keep semgrep offline and inside the check's private HOME."""
    state = home / ".semgrep"
    state.mkdir(mode=0o700, exist_ok=True)
    return {
        "SEMGREP_ENABLE_VERSION_CHECK": "0",
        "SEMGREP_SEND_METRICS": "off",
        "SEMGREP_SETTINGS_FILE": str(state / "settings.yml"),
        "SEMGREP_LOG_FILE": str(state / "semgrep.log"),
        "SEMGREP_VERSION_CACHE_PATH": str(state / "version-cache"),
        "SEMGREP_USER_AGENT_APPEND": "prguard",
    }


def scan(files: Sequence[ChangedFile], ctx: CheckContext) -> Iterable[Finding | Skipped]:
    """Findings of every shipped rule on `files` (those `applies` accepts; others are ignored)."""
    return list(_scan(files, ctx))


def _scan(files: Sequence[ChangedFile], ctx: CheckContext) -> Iterator[Finding | Skipped]:
    wanted = [f.path for f in files if applies(f.path) and f.status is not FileStatus.REMOVED
              and not f.is_symlink and not f.is_binary]
    if not wanted:
        return
    root = ctx.materialize(paths=wanted)
    present = [p for p in wanted if (root / p).is_file()]  # absent, symlinked or over the cap: not written
    if not present:
        return
    job_count = jobs(len(present))
    proc = ctx.run_tool(command(present, job_count=job_count), cwd=root,
                        env=environment(ctx.workspace.home()), memory_mb=memory_mb(job_count))
    try:
        output = json.loads(proc.stdout.decode("utf-8", "replace") or "null")
    except json.JSONDecodeError:
        output = None
    if not isinstance(output, dict):
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        raise SemgrepError(f"semgrep exited with {proc.returncode} and no JSON report: {tail[0][:300]}")
    yield from parse_output(output, root, present)
