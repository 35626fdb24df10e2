"""OWASP Top 10 for LLM Applications (2025) ids, and the one way prompt-safety findings are built.

Every finding of this check names the OWASP risk it belongs to, so a reviewer can sort an AI finding into
the vocabulary their security team already uses. Building every finding through `Rule.finding` is what makes
that a guarantee rather than a convention: the id lands in `metadata["owasp"]` (SARIF turns it into an
`owasp/LLM01` tag) and in the title (which the check-run summary table and the text output show).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from checks.finding import Finding, Severity, make_fingerprint

OWASP_LLM: dict[str, str] = {
    "LLM01": "Prompt Injection",
    "LLM02": "Sensitive Information Disclosure",
    "LLM03": "Supply Chain",
    "LLM04": "Data and Model Poisoning",
    "LLM05": "Improper Output Handling",
    "LLM06": "Excessive Agency",
    "LLM07": "System Prompt Leakage",
    "LLM08": "Vector and Embedding Weaknesses",
    "LLM09": "Misinformation",
    "LLM10": "Unbounded Consumption",
}

OWASP_URL = "https://genai.owasp.org/llm-top-10/"
CHECK = "prompt-safety"


def owasp_label(owasp_id: str) -> str:
    """`LLM01` -> `LLM01 Prompt Injection` (ValueError for an id outside the 2025 list)."""
    if owasp_id not in OWASP_LLM:
        raise ValueError(f"not an OWASP Top 10 for LLM Applications 2025 id: {owasp_id!r}")
    return f"{owasp_id} {OWASP_LLM[owasp_id]}"


@dataclass(frozen=True)
class Rule:
    """One prompt-safety rule: its id (`prompt-safety/<slug>`), title, severity, OWASP id and remedy."""

    slug: str
    title: str
    severity: Severity
    owasp: str
    remediation: str

    def __post_init__(self) -> None:
        owasp_label(self.owasp)  # a typo in an id fails at import, not in a report

    @property
    def rule_id(self) -> str:
        return f"{CHECK}/{self.slug}"

    def finding(
        self,
        path: str,
        line: int,
        message: str,
        *,
        key: str,
        severity: Severity | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Finding:
        """A finding of this rule. `key` is what identifies it within the file (the matched text, a
        server name): the fingerprint hashes it with the rule and path, never the line."""
        return Finding(
            check=CHECK,
            rule_id=self.rule_id,
            severity=severity or self.severity,
            path=path,
            line=line,
            title=f"{self.title} [OWASP {self.owasp}]",
            message=f"{message} (OWASP {owasp_label(self.owasp)})",
            fingerprint=make_fingerprint(self.rule_id, path, key),
            remediation=self.remediation,
            metadata={"owasp": self.owasp, "owasp_name": OWASP_LLM[self.owasp], "links": [OWASP_URL],
                      **(metadata or {})},
        )


def ensure_owasp(finding: Finding, default: str) -> Finding:
    """A finding from a sub-scanner (models, semgrep) with `metadata["owasp"]` set (to `default` when it
    had none), so the guarantee holds for every finding this check yields."""
    if finding.metadata.get("owasp"):
        return finding
    return dataclasses.replace(finding, metadata={**finding.metadata, "owasp": default,
                                                  "owasp_name": OWASP_LLM[default]})
