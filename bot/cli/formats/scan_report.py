"""`ScanReport`: everything one `prguard scan` produced, in the shape every output format reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import metadata

from checks.engine import CheckResult
from checks.finding import Finding, Severity, Skipped

_FALLBACK_URI = "https://pypi.org/project/prguard/"


@cache
def tool_version() -> str:
    try:
        return metadata.version("prguard")
    except metadata.PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


@cache
def information_uri() -> str:
    """The project's home page from the installed package's metadata (SARIF's `informationUri`)."""
    try:
        meta = metadata.metadata("prguard")
    except metadata.PackageNotFoundError:
        return _FALLBACK_URI
    for entry in meta.get_all("Project-URL") or []:
        label, _, url = entry.partition(",")
        if label.strip().lower() in {"homepage", "home", "source", "repository"} and url.strip():
            return url.strip()
    return meta.get("Home-page") or _FALLBACK_URI


@dataclass
class ScanReport:
    """The results of every check on one change, with the thresholds that decide the exit code.

    `fail_on` is per check (the base policy may set a different threshold for each); `unavailable` lists
    checks prguard announces but has not built yet, and `disabled` those the policy turned off, so no output
    ever implies a check ran when it did not.
    """

    root: str
    base: str
    head: str
    results: list[CheckResult]
    fail_on: dict[str, Severity]
    files_scanned: int = 0
    files_ignored: int = 0
    skipped_by_change: list[Skipped] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)

    def findings(self) -> list[Finding]:
        found = [f for r in self.results for f in r.findings]
        return sorted(found, key=lambda f: (f.path, f.line, -f.severity.rank, f.rule_id))

    def blocking(self) -> list[Finding]:
        return [f for r in self.results for f in r.findings if f.severity.at_least(self.threshold(r.check))]

    def threshold(self, check: str) -> Severity:
        return self.fail_on.get(check, Severity.HIGH)

    def skipped(self) -> list[Skipped]:
        """Every file not scanned, once per (path, reason), whichever check reported it."""
        seen: dict[tuple[str, str], Skipped] = {}
        for item in [*self.skipped_by_change, *(s for r in self.results for s in r.skipped)]:
            seen.setdefault((item.path, item.reason), item)
        return sorted(seen.values(), key=lambda s: (s.path, s.reason))

    def errors(self) -> list[CheckResult]:
        """Checks that could not finish: the scan is incomplete and says so."""
        return [r for r in self.results if r.error is not None]

    def exit_code(self) -> int:
        """2 when a check errored (the result cannot be trusted), 1 on blocking findings, else 0."""
        if self.errors():
            return 2
        return 1 if self.blocking() else 0
