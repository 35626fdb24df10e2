"""semgrep's JSON report -> prguard findings and skips.

semgrep's own `lines` field says "requires login" in the open-source build, so the matched code is read
back from the materialized file; the fingerprint hashes the rule, the path and that code (never a line
number). A rule's prguard severity and OWASP id come from its `metadata`; its `fix` text becomes the
finding's remediation.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from checks.finding import Finding, Severity, Skipped, make_fingerprint
from checks.prompt_safety.owasp import OWASP_LLM, OWASP_URL, owasp_label
from checks.redact import redact


class SemgrepError(RuntimeError):
    """semgrep could not run, or failed as a whole (bad rule, crash): the check must report an error."""

#: prefix of every rule id this module produces (the prompt-safety check's own)
RULE_PREFIX = "prompt-safety/"
#: the OWASP id of a rule that states none or an unknown one (model supply chain)
DEFAULT_OWASP = "LLM03"
#: semgrep's own severities, used only when a rule states no `metadata.prguard-severity`
_SEMGREP_SEVERITY = {"CRITICAL": Severity.CRITICAL, "ERROR": Severity.HIGH, "HIGH": Severity.HIGH,
                     "WARNING": Severity.MEDIUM, "MEDIUM": Severity.MEDIUM, "INFO": Severity.LOW,
                     "LOW": Severity.LOW}
#: the most code a fingerprint or a message quotes
_MAX_SNIPPET = 400


def _rel(path: str) -> str:
    return path[2:] if path.startswith("./") else path


def severity_of(result: Mapping[str, Any]) -> Severity:
    extra = result.get("extra") or {}
    stated = str((extra.get("metadata") or {}).get("prguard-severity", "")).lower()
    if stated in Severity.__members__.values() or stated in {s.value for s in Severity}:
        return Severity(stated)
    return _SEMGREP_SEVERITY.get(str(extra.get("severity", "")).upper(), Severity.MEDIUM)


def _snippet(root: Path, path: str, start: int, end: int, cache: dict[str, list[str]]) -> str:
    if path not in cache:
        try:
            cache[path] = (root / path).read_text("utf-8", "replace").splitlines()
        except OSError:
            cache[path] = []
    return "\n".join(cache[path][max(start - 1, 0):end])[:_MAX_SNIPPET]


def to_finding(result: Mapping[str, Any], root: Path, cache: dict[str, list[str]]) -> Finding:
    extra = result.get("extra") or {}
    meta = dict(extra.get("metadata") or {})
    rule = str(result.get("check_id", "unknown")).rsplit(".", 1)[-1]
    rule_id = RULE_PREFIX + rule
    path = _rel(str(result.get("path", "")))
    start = int((result.get("start") or {}).get("line", 0))
    end = int((result.get("end") or {}).get("line", start))
    code = _snippet(root, path, start, end, cache)
    owasp = str(meta.get("owasp", ""))
    owasp = owasp if owasp in OWASP_LLM else DEFAULT_OWASP
    message = redact(" ".join(str(extra.get("message", "")).split()))
    return Finding(
        check="prompt-safety",
        rule_id=rule_id,
        severity=severity_of(result),
        path=path,
        line=start,
        end_line=end if end > start else None,
        title=f"{meta.get('title') or rule.replace('-', ' ')} [OWASP {owasp}]",
        message=f"{message} (OWASP {owasp_label(owasp)})",
        fingerprint=make_fingerprint(rule_id, path, code),
        remediation=str(meta.get("fix", "")),
        metadata={
            "owasp": owasp,
            "owasp_name": OWASP_LLM[owasp],
            "links": [OWASP_URL],
            "cwe": meta.get("cwe", []),
            "engine": "semgrep",
            "semgrep_rule": rule,
            "asset_kind": "llm-code",
        },
    )


def _error_paths(error: Mapping[str, Any]) -> list[str]:
    paths = [error["path"]] if isinstance(error.get("path"), str) else []
    for span in error.get("spans") or []:
        if isinstance(span, Mapping) and isinstance(span.get("file"), str):
            paths.append(span["file"])
    return list(dict.fromkeys(_rel(p) for p in paths))


def _lines_of(error: Mapping[str, Any], path: str) -> str:
    """ "lines 2-3" for the spans of `error` in `path` ("" when it names none)."""
    spans = [sp for sp in error.get("spans") or []
             if isinstance(sp, Mapping) and _rel(str(sp.get("file"))) == path]
    ranges = []
    for sp in spans:
        start, end = (sp.get("start") or {}).get("line"), (sp.get("end") or {}).get("line")
        if isinstance(start, int):
            ranges.append(f"{start}" if end in (None, start) else f"{start}-{end}")
    if not ranges:
        return ""
    return ("line " if len(ranges) == 1 and "-" not in ranges[0] else "lines ") + ", ".join(ranges)


def _error_reason(error: Mapping[str, Any], path: str) -> str:
    """Why `path` was not (fully) scanned. Positions only: semgrep's message quotes code, which may hold a
    secret, so it is redacted and shortened."""
    kind = error.get("type")
    kind = kind[0] if isinstance(kind, list) and kind else kind
    where = _lines_of(error, path)
    if str(kind).lower().startswith("partial"):
        return f"partly scanned by the LLM-code rules: semgrep could not parse {where or 'part of it'}"
    message = redact(" ".join(str(error.get("message", "")).split()))[:200]
    at = f" at {where}" if where else ""
    return f"not scanned by the LLM-code rules: semgrep reported {kind}{at}: {message}"


def parse_output(
    output: Mapping[str, Any], root: Path, targets: Sequence[str]
) -> Iterator[Finding | Skipped]:
    """Findings and skips from one report; raises `SemgrepError` for an error tied to no file."""
    cache: dict[str, list[str]] = {}
    for result in output.get("results") or []:
        yield to_finding(result, root, cache)
    reported: set[str] = set()
    for error in output.get("errors") or []:
        paths = [p for p in _error_paths(error) if p in targets]
        if not paths:
            if str(error.get("level", "")).lower() == "warn":
                continue  # a warning about the run (e.g. a rule skipped for a language) loses no file
            raise SemgrepError(f"semgrep failed: {_error_reason(error, '')}")
        for path in paths:
            if path not in reported:
                reported.add(path)
                yield Skipped(path, _error_reason(error, path))
    scanned = {_rel(p) for p in (output.get("paths") or {}).get("scanned") or []}
    if "scanned" in (output.get("paths") or {}):
        for path in targets:
            if path not in scanned and path not in reported:
                yield Skipped(path, "not scanned by the LLM-code rules: semgrep left it out")
