"""Machine output: `{"version": 1, "base", "head", "findings", "skipped", "errors"}`.

`errors` lists checks that did not finish (`{"check", "message"}`), so a consumer never mistakes an
incomplete scan for a clean one. A finding about a whole file has `"line": 0` and `"file_level": true`
(every finding carries `file_level`). Bump `version` on any incompatible change to this shape.
"""

from __future__ import annotations

import json
from typing import Any

from bot.cli.formats.scan_report import ScanReport
from bot.log import scrub

VERSION = 1


def document(report: ScanReport) -> dict[str, Any]:
    return {
        "version": VERSION,
        "base": report.base,
        "head": report.head,
        "findings": [f.to_dict() for f in report.findings()],
        "skipped": [s.to_dict() for s in report.skipped()],
        "errors": [{"check": r.check, "message": scrub(r.error or "")} for r in report.errors()],
    }


def render(report: ScanReport, *, color: bool = False) -> str:
    return json.dumps(document(report), indent=2, default=str) + "\n"
