"""prguard's severities for checkov and zizmor findings, and the OWASP CI/CD risk of each zizmor audit.

Offline, checkov gives no severity, so every checkov id is looked up in the shipped table
`checkov_severities.json` (generated and documented by `checks.iac.severity_gen`; docs/iac.md explains the
classes). An id the table does not know (a newer checkov) gets the documented default of its prefix.
zizmor gives a severity and a confidence: the severity is kept, one step lower when zizmor's confidence
is low (its own "false positives likely" flag).
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

from checks.finding import Severity

TABLE = Path(__file__).with_name("checkov_severities.json")

#: severity for an id missing from the table, by prefix (longest first); then `UNKNOWN_DEFAULT`
PREFIX_DEFAULTS: dict[str, Severity] = {
    "CKV_SECRET_": Severity.CRITICAL,
    "CKV_DOCKER_": Severity.LOW,
    "CKV2_DOCKER_": Severity.LOW,
}
UNKNOWN_DEFAULT = Severity.MEDIUM

#: checkov's policy index page per framework (no per-check page is derivable offline)
POLICY_INDEX = "https://www.checkov.io/5.Policy%20Index/{}.html"


@functools.cache
def _table() -> dict[str, dict[str, Any]]:
    return json.loads(TABLE.read_text())["checks"]


def table_ids() -> set[str]:
    return set(_table())


def checkov_severity(check_id: str) -> Severity:
    entry = _table().get(check_id)
    if entry is not None:
        return Severity(entry["severity"])
    for prefix in sorted(PREFIX_DEFAULTS, key=len, reverse=True):
        if check_id.startswith(prefix):
            return PREFIX_DEFAULTS[prefix]
    return UNKNOWN_DEFAULT


def checkov_reason(check_id: str) -> str:
    """Why the table gives this severity ("public exposure", "default: …"), for the finding's metadata."""
    entry = _table().get(check_id)
    return str(entry["why"]) if entry else "default for ids missing from the table"


_ENSURE = re.compile(r"^\s*(?:ensure|make sure|verify)(?:\s+that)?\s+", re.IGNORECASE)


def remediation_from_name(name: str, resource: str) -> str:
    """A short fix written from the check's name (checkov's guideline links need its online API)."""
    text = name.strip().rstrip(".")
    if _ENSURE.match(text):
        text = _lower_first(_ENSURE.sub("", text))
        return f"Change `{resource}` so that {text}." if resource else f"Make sure that {text}."
    return f"Change `{resource}`: {_lower_first(text)}." if resource else f"{text}."


def _lower_first(text: str) -> str:
    """"The bucket" → "the bucket", but "S3 bucket" and "IAM" keep their capitals."""
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


_ZIZMOR_SEVERITY = {"high": Severity.HIGH, "medium": Severity.MEDIUM, "low": Severity.LOW,
                    "informational": Severity.INFO, "unknown": Severity.MEDIUM}
_LOWER = {Severity.CRITICAL: Severity.HIGH, Severity.HIGH: Severity.MEDIUM, Severity.MEDIUM: Severity.LOW,
          Severity.LOW: Severity.INFO, Severity.INFO: Severity.INFO}


def zizmor_severity(severity: str, confidence: str) -> Severity:
    mapped = _ZIZMOR_SEVERITY.get(severity.lower(), Severity.MEDIUM)
    return _LOWER[mapped] if confidence.lower() == "low" else mapped


#: OWASP Top 10 CI/CD Security Risks (2022): id → title
CICD_RISKS: dict[str, str] = {
    "CICD-SEC-1": "Insufficient Flow Control Mechanisms",
    "CICD-SEC-2": "Inadequate Identity and Access Management",
    "CICD-SEC-3": "Dependency Chain Abuse",
    "CICD-SEC-4": "Poisoned Pipeline Execution (PPE)",
    "CICD-SEC-5": "Insufficient PBAC (Pipeline-Based Access Controls)",
    "CICD-SEC-6": "Insufficient Credential Hygiene",
    "CICD-SEC-7": "Insecure System Configuration",
    "CICD-SEC-8": "Ungoverned Usage of 3rd Party Services",
    "CICD-SEC-9": "Improper Artifact Integrity Validation",
    "CICD-SEC-10": "Insufficient Logging and Visibility",
}

#: zizmor audit → OWASP CI/CD risk (docs/iac.md has the table and the reasoning)
ZIZMOR_CICD: dict[str, str] = {
    "adhoc-packages": "CICD-SEC-3", "archived-uses": "CICD-SEC-3", "dependabot-cooldown": "CICD-SEC-3",
    "dependabot-execution": "CICD-SEC-3", "impostor-commit": "CICD-SEC-3",
    "known-vulnerable-actions": "CICD-SEC-3", "ref-confusion": "CICD-SEC-3",
    "ref-version-mismatch": "CICD-SEC-3", "stale-action-refs": "CICD-SEC-3", "typosquat-uses": "CICD-SEC-3",
    "unpinned-images": "CICD-SEC-3", "unpinned-tools": "CICD-SEC-3", "unpinned-uses": "CICD-SEC-3",
    "bot-conditions": "CICD-SEC-4", "dangerous-triggers": "CICD-SEC-4", "github-env": "CICD-SEC-4",
    "insecure-commands": "CICD-SEC-4", "template-injection": "CICD-SEC-4",
    "excessive-permissions": "CICD-SEC-5", "undocumented-permissions": "CICD-SEC-5",
    "artipacked": "CICD-SEC-6", "github-app": "CICD-SEC-6", "hardcoded-container-credentials": "CICD-SEC-6",
    "overprovisioned-secrets": "CICD-SEC-6", "secrets-inherit": "CICD-SEC-6",
    "secrets-outside-env": "CICD-SEC-6", "unredacted-secrets": "CICD-SEC-6",
    "use-trusted-publishing": "CICD-SEC-6",
    "unsound-condition": "CICD-SEC-1", "unsound-contains": "CICD-SEC-1", "unsound-ternary": "CICD-SEC-1",
    "concurrency-limits": "CICD-SEC-7", "insecure-url-scheme": "CICD-SEC-7", "misfeature": "CICD-SEC-7",
    "obfuscation": "CICD-SEC-7", "self-hosted-runner": "CICD-SEC-7", "self-repository": "CICD-SEC-7",
    "forbidden-uses": "CICD-SEC-8", "superfluous-actions": "CICD-SEC-8",
    "cache-poisoning": "CICD-SEC-9",
    "anonymous-definition": "CICD-SEC-10",
}
#: checkov's CI checks (GitHub Actions and other pipelines) → OWASP CI/CD risk, by id prefix
CHECKOV_CICD: dict[str, str] = {"CKV2_GHA_": "CICD-SEC-5", "CKV_GHA_": "CICD-SEC-4"}
CICD_DEFAULT = "CICD-SEC-7"


def zizmor_cicd(audit: str) -> str:
    return ZIZMOR_CICD.get(audit, CICD_DEFAULT)


def checkov_cicd(check_id: str) -> str | None:
    for prefix, risk in CHECKOV_CICD.items():
        if check_id.startswith(prefix):
            return risk
    return None
