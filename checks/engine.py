"""Run checks over a `Change`: filter to the lines the change added, dedupe, and record errors and skips.

The engine is the one place that enforces "report only what the change introduced", so every check,
present and future, gets it for free.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from checks import registry
from checks.base import Check
from checks.change import Change, ChangedFile
from checks.finding import Finding, Severity, Skipped


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


def _on_added_line(finding: Finding, file: ChangedFile | None) -> bool:
    return file is not None and finding.line in file.added_lines


def run_check(
    check: Check,
    change: Change,
    *,
    ignore: Callable[[str], bool] | None = None,
) -> CheckResult:
    """Run one check; an exception becomes `error` (reported as a failure), never a silent pass."""
    started = time.perf_counter()
    result = CheckResult(check=check.name, title=check.title, skipped=list(change.skipped))
    by_path = {f.path: f for f in change.files}
    files = [
        f for f in change.scannable() if not (ignore and ignore(f.path)) and check.applies_to(f)
    ]
    result.files_scanned = len(files)
    seen: set[tuple[str, int, str]] = set()
    try:
        for item in check.run(files):
            if isinstance(item, Skipped):
                result.skipped.append(item)
                continue
            if not _on_added_line(item, by_path.get(item.path)):
                continue
            key = (item.path, item.line, item.fingerprint)
            if key not in seen:
                seen.add(key)
                result.findings.append(item)
    except Exception as exc:  # any failure must surface as a failed check, never a crash or a pass
        result.error = f"{type(exc).__name__}: {exc}"
    result.findings.sort(key=lambda f: (f.path, f.line, -f.severity.rank, f.rule_id))
    result.duration_s = time.perf_counter() - started
    return result


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
    ignore: Callable[[str, str], bool] | None = None,
    parallel: bool = True,
) -> list[CheckResult]:
    """Run several checks on one change, concurrently when asked, results in the order given.

    `ignore(path, check_name)` lets a policy exclude paths per check.
    """

    def one(check: Check) -> CheckResult:
        only_this: Callable[[str], bool] | None = None
        if ignore is not None:
            def only_this(path: str, name: str = check.name) -> bool:
                return ignore(path, name)
        return run_check(check, change, ignore=only_this)

    if not parallel or len(checks) < 2:
        return [one(c) for c in checks]
    with ThreadPoolExecutor(max_workers=len(checks)) as pool:
        return list(pool.map(one, checks))
