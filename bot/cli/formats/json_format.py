"""Machine output: `{"version": 1, "base", "head", "findings", "skipped", "errors"}`.

`errors` lists checks that did not finish (`{"check", "message"}`), so a consumer never mistakes an
incomplete scan for a clean one. A finding about a whole file has `"line": 0` and `"file_level": true`
(every finding carries `file_level`). A finding covered by a waiver of the base policy has
`"waived": {"source": "policy", "reason", "expires"}` and does not block; one whose waiver expired has
`"waiver_expired"` instead and blocks as usual. A skipped entry has `"blocking": true` when the base policy's
`fail_on_unscanned` makes that unscanned file fail the scan. Bump `version` on any incompatible change to
this shape.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from bot.cli.formats.scan_report import ScanReport
from bot.log import scrub
from checks.finding import Finding, Skipped

VERSION = 1


def document(report: ScanReport) -> dict[str, Any]:
    return {
        "version": VERSION,
        "base": report.base,
        "head": report.head,
        "findings": [_finding(report, f) for f in report.findings()],
        "skipped": [_skipped(report, s) for s in report.skipped()],
        "errors": [{"check": r.check, "message": report.hide(scrub(r.error or ""))} for r in report.errors()],
    }


def _path(path: str) -> dict[str, str]:
    """`{"path"}`, and for a file name that is not UTF-8 (it arrives with surrogate escapes) a readable
    `path` (`caf\\xe9.txt`) plus `uri`, its raw bytes percent-encoded as in the SARIF output: lossless,
    where writing the escapes as lone surrogates (`\\udce9`) would break strict JSON parsers."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raw = path.encode("utf-8", "surrogateescape")
        return {"path": raw.decode("utf-8", "backslashreplace"), "uri": quote(raw, safe="/")}
    return {"path": path}


def _text(text: str) -> str:
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _finding(report: ScanReport, finding: Finding) -> dict[str, Any]:
    """The finding's dict with its path and message free of any secret used as a file name."""
    data = finding.to_dict()
    data.update(_path(report.hide(finding.path)))
    data["message"] = _text(report.hide(finding.message))
    waiver, expired = report.waiver_of(finding), report.expired_waiver_of(finding)
    if waiver is not None:  # not blocking: `waived` says who or which policy waiver, and why
        data["waived"] = {**waiver.to_dict(), "reason": _text(report.hide(waiver.reason))}
    elif expired is not None:  # the waiver expired: the finding counts again
        data["waiver_expired"] = {**expired.to_dict(), "reason": _text(report.hide(expired.reason))}
    return data


def _skipped(report: ScanReport, item: Skipped) -> dict[str, Any]:
    """`{"path", "reason"}`, plus `"blocking": true` only when it fails the scan (the shape stays v1)."""
    data = {**_path(report.hide(item.path)), "reason": _text(report.hide(item.reason))}
    return {**data, "blocking": True} if report.is_blocking(item) else data


def render(report: ScanReport, *, color: bool = False) -> str:
    return json.dumps(document(report), indent=2, default=str) + "\n"
