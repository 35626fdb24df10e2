"""One checkov process over one materialized tree, fully offline, and its JSON turned into plain records.

Offline means: `--skip-download` and `BC_SKIP_MAPPING=TRUE` (no Prisma Cloud, no guideline download),
`SKIP_PACKAGE_UPDATE_CHECK` (no PyPI), HOME and caches in the check's private workspace, no external
modules. Only the frameworks of the changed files run. A file checkov could not parse is listed in its
`parsing_errors` and comes back as such, never as "clean".
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from checks.iac.engines import checkov_path, run_engine

if TYPE_CHECKING:
    from checks.context import CheckContext

#: environment that keeps checkov off the network and out of the worker's files
OFFLINE_ENV = {
    "BC_SKIP_MAPPING": "TRUE",
    "SKIP_PACKAGE_UPDATE_CHECK": "true",
    "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false",
    "LOG_LEVEL": "WARNING",
    "PYTHONDONTWRITEBYTECODE": "1",
}


@dataclass(frozen=True)
class CheckovFailure:
    """One failed check on one resource: `path` is repository-relative."""

    check_id: str
    name: str
    path: str
    start: int
    end: int
    resource: str
    framework: str


@dataclass
class CheckovRun:
    failures: list[CheckovFailure] = field(default_factory=list)
    #: repository paths checkov could not parse
    parse_errors: list[str] = field(default_factory=list)
    #: frameworks whose quiet report counted parse errors without naming the files
    unparsed_frameworks: list[str] = field(default_factory=list)


def argv(tree: Path, frameworks: Iterable[str], *, quiet: bool = True) -> list[str]:
    """`--quiet` leaves passed checks out of the JSON (a third of its size, and of the time checkov spends
    writing it), but also the list of files it could not parse: only their number stays."""
    return [checkov_path(), "-d", str(tree), "--framework", *sorted(set(frameworks)), "-o", "json",
            "--compact", *(["--quiet"] if quiet else []), "--skip-download", "--download-external-modules",
            "false", "--skip-results-upload"]


def run(tree: Path, frameworks: Iterable[str], ctx: CheckContext, *, memory_mb: int) -> CheckovRun:
    """Run checkov over `tree` (killed at the check's deadline); RuntimeError on its failure.

    Quiet first; when a framework's summary counts files it could not parse, that framework runs again
    without `--quiet` to learn which (rare: prguard checks YAML, JSON and HCL parse before checkov runs).
    """
    frameworks = sorted(set(frameworks))
    result = _run(tree, frameworks, ctx, memory_mb, quiet=True)
    if result.unparsed_frameworks:
        again = _run(tree, result.unparsed_frameworks, ctx, memory_mb, quiet=False)
        result.parse_errors += again.parse_errors
    return result


def _run(tree: Path, frameworks: list[str], ctx: CheckContext, memory_mb: int, *, quiet: bool) -> CheckovRun:
    done = run_engine(ctx, "checkov", argv(tree, frameworks, quiet=quiet), cwd=tree, memory_mb=memory_mb,
                      env=OFFLINE_ENV)
    tail = " / ".join(done.stderr.decode("utf-8", "replace").strip().splitlines()[-3:])[:400]
    if done.returncode not in (0, 1):  # 0 = all passed, 1 = some failed
        raise RuntimeError(f"checkov exited with status {done.returncode}: {tail}")
    try:
        return parse(done.stdout, tree)
    except RuntimeError as exc:
        raise RuntimeError(f"{exc} (exit status {done.returncode}): {tail}") from None


def parse(stdout: bytes, tree: Path) -> CheckovRun:
    """checkov's JSON (one report, or a list of them with several frameworks) → failures and parse errors."""
    text = stdout.decode("utf-8", "replace").strip()
    if not text:  # `-o json` always prints a report, even for no resources: nothing means it died
        raise RuntimeError("checkov printed no report")
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError:
        raise RuntimeError(f"checkov printed no JSON: {text[:200]!r}") from None
    reports = data if isinstance(data, list) else [data]
    out = CheckovRun()
    root = str(tree).rstrip("/")
    for report in reports:
        if not isinstance(report, dict):
            continue
        framework = str(report.get("check_type", ""))
        results = report.get("results") or {}
        for item in results.get("failed_checks") or []:
            start, end = [*(item.get("file_line_range") or []), 0, 0][:2]
            out.failures.append(CheckovFailure(
                check_id=str(item["check_id"]), name=str(item.get("check_name") or item["check_id"]),
                path=_relative(str(item.get("file_path") or ""), root), start=int(start or 0),
                end=int(end or 0), resource=_relative(str(item.get("resource") or ""), root),
                framework=framework))
        named = [_relative(str(p), root) for p in results.get("parsing_errors") or []]
        out.parse_errors += named
        counted = (report.get("summary") or {}).get("parsing_errors") or 0
        if counted and not named and framework:
            out.unparsed_frameworks.append(framework)
    return out


def _relative(path: str, root: str) -> str:
    """checkov prints `/dir/file` relative to `-d`, sometimes the absolute path: both → `dir/file`."""
    if path.startswith(root + "/"):
        path = path[len(root) + 1:]
    return path.lstrip("/")
