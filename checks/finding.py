"""The `Finding` record every check produces, and its severity scale."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    """Severity of a finding, ordered so `--fail-on` and policies can compare them."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse: critical=4 … info=0."""
        return _RANK[self]

    def at_least(self, other: Severity) -> bool:
        return self.rank >= other.rank


#: The one ordering of severities, worst first: counts, tables and summaries list them in this order.
SEVERITY_ORDER: tuple[Severity, ...] = (
    Severity.CRITICAL,
    Severity.HIGH,
    Severity.MEDIUM,
    Severity.LOW,
    Severity.INFO,
)
_RANK = {severity: len(SEVERITY_ORDER) - 1 - i for i, severity in enumerate(SEVERITY_ORDER)}


def make_fingerprint(rule_id: str, path: str, content: str) -> str:
    """A fingerprint that survives unrelated lines moving.

    It hashes the rule, the path and the matched content with whitespace collapsed, never the line number,
    so "new in this PR" and waivers keep working when a file is edited elsewhere. 16 hex digits (64 bits)
    are short enough to type in a `/prguard waive` command and long enough not to collide in one repo.
    """
    normalised = " ".join(content.split())
    # surrogateescape: git paths need not be UTF-8, and a fingerprint must never be why a check fails
    digest = hashlib.sha256(f"{rule_id}\0{path}\0{normalised}".encode("utf-8", "surrogateescape")).hexdigest()
    return digest[:16]


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem on one place of the head side of a change.

    `path` is repository-relative with POSIX separators; `line`/`end_line` are 1-based head-side lines.
    `line == 0` means the whole file (a model file, a lockfile problem with no line of its own): see
    `file_level`. `message` must never contain a whole secret: checks redact with `checks.redact.redact`
    first. `check` is filled in by the engine with the check's name, so a check need not set it.
    """

    check: str = field(default="", kw_only=True)
    rule_id: str
    severity: Severity
    path: str
    line: int
    title: str
    message: str
    fingerprint: str
    end_line: int | None = None
    remediation: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def file_level(self) -> bool:
        """True for a finding about the whole file (`line == 0`), shown without a line everywhere."""
        return self.line == 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["severity"] = self.severity.value
        data["end_line"] = self.end_line if self.end_line is not None else self.line
        data["file_level"] = self.file_level
        return data


@dataclass(frozen=True, slots=True)
class Skipped:
    """A file a check did not scan, and why: skips are reported, never silent."""

    path: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}
