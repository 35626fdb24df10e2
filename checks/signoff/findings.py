"""The findings block: a small machine-readable list of a check run's findings, hidden in its output text.

The scan writes it (`bot.github.render`); the sign-off reads it back from prguard's own runs on the head, so
"blocking findings remain" is decided from what prguard itself reported, never from user input.

    <!-- prguard:findings {"v":1,"check":"secrets","fail_on":"high","truncated":false,
                           "findings":[{"fp":"…","sev":"critical","rule":"…","path":"…","blocking":true}]} -->
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

MARKER = "prguard:findings"
MAX_LISTED = 300
_BLOCK = re.compile(r"<!-- prguard:findings (\{.*?\}) -->", re.S)


@dataclass(frozen=True)
class ListedFinding:
    check: str
    fingerprint: str
    severity: str
    rule: str
    path: str
    blocking: bool


def findings_block(check: str, fail_on: str, findings: Iterable[Any]) -> str:
    """The block for `findings` (objects with fingerprint, severity, rule_id, path): blocking ones first,
    at most `MAX_LISTED` (then `truncated`)."""
    from checks.finding import Severity

    threshold = Severity(fail_on)
    items = sorted(findings, key=lambda f: -f.severity.rank)
    listed = [
        {
            "fp": f.fingerprint,
            "sev": f.severity.value,
            "rule": f.rule_id,
            "path": f.path,
            "blocking": f.severity.at_least(threshold),
        }
        for f in items[:MAX_LISTED]
    ]
    data = {
        "v": 1,
        "check": check,
        "fail_on": fail_on,
        "truncated": len(items) > MAX_LISTED,
        "findings": listed,
    }
    text = json.dumps(data, separators=(",", ":")).replace("--", "-\\u002d")
    return f"<!-- {MARKER} {text} -->"


def parse_findings_block(text: str | None) -> tuple[list[ListedFinding], bool] | None:
    """(findings, truncated) from a run's output text; None when the text has no valid block."""
    match = _BLOCK.search(text or "")
    if match is None:
        return None
    try:
        data = json.loads(match.group(1))
        items = [
            ListedFinding(
                str(data.get("check", "")),
                str(f["fp"]),
                str(f["sev"]),
                str(f.get("rule", "")),
                str(f.get("path", "")),
                bool(f.get("blocking")),
            )
            for f in data["findings"]
        ]
    except (ValueError, KeyError, TypeError):
        return None
    return items, bool(data.get("truncated"))
