"""`ScanReport`: everything one `prguard scan` produced, in the shape every output format reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cache, cached_property
from importlib import metadata

from checks.change import could_hold_text
from checks.engine import CheckResult
from checks.finding import Finding, Severity, Skipped
from checks.redact import redact_in
from checks.secrets.scanner import secrets_in_path
from checks.waivers import Applied, Waiver, apply, today_utc

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
    #: the base policy's `fail_on_unscanned`: skipped files that could hold text then block (`unscanned`)
    fail_on_unscanned: bool = False
    #: paths the policy ignores for every check: never blocking as "not scanned"
    ignored: frozenset[str] = field(default_factory=frozenset)
    #: the base policy's `waivers:` (`checks.waivers`): a waived finding is listed as waived, never blocking
    waivers: list[Waiver] = field(default_factory=list)
    today: date = field(default_factory=today_utc)

    @cached_property
    def _applied(self) -> Applied:
        return apply((f for r in self.results for f in r.findings), self.waivers, self.today)

    def waiver_of(self, finding: Finding) -> Waiver | None:
        """The current waiver that covers `finding`, or None."""
        return next((w.waiver for w in self._applied.waived if w.finding is finding), None)

    def expired_waiver_of(self, finding: Finding) -> Waiver | None:
        """The expired policy waiver that no longer covers `finding` (it counts again), or None."""
        return next((w.waiver for w in self._applied.expired if w.finding is finding), None)

    def waived(self) -> list[Finding]:
        return [w.finding for w in self._applied.waived]

    @cached_property
    def _path_secrets(self) -> tuple[str, ...]:
        """Secrets that are part of a printed path: the detectors' own finds in every path, and the spans
        the secrets check marked (`path_span`: a key found in a file's text that names another file)."""
        found: set[str] = set()
        for finding in (f for r in self.results for f in r.findings):
            span = finding.metadata.get("path_span")
            if isinstance(span, list | tuple) and len(span) == 2 and 0 <= span[0] < span[1]:
                found.add(finding.path[span[0] : span[1]])
        paths = {f.path for r in self.results for f in r.findings} | {s.path for s in self.skipped()}
        for path in paths:
            found.update(h.value for h in secrets_in_path(path))
        return tuple(found)

    def hide(self, text: str) -> str:
        """`text` (a path, a message, a skip reason) with every secret that is part of a path redacted:
        a key used as a file name must not be printed whole, wherever that name appears."""
        return redact_in(text, self._path_secrets) if self._path_secrets else text

    def findings(self) -> list[Finding]:
        found = [f for r in self.results for f in r.findings]
        return sorted(found, key=lambda f: (f.path, f.line, -f.severity.rank, f.rule_id))

    def blocking(self) -> list[Finding]:
        """Findings at or above their check's threshold that no current waiver covers."""
        waived = {id(f) for f in self.waived()}
        return [f for r in self.results for f in r.findings
                if f.severity.at_least(self.threshold(r.check)) and id(f) not in waived]

    def threshold(self, check: str) -> Severity:
        return self.fail_on.get(check, Severity.HIGH)

    def skipped(self) -> list[Skipped]:
        """Every file not scanned, once per (path, reason), whichever check reported it."""
        seen: dict[tuple[str, str], Skipped] = {}
        for item in [*self.skipped_by_change, *(s for r in self.results for s in r.skipped)]:
            seen.setdefault((item.path, item.reason), item)
        return sorted(seen.values(), key=lambda s: (s.path, s.reason))

    def unscanned(self) -> list[Skipped]:
        """Skipped files that block under `fail_on_unscanned` (one entry per path): a file that could hold
        text (over the size cap, binary-looking but maybe text, unreadable) was never read."""
        if not self.fail_on_unscanned:
            return []
        seen: dict[str, Skipped] = {}
        for item in self.skipped():
            if could_hold_text(item.reason) and item.path not in self.ignored:
                seen.setdefault(item.path, item)
        return list(seen.values())

    def is_blocking(self, item: Skipped) -> bool:
        """Whether this skipped entry is one of `unscanned` (it fails the scan)."""
        return (item.path, item.reason) in {(u.path, u.reason) for u in self.unscanned()}

    def errors(self) -> list[CheckResult]:
        """Checks that could not finish: the scan is incomplete and says so."""
        return [r for r in self.results if r.error is not None]

    def exit_code(self) -> int:
        """2 when a check errored (the result cannot be trusted), 1 on blocking findings or (with
        `fail_on_unscanned`) files not scanned, else 0."""
        if self.errors():
            return 2
        return 1 if self.blocking() or self.unscanned() else 0
