"""prguard's own AI-infrastructure rules for the IaC check: what neither checkov nor zizmor knows.

Interface used by `checks/iac/check.py`:
- `RULES`: every rule (id, title, severity, owasp, doc anchor in docs/rules/iac.md, one-line fix);
- `applies(path)`: whether `scan_file` reads this kind of file, from the path alone;
- `scan_file(path, text, module_files=None)`: pure, bounded, offline. Returns Findings; a file that does not
  parse gives [] (the engines report it) unless only prguard reads that format (LiteLLM/Kong configs): then
  one file-level PRG-AI-039 finding. `module_files` (other .tf files of the same directory, path → text) lets
  module-wide rules (diagnostic settings, Bedrock logging, API policies) see resources in sibling files.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping

from checks.finding import Finding
from checks.iac.ai_rules.catalog import BY_ID, RULES
from checks.iac.ai_rules.model import Rule, finding
from checks.iac.ai_rules.scan import scan_hcl, scan_tfvars, scan_yaml

_YAML = (".yaml", ".yml")
_JSON_HINTS = ("template", "cfn", "cloudformation", "stack", "kong", "envoy", "litellm")


def applies(path: str) -> bool:
    """Terraform (.tf, .tfvars), YAML (Kubernetes/Helm/Kustomize, LiteLLM, Kong, Envoy, compose,
    CloudFormation) and CloudFormation/Kong JSON. Workflows under .github/ are zizmor's."""
    lower = path.lower()
    if lower.startswith(".github/") or "/.github/" in lower:
        return False
    if lower.endswith((".tf", ".tfvars", *_YAML)):
        return True
    name = posixpath.basename(lower)
    return name.endswith(".json") and any(hint in name for hint in _JSON_HINTS)


def scan_file(path: str, text: str, module_files: Mapping[str, str] | None = None) -> list[Finding]:
    """Findings of every AI-infrastructure rule on one file (head-side text)."""
    lower = path.lower()
    if lower.endswith(".tf"):
        return scan_hcl(path, text, module_files or {})
    if lower.endswith(".tfvars"):
        return scan_tfvars(path, text)
    if applies(path):
        return scan_yaml(path, text)
    return []


__all__ = ["BY_ID", "RULES", "Rule", "applies", "finding", "scan_file"]
