"""An advisory's severity: OSV `MAL-` records are critical, else the worst CVSS vector (scored with the
`cvss` library, never by hand), else the database's own label (GHSA's `database_specific.severity`)."""

from __future__ import annotations

from typing import Any

from cvss import CVSS2, CVSS3, CVSS4

#: prguard's severity names (checks.finding.Severity values)
_LABELS = {"critical": "critical", "high": "high", "moderate": "medium", "medium": "medium", "low": "low",
           "none": "info"}
#: what an advisory with no severity data at all is reported as: a known vulnerability is never "info"
UNKNOWN = "medium"


def _from_score(score: float) -> str:
    if score >= 9.0:
        return "critical"
    if score >= 7.0:
        return "high"
    if score >= 4.0:
        return "medium"
    return "low" if score > 0 else "info"


def score_vector(kind: str, vector: str) -> tuple[float, str] | None:
    """(base score, severity) of one OSV `severity` entry; None for a type or vector `cvss` rejects."""
    try:
        if kind == "CVSS_V4":
            c4 = CVSS4(vector)
            return float(c4.base_score), _LABELS.get(str(c4.severity).lower(), UNKNOWN)
        if kind == "CVSS_V3":
            c3 = CVSS3(vector)
            return float(c3.base_score), _LABELS.get(str(c3.severities()[0]).lower(), UNKNOWN)
        if kind == "CVSS_V2":
            c2 = CVSS2(vector)
            return float(c2.base_score), _from_score(float(c2.base_score))
    except Exception:  # a malformed vector in the data must not stop indexing the rest
        return None
    return None


def of_record(record: dict[str, Any]) -> tuple[str, float | None, str]:
    """(severity, CVSS base score or None, where it came from: the vector, "malicious", a label)."""
    if str(record.get("id", "")).startswith("MAL-"):
        return "critical", None, "known malicious package (OSV MAL record)"
    best: tuple[float, str, str] | None = None
    entries = list(record.get("severity") or [])
    for affected in record.get("affected") or []:
        entries += (affected or {}).get("severity") or []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        scored = score_vector(str(entry.get("type", "")), str(entry.get("score", "")))
        if scored and (best is None or scored[0] > best[0]):
            best = (scored[0], scored[1], str(entry.get("score")))
    if best is not None:
        return best[1], best[0], best[2]
    label = str(((record.get("database_specific") or {}).get("severity")) or "").lower()
    if label in _LABELS:
        return _LABELS[label], None, f"database label {label.upper()}"
    return UNKNOWN, None, "no severity in the advisory"
