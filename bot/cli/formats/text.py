"""Human output: findings grouped by file as `path:line  severity  rule  title`, then a one-line summary.

`path:line` is what terminals and editors turn into a link; a finding about the whole file (`line == 0`)
shows as `path (whole file)`. Colour is only added when asked (a TTY without
NO_COLOR, decided by the caller), so piped output and files stay plain.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from itertools import groupby

from bot.cli.formats.scan_report import ScanReport
from bot.log import scrub
from checks.finding import SEVERITY_ORDER, Finding, Severity
from checks.redact import visible

_RESET = "\033[0m"
_STYLE = {
    Severity.CRITICAL: "\033[1;31m",
    Severity.HIGH: "\033[31m",
    Severity.MEDIUM: "\033[33m",
    Severity.LOW: "\033[36m",
    Severity.INFO: "\033[2m",
}
_BOLD, _DIM = "\033[1m", "\033[2m"
def _safe(text: str) -> str:
    """Text a PR controls (paths, messages that quote them), with control characters made visible."""
    return visible(text)


def _where(finding: Finding, report: ScanReport) -> str:
    path = _safe(report.hide(finding.path))
    return f"{path} (whole file)" if finding.file_level else f"{path}:{finding.line}"


def render(report: ScanReport, *, color: bool = False) -> str:
    def paint(text: str, style: str) -> str:
        return f"{style}{text}{_RESET}" if color else text

    lines: list[str] = []
    findings = report.findings()
    width = max((len(_where(f, report)) for f in findings), default=0)

    def show(text: str) -> str:  # a path, or text quoting one: no secret used as a name, no control chars
        return _safe(report.hide(text))

    explained: set[str] = set()
    for path, group in groupby(findings, key=lambda f: f.path):
        lines.append(paint(show(path), _BOLD))
        for f in group:
            where = _where(f, report).ljust(width)
            severity = paint(f.severity.value.ljust(8), _STYLE[f.severity])
            lines.append(f"  {where}  {severity}  {show(f.rule_id)}  {show(f.title)}")
            lines.extend(f"      {part}" for part in show(f.message).splitlines() if part.strip())
            waiver, expired = report.waiver_of(f), report.expired_waiver_of(f)
            if waiver is not None or expired is not None:  # waived: not blocking; expired: blocks again
                w = waiver or expired
                assert w is not None
                lines.append(paint(f"      {'waived' if waiver else 'NOT waived'}: "
                                   f"{show(w.describe(report.today))}", _DIM if waiver else _BOLD))
            if f.remediation and f.rule_id not in explained:  # once per rule: a long fix is noise repeated
                explained.add(f.rule_id)
                lines.append(paint(f"      fix: {show(' '.join(f.remediation.split()))}", _DIM))
        lines.append("")
    lines.append(_summary(report, paint))
    for item in report.skipped():
        if report.is_blocking(item):  # fail_on_unscanned: as loud as a blocking finding
            lines.append(paint(f"not scanned (blocking) {show(item.path)}: {show(item.reason)}", _BOLD))
        else:
            lines.append(f"skipped {show(item.path)}: {show(item.reason)}")
    for result in report.errors():
        error = show(scrub(result.error or ""))
        lines.append(paint(f"error: check {result.check} did not finish: {error}", _BOLD))
    notes = []
    if report.unavailable:
        notes.append(f"not available yet: {', '.join(report.unavailable)}")
    if report.disabled:
        notes.append(f"disabled by policy: {', '.join(report.disabled)}")
    if notes:
        lines.append(paint("; ".join(notes), _DIM))
    return "\n".join(lines) + "\n"


def _summary(report: ScanReport, paint: Callable[[str, str], str]) -> str:
    findings = report.findings()
    counts = Counter(f.severity for f in findings)
    blocking = len(report.blocking())
    if findings:
        by_severity = ", ".join(f"{counts[s]} {s.value}" for s in SEVERITY_ORDER if counts[s])
        head = f"{len(findings)} finding{'s' if len(findings) != 1 else ''} ({by_severity})"
        head += f", {blocking} blocking" if blocking else ", none blocking"
        if report.waived():
            head += f", {len(report.waived())} waived"
    else:
        head = "No findings"
    parts = [head, f"{report.files_scanned} file{'s' if report.files_scanned != 1 else ''} scanned"]
    if report.files_ignored:
        parts.append(f"{report.files_ignored} ignored by policy")
    skipped = len(report.skipped())
    if skipped:
        parts.append(f"{skipped} skipped")
    unscanned = len(report.unscanned())
    if unscanned:
        parts.append(f"{unscanned} not scanned (blocking: fail_on_unscanned)")
    if report.errors():
        parts.append(f"{len(report.errors())} check error{'s' if len(report.errors()) != 1 else ''}")
    parts.append(f"{report.base[:12]}..{report.head[:12]}")
    style = _BOLD if blocking or unscanned or report.errors() else ""
    text = " · ".join(parts)
    return paint(text, style) if style else text
