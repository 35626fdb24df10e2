"""SARIF 2.1.0 output for GitHub code scanning (`github/codeql-action/upload-sarif`) and SARIF viewers.

GitHub-specific choices: `properties.security-severity` (a CVSS-like number GitHub maps back to
critical/high/medium/low), `tags` with `security` and `external/cwe/cwe-N`, and `partialFingerprints` from
prguard's own fingerprint, which ignores line numbers, so GitHub keeps tracking an alert when unrelated lines
move. A finding about a whole file (`line == 0`) has a location without a region. Paths are relative to
`%SRCROOT%`, which `originalUriBaseIds` maps to the scanned repository for local viewers. A check that did
not finish makes `executionSuccessful` false with an error notification, and every skipped file is a
warning notification: an incomplete scan never looks like a clean one. A finding a base-policy waiver covers
has `suppressions: [{"kind": "external", "justification": …}]` and `properties.blocking: false`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bot.cli.formats.scan_report import ScanReport, information_uri, tool_version
from bot.log import scrub
from checks.finding import Finding, Severity, make_fingerprint

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
FINGERPRINT_KEY = "prguardFingerprint/v1"
SRCROOT = "%SRCROOT%"

_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# CodeQL's vocabulary for non-security severity, which GitHub shows for alerts without security-severity
_PROBLEM_SEVERITY = {"error": "error", "warning": "warning", "note": "recommendation"}
# GitHub: >= 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low (0.0: no security severity)
_SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}


def _uri(path: str) -> str:
    """Percent-encoded relative URI; a file name that is not UTF-8 keeps its raw bytes (`%FF`)."""
    return quote(path.encode("utf-8", "surrogateescape"), safe="/")


def _rule_name(rule_id: str) -> str:
    """`secrets/openai-project-key` -> `OpenaiProjectKey`: SARIF rule names are identifiers, not titles."""
    words = re.split(r"[^A-Za-z0-9]+", rule_id.rsplit("/", 1)[-1])
    return "".join(w[:1].upper() + w[1:] for w in words if w) or "Rule"


def _listed(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list | tuple | set) else [str(value)]


def _tags(finding: Finding) -> list[str]:
    tags = ["security", finding.check]
    for cwe in _listed(finding.metadata.get("cwe")):
        number = cwe.upper().removeprefix("CWE-")
        tags.append(f"external/cwe/cwe-{number}")
    tags += [f"owasp/{o}" for o in _listed(finding.metadata.get("owasp"))]
    return list(dict.fromkeys(tags))


def _links(finding: Finding) -> list[str]:
    found = _listed(finding.metadata.get("links")) + _listed(finding.metadata.get("url"))
    return [link for link in found if link.startswith(("https://", "http://"))]


def _rule(finding: Finding) -> dict[str, Any]:
    remediation = " ".join(finding.remediation.split())
    help_text = remediation or finding.title
    markdown = f"**{finding.title}**\n\n{remediation}" if remediation else f"**{finding.title}**"
    links = _links(finding)
    if links:
        markdown += "\n\n" + "\n".join(f"- <{link}>" for link in links)
    rule: dict[str, Any] = {
        "id": finding.rule_id,
        "name": _rule_name(finding.rule_id),
        "shortDescription": {"text": finding.title},
        "fullDescription": {"text": f"{finding.title} ({finding.check} check, {finding.severity.value})."},
        "help": {"text": help_text, "markdown": markdown},
        "defaultConfiguration": {"level": _LEVEL[finding.severity]},
        "properties": {
            "tags": _tags(finding),
            "precision": "high" if finding.severity.at_least(Severity.HIGH) else "medium",
            "problem.severity": _PROBLEM_SEVERITY[_LEVEL[finding.severity]],
            "prguard/severity": finding.severity.value,
        },
    }
    if finding.severity is not Severity.INFO:
        rule["properties"]["security-severity"] = _SECURITY_SEVERITY[finding.severity]
    if links:
        rule["helpUri"] = links[0]
    return rule


def _result(finding: Finding, rule_index: int, blocking: bool, hide: Callable[[str], str],
            report: ScanReport | None = None) -> dict[str, Any]:
    location: dict[str, Any] = {"artifactLocation": {"uri": _uri(hide(finding.path)), "uriBaseId": SRCROOT}}
    if not finding.file_level:  # a finding about the whole file has no region
        end_line = finding.end_line if finding.end_line and finding.end_line >= finding.line else finding.line
        location["region"] = {"startLine": finding.line, "endLine": end_line}
    properties: dict[str, Any] = {"severity": finding.severity.value, "blocking": blocking,
                                  "check": finding.check}
    if finding.file_level:
        properties["fileLevel"] = True
    if finding.metadata.get("owasp"):  # OWASP Top 10 for LLM Applications id (prompt-safety findings)
        properties["owasp"] = _listed(finding.metadata["owasp"])
    result: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "level": _LEVEL[finding.severity],
        "message": {"text": hide(finding.message or finding.title)},
        "locations": [{"physicalLocation": location}],
        "partialFingerprints": {FINGERPRINT_KEY: finding.fingerprint},
        "properties": properties,
    }
    if report is None:
        return result
    waiver, expired = report.waiver_of(finding), report.expired_waiver_of(finding)
    if waiver is not None:  # a policy waiver kept outside the code: SARIF's "external" suppression
        result["suppressions"] = [{"kind": "external", "status": "accepted",
                                   "justification": hide(waiver.describe(report.today))}]
    elif expired is not None:  # it counts again; say why the waiver no longer applies
        properties["waiverExpired"] = hide(expired.describe(report.today))
    return result


def _notifications(report: ScanReport) -> list[dict[str, Any]]:
    notes: list[dict[str, Any]] = []
    for result in report.errors():
        notes.append(
            {
                "level": "error",
                "message": {
                    "text": report.hide(f"check {result.check} did not finish: {scrub(result.error or '')}")
                },
                "descriptor": {"id": f"prguard/check-error/{result.check}"},
            }
        )
    for item in report.skipped():
        notes.append(
            {
                "level": "warning",
                "message": {"text": report.hide(f"{item.path} was not scanned: {item.reason}")},
                "descriptor": {"id": "prguard/skipped-file"},
                "locations": [{"physicalLocation": {"artifactLocation": {
                    "uri": _uri(report.hide(item.path)), "uriBaseId": SRCROOT}}}],
            }
        )
    return notes


UNSCANNED_RULE = "prguard/not-scanned"


def _unscanned_results(report: ScanReport, rule_index: int) -> list[dict[str, Any]]:
    """`fail_on_unscanned`: each file that could hold text but was not scanned, as a blocking error result
    (a notification alone would not show in code scanning, nor fail anything)."""
    return [
        {
            "ruleId": UNSCANNED_RULE,
            "ruleIndex": rule_index,
            "level": "error",
            "message": {
                "text": report.hide(f"{item.path} was not scanned: {item.reason} (policy: fail_on_unscanned)")
            },
            "locations": [{"physicalLocation": {"artifactLocation": {
                "uri": _uri(report.hide(item.path)), "uriBaseId": SRCROOT}}}],
            "partialFingerprints": {
                FINGERPRINT_KEY: make_fingerprint(UNSCANNED_RULE, item.path, item.reason)
            },
            "properties": {"blocking": True, "fileLevel": True, "check": "prguard"},
        }
        for item in report.unscanned()
    ]


_UNSCANNED_RULE_DOC: dict[str, Any] = {
    "id": UNSCANNED_RULE,
    "name": "NotScanned",
    "shortDescription": {"text": "File not scanned"},
    "fullDescription": {"text": "A changed file that could hold text was not scanned (over the size cap, or "
                                "binary-looking bytes that may be text)."},
    "help": {"text": "Keep the file under the size cap, store text as UTF-8, or list it in ignore_paths."},
    "defaultConfiguration": {"level": "error"},
    "properties": {"tags": ["security"], "problem.severity": "error"},
}


def document(report: ScanReport) -> dict[str, Any]:
    findings = report.findings()
    blocking = {id(f) for f in report.blocking()}
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    results = []
    for finding in findings:
        if finding.rule_id not in index:
            index[finding.rule_id] = len(rules)
            rules.append(_rule(finding))
        results.append(_result(finding, index[finding.rule_id], id(finding) in blocking, report.hide, report))
    if report.unscanned():
        rules.append(_UNSCANNED_RULE_DOC)
        results += _unscanned_results(report, len(rules) - 1)
    invocation: dict[str, Any] = {
        "executionSuccessful": not report.errors(),
        "toolExecutionNotifications": _notifications(report),
        "properties": {"base": report.base, "head": report.head},
    }
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "prguard",
                "version": tool_version(),
                "semanticVersion": tool_version() if re.fullmatch(r"\d+\.\d+\.\d+", tool_version()) else None,
                "informationUri": information_uri(),
                "rules": rules,
            }
        },
        "originalUriBaseIds": {SRCROOT: {"uri": Path(report.root).as_uri() + "/"}},
        "invocations": [invocation],
        "results": results,
        "columnKind": "utf16CodeUnits",
    }
    if run["tool"]["driver"]["semanticVersion"] is None:
        del run["tool"]["driver"]["semanticVersion"]
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def render(report: ScanReport, *, color: bool = False) -> str:
    return json.dumps(document(report), indent=2, default=str) + "\n"
