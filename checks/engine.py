"""Run checks over a `Change`: keep what the change introduced, dedupe, and record errors, skips and time.

The engine is the one place that enforces "report only what the change introduced", so every check,
present and future, gets it for free. What counts as introduced is the check's `novelty`
(`checks.base.Novelty`): the finding's line was added, its range touches an added line, or (baseline) the
same check run on the base side did not produce its fingerprint. A finding that names a commit of the
change's history (`metadata["commit"]`, `Change.history`) was found in what that commit added and is kept
in every mode (`_split_history`).

It also owns each check's deadline and temporary trees: a check is given `timeout` seconds (both runs of a
baseline check share them); a generator is no longer consumed once they are spent, an engine subprocess is
killed at the deadline (`checks.tools`), and either way the check reports an error, never a partial pass.
Python code that computes for long without yielding can only be stopped at its next yield (no thread is
killed), so heavy work belongs in an engine run through `ctx.run_tool`.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from checks import registry
from checks.base import Check, Novelty, novelty_of
from checks.change import Change, ChangedFile, FileStatus, FileTooLarge, LineSet, looks_binary
from checks.context import DEFAULT_TIMEOUT, CheckContext, Deadline, Workspace
from checks.diff import line_count
from checks.finding import Finding, Severity, Skipped
from checks.policy import Policy
from checks.tools import CheckTimeout

__all__ = ["DEFAULT_TIMEOUT", "CheckResult", "create_checks", "run_check", "run_checks"]


@dataclass
class CheckResult:
    """What one check produced on one change. `error` set means the check could not finish."""

    check: str
    title: str
    findings: list[Finding] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    error: str | None = None
    duration_s: float = 0.0
    files_scanned: int = 0

    def blocking(self, fail_on: Severity) -> list[Finding]:
        return [f for f in self.findings if f.severity.at_least(fail_on)]


class _Overtime(Exception):
    """The check's generator was still yielding at its deadline."""


def run_check(
    check: Check,
    change: Change,
    *,
    policy: Policy | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    services: Mapping[str, Any] | None = None,
    cancel: threading.Event | None = None,
) -> CheckResult:
    """Run one check; an exception becomes `error` (reported as a failure), never a silent pass.

    `policy` (default: `Policy()`) gives the check's ignore_paths and its settings (`ctx.policy`). Setting
    `cancel` stops the check early (its engines are killed); it then reports an error, never a pass.
    """
    started = time.perf_counter()
    policy = policy or Policy()
    result = CheckResult(check=check.name, title=check.title, skipped=list(change.skipped))
    workspace = Workspace()
    deadline = Deadline(timeout, cancel)
    by_path = {f.path: f for f in (*change.files, *change.streamable)}
    novelty = Novelty.ADDED_LINE
    found: list[Finding] = []
    on_base: set[str] | None = None  # fingerprints the base run found (baseline mode)
    ctx: CheckContext | None = None
    try:
        novelty = novelty_of(check)
        files = [f for f in change.scannable()
                 if not policy.ignores(f.path, check.name) and check.applies_to(f)]
        if getattr(check, "streams", False):  # it reads oversized files as streams (`checks.streaming`)
            streamed = [f for f in change.streamable
                        if not policy.ignores(f.path, check.name) and check.applies_to(f)]
            files += streamed
            taken = {f.path for f in streamed}
            result.skipped = [s for s in result.skipped if s.path not in taken]
        result.files_scanned = len(files)
        ctx = CheckContext(change, side="head", files=files, policy=policy.check(check.name),
                           deadline=deadline, services=services, workspace=workspace)
        _consume(check, files, ctx, found, result.skipped)
        if novelty is Novelty.BASELINE:
            base_ctx = ctx.for_side("base", _base_files(change, files, deadline))
            before: list[Finding] = []
            _consume(check, base_ctx.files, base_ctx, before, [])  # its skips describe the base: dropped
            on_base = {f.fingerprint for f in before}
    except _Overtime:
        result.error = ("cancelled before it finished" if deadline.cancelled.is_set()
                        else f"did not finish within {deadline.limit:g} s")
    except CheckTimeout as exc:
        result.error = str(exc)
    except Exception as exc:  # any failure must surface as a failed check, never a crash or a pass
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        workspace.close()
        if ctx is not None:
            result.skipped += ctx.skipped
    # what a line-mode check found before it failed is still shown (the run fails anyway); a baseline
    # check's findings cannot be told new from old without both runs, so an error leaves none
    found, from_history = _split_history(found, change)
    if novelty is Novelty.BASELINE:
        kept = [f for f in found if on_base is not None and f.fingerprint not in on_base]
    else:
        kept = [f for f in found if _introduced(f, by_path.get(f.path), novelty)]
    kept += from_history
    kept = [f for f in kept if not policy.ignores(f.path, check.name)]  # an engine may report anywhere
    result.findings = _dedupe(dataclasses.replace(f, check=check.name) if f.check != check.name else f
                              for f in kept)
    result.findings.sort(key=lambda f: (f.path, f.line, -f.severity.rank, f.rule_id))
    result.duration_s = time.perf_counter() - started
    return result


def _consume(check: Check, files: list[ChangedFile], ctx: CheckContext, found: list[Finding],
             skipped: list[Skipped]) -> None:
    """Collect everything one run yields into `found`/`skipped`, stopping at the deadline."""
    items: Iterable[Finding | Skipped] = check.run(files, ctx)
    for item in items:
        if ctx.expired():
            close = getattr(items, "close", None)
            if close is not None:
                close()  # a generator's `finally` blocks run now, not whenever it is collected
            raise _Overtime()
        if isinstance(item, Skipped):
            skipped.append(item)
        else:
            found.append(item)
    if ctx.expired():
        raise _Overtime()


def _split_history(found: list[Finding], change: Change) -> tuple[list[Finding], list[Finding]]:
    """(findings naming no commit, findings naming a commit of `change.history`).

    A finding with `metadata["commit"]` was made from what that commit added (`checks.history`), so it is
    introduced by construction: it is judged by the history (is the commit one of the change's?), not by the
    head's added lines or a baseline run, and its path need not be in the final change (a key committed and
    deleted on the branch). One naming any other commit, or made on a change without a history, is dropped.
    """
    plain: list[Finding] = []
    judged: list[Finding] = []
    for f in found:
        commit = f.metadata.get("commit")
        if commit is None:
            plain.append(f)
        elif change.history is not None and commit in change.history:
            judged.append(f)
    return plain, judged


def _introduced(finding: Finding, file: ChangedFile | None, novelty: Novelty) -> bool:
    """Line modes: the finding is on a changed, not removed, file, and on (or touching) an added line.

    A whole-file finding counts when the change added the file or added lines to it (a changed binary
    file counts as wholly added): a rename or a mode change alone introduces nothing.
    """
    if file is None or file.status is FileStatus.REMOVED:
        return False
    if finding.file_level:
        return file.status is FileStatus.ADDED or bool(file.added_lines)
    if novelty is Novelty.TOUCHES_ADDED:
        end = finding.end_line if finding.end_line and finding.end_line > finding.line else finding.line
        return file.added_lines.overlaps(finding.line, end)
    return finding.line in file.added_lines


def _base_files(change: Change, head_files: list[ChangedFile], deadline: Deadline) -> list[ChangedFile]:
    """The head run's files as they were on the base, under their head paths so fingerprints compare.

    A file the change added has no base version and is left out; so is one whose base is a symlink, absent
    or over the size cap (its head findings then all count as new: the loud direction). Every base line
    counts, since the base run is there to find what the base already had.
    """
    base: list[ChangedFile] = []
    for f in head_files:
        if deadline.expired():
            raise _Overtime()
        if f.status is FileStatus.ADDED:
            continue
        data = _read_base(change, f.old_path or f.path)
        if data is None:
            continue
        base.append(ChangedFile(
            path=f.path, status=f.status, old_path=f.old_path, is_binary=looks_binary(data), size=len(data),
            added_lines=LineSet.whole(line_count(data)), head_loader=lambda data=data: data,
            base_loader=lambda data=data: data,
        ))
    return base


def _read_base(change: Change, path: str) -> bytes | None:
    try:
        return change.read(path, "base")
    except FileTooLarge:
        return None


def _dedupe(findings: Iterable[Finding]) -> list[Finding]:
    seen: set[tuple[str, int, str]] = set()
    out: list[Finding] = []
    for f in findings:
        key = (f.path, f.line, f.fingerprint)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def create_checks(names: Sequence[str]) -> tuple[list[Check], list[CheckResult]]:
    """Instances of the named (available) checks. One that cannot even be built becomes an errored result,
    so it is reported as a failure while the others still run: never a crash, never a silent pass."""
    checks: list[Check] = []
    broken: list[CheckResult] = []
    for name in names:
        try:
            checks.append(registry.create(name))
        except Exception as exc:
            broken.append(CheckResult(check=name, title=registry.TITLES.get(name, name),
                                      error=f"could not load: {type(exc).__name__}: {exc}"))
    return checks, broken


def run_checks(
    checks: Sequence[Check],
    change: Change,
    *,
    policy: Policy | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    services: Mapping[str, Any] | None = None,
    parallel: bool = True,
    cancel: threading.Event | None = None,
) -> list[CheckResult]:
    """Run several checks on one change, concurrently when asked, results in the order given.

    Each check gets its own `timeout` and the policy's ignore_paths and settings for it. `cancel` stops them
    all; an interrupt here (Ctrl-C) sets it, so engines do not run on while the pool winds down.
    """
    cancel = cancel or threading.Event()

    def one(check: Check) -> CheckResult:
        return run_check(check, change, policy=policy, timeout=timeout, services=services, cancel=cancel)

    if not parallel or len(checks) < 2:
        return [one(c) for c in checks]
    with ThreadPoolExecutor(max_workers=len(checks)) as pool:
        try:
            return list(pool.map(one, checks))
        except BaseException:
            cancel.set()
            raise
