"""Engine results → prguard findings: checkov's failures and zizmor's findings with prguard's severities,
OWASP CI/CD risk ids, documentation links and line-free fingerprints (rule, file, resource).

Why line-free: novelty is decided by baseline (`checks.iac.check`), so a line inserted above a flawed
resource must not make its finding look new.
"""

from __future__ import annotations

import dataclasses

from checks.finding import Finding, Severity, Skipped, make_fingerprint
from checks.iac import checkov, severities, zizmor

PARSE_ERROR = "iac/parse-error"
DOCS = "docs/iac.md"


def unparsable(path: str, reason: str, head: bool) -> list[Finding | Skipped]:
    """A file-level finding (new when the base parsed) and, on the head side, a skip saying it was not
    scanned: an unparsable file is never "clean"."""
    finding = Finding(
        rule_id=PARSE_ERROR, severity=Severity.HIGH, path=path, line=0,
        title="Could not parse this file: it was not scanned",
        message=f"could not parse {path}: {reason}. Its infrastructure/CI checks did not run.",
        fingerprint=make_fingerprint(PARSE_ERROR, path, ""),
        remediation="Fix the syntax error so the file can be scanned (and applied).",
        metadata={"engine": "prguard", "links": [f"{DOCS}#parse-errors"]})
    return [finding, Skipped(path, f"could not parse: {reason}")] if head else [finding]


def checkov_finding(f: checkov.CheckovFailure, reported_on: str | None = None) -> Finding:
    """A finding for `f`, on its own lines, or (`reported_on`: a changed file of the same module) on the
    changed file as a whole, with the same fingerprint."""
    if reported_on is not None:
        finding = checkov_finding(f)
        return Finding(
            rule_id=finding.rule_id, severity=finding.severity, path=reported_on, line=0, title=finding.title,
            message=f"{f.name} — now failed by `{f.resource}` in {f.path} (lines {f.start}-{f.end}), which "
                    f"this change does not touch: a value set here makes it fail (checkov {f.check_id}).",
            fingerprint=finding.fingerprint, remediation=finding.remediation,
            metadata={**finding.metadata, "resource_path": f.path, "resource_lines": [f.start, f.end]})
    severity = severities.checkov_severity(f.check_id)
    metadata: dict[str, object] = {
        "engine": "checkov", "framework": f.framework, "resource": f.resource,
        "severity_reason": severities.checkov_reason(f.check_id),
        "links": [severities.POLICY_INDEX.format(_index_page(f.framework))],
    }
    risk = severities.checkov_cicd(f.check_id)
    if risk:
        metadata["owasp"] = [risk]
    line = max(0, f.start)
    where = f"`{f.resource}`" if f.resource else "this file"
    return Finding(
        rule_id=f.check_id, severity=severity, path=f.path, line=line,
        end_line=f.end if f.end >= line and line else None, title=f.name,
        message=f"{f.name} — failed by {where} (checkov {f.check_id}).",
        fingerprint=make_fingerprint(f.check_id, f.path, _stable_resource(f.resource)),
        remediation=severities.remediation_from_name(f.name, f.resource), metadata=metadata)


def _stable_resource(resource: str) -> str:
    """The resource as fingerprinted: checkov names a workflow's top level `on(<workflow name>)`, so
    renaming a workflow would make its old findings look new."""
    return "on" if resource.startswith("on(") and resource.endswith(")") else resource


def _index_page(framework: str) -> str:
    return {"github_actions": "GitHub%20Actions", "cloudformation": "CloudFormation",
            "kubernetes": "Kubernetes", "terraform": "Terraform", "dockerfile": "Dockerfile",
            "arm": "arm", "bicep": "bicep", "serverless": "serverless", "openapi": "OpenAPI"}.get(
        framework, "all")


def zizmor_finding(f: zizmor.ZizmorFinding) -> Finding:
    risk = severities.zizmor_cicd(f.audit)
    note = f" ({f.annotation})" if f.annotation else ""
    return Finding(
        rule_id=f.audit, severity=severities.zizmor_severity(f.severity, f.confidence), path=f.path,
        line=f.start, end_line=f.end if f.end > f.start else None, title=f.desc,
        message=f"{f.desc}{note} at {f.route or 'the top level'} — {risk} "
                f"{severities.CICD_RISKS[risk]} (zizmor {f.audit}, confidence {f.confidence.lower()}).",
        fingerprint=make_fingerprint(f.audit, f.path, f"{f.route_keys}\0{f.feature}"),
        remediation=f"See {f.url} for how to fix `{f.audit}`." if f.url else "",
        metadata={"engine": "zizmor", "resource": f.route, "owasp": [risk], "confidence": f.confidence,
                  "zizmor_severity": f.severity, "links": [f.url] if f.url else []})


def with_severity(finding: Finding, severity: Severity) -> Finding:
    return dataclasses.replace(finding, severity=severity)


def not_rendered(rule_id: str, changed: list[str], head: bool, *, title: str, message: str,
                 remediation: str, skip_reason: str, fingerprint_extra: str,
                 metadata: dict[str, object]) -> list[Finding | Skipped]:
    """Something that had to be rendered first (a Helm chart, a kustomization) did not render: never clean.
    A finding on each changed file that brought it in (new when the base rendered) and, on the head side, a
    skip with the reason."""
    out: list[Finding | Skipped] = []
    for path in changed:
        out.append(Finding(
            rule_id=rule_id, severity=Severity.HIGH, path=path, line=0, title=title, message=message,
            fingerprint=make_fingerprint(rule_id, path, fingerprint_extra), remediation=remediation,
            metadata={"engine": "prguard", **metadata}))
        if head:
            out.append(Skipped(path, skip_reason))
    return out
