"""The `Rule` record of prguard's AI-infrastructure rules, and the helper that turns a hit into a Finding."""

from __future__ import annotations

from dataclasses import dataclass

from checks.finding import Finding, Severity, make_fingerprint

#: Where every rule's documentation lives; `Rule.doc` is an anchor in it.
DOC_PATH = "docs/rules/iac.md"


@dataclass(frozen=True, slots=True)
class Rule:
    """One AI-infrastructure rule: what the IaC check shows, links and maps to a severity.

    `owasp` is an OWASP Top 10 for LLM Applications 2025 id ("LLM10") or an OWASP CI/CD id ("CICD-SEC-7").
    `doc` is the anchor of the rule's section in docs/rules/iac.md (the lower-cased id).
    """

    id: str
    title: str
    severity: Severity
    owasp: str
    fix: str

    @property
    def doc(self) -> str:
        return self.id.lower()

    @property
    def doc_url(self) -> str:
        return f"{DOC_PATH}#{self.doc}"


def finding(rule: Rule, path: str, line: int, end_line: int | None, resource: str, message: str) -> Finding:
    """A Finding for `rule` on `resource`; the fingerprint hashes the resource identity, never the line."""
    return Finding(
        rule_id=rule.id,
        severity=rule.severity,
        path=path,
        line=line,
        end_line=end_line if end_line is not None and end_line >= line else line,
        title=rule.title,
        message=message,
        remediation=rule.fix,
        fingerprint=make_fingerprint(rule.id, path, resource),
        metadata={"engine": "prguard", "owasp": rule.owasp, "resource": resource, "doc": rule.doc_url},
    )
