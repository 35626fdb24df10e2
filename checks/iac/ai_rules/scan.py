"""Routing one file to the rules for its format, decided by content once the path says HCL or YAML."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping

import yaml

from checks.finding import Finding, make_fingerprint
from checks.iac.ai_rules import (
    compose_helm,
    envoy_cfn,
    gateways,
    hcldoc,
    k8s_models,
    kubernetes,
    tf_access,
    tf_services,
)
from checks.iac.ai_rules.catalog import BY_ID
from checks.iac.ai_rules.keys import might_hold_key
from checks.iac.ai_rules.tf_common import Module, key_literals, tfvars
from checks.iac.ai_rules.yamldoc import LDict, YamlTooLarge, load_all

_GATEWAY_NAME = re.compile(r"litellm|kong", re.I)
_GATEWAY_TEXT = re.compile(r"^\s*(?:model_list|litellm_settings|_format_version)\s*:", re.M)


def scan_hcl(path: str, text: str, module_files: Mapping[str, str]) -> list[Finding]:
    try:
        own = hcldoc.load(text)
    except ValueError:  # unbalanced braces or too large: checkov reports the parse error on this file
        return []
    others = []
    for other_path, other_text in module_files.items():
        if other_path == path or not other_path.endswith(".tf"):
            continue
        try:
            others.extend(hcldoc.load(other_text))
        except ValueError:  # a broken sibling only loses context, never this file's findings
            continue
    module = Module(path, own, others)
    out = key_literals(module)
    for rules in (tf_services.azure, tf_services.aws, tf_access.gateways, tf_access.iam):
        out += rules(module)
    if any(block.broken for block in own):
        return []  # a block hcl2 cannot read: checkov reports the syntax error, and our view is partial
    return out


def scan_tfvars(path: str, text: str) -> list[Finding]:
    if len(text) > hcldoc.MAX_BYTES or not might_hold_key(text):
        return []
    try:
        attrs = hcldoc.clean(hcldoc.loads(text))
    except (ImportError, AttributeError):
        raise
    except Exception:
        return []
    return tfvars(path, attrs, text)


def _unparsable(path: str, text: str, error: Exception) -> list[Finding]:
    """Only prguard reads LiteLLM/Kong configs: a broken one is a finding, not silence."""
    if not (_GATEWAY_NAME.search(posixpath.basename(path)) or _GATEWAY_TEXT.search(text[:20_000])):
        return []
    if "{{" in text:
        return []  # a Helm/Go template, not a config: the IaC check reports charts it cannot render
    rule = BY_ID["PRG-AI-039"]
    reason = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
    return [
        Finding(
            rule_id=rule.id,
            severity=rule.severity,
            path=path,
            line=0,
            end_line=0,
            title=rule.title,
            message=f"{path} looks like an AI gateway config but could not be parsed: {reason}",
            remediation=rule.fix,
            fingerprint=make_fingerprint(rule.id, path, "parse"),
            metadata={"engine": "prguard", "owasp": rule.owasp, "resource": path, "doc": rule.doc_url},
        )
    ]


def scan_yaml(path: str, text: str) -> list[Finding]:
    try:
        docs = load_all(text)
    except (yaml.YAMLError, YamlTooLarge, RecursionError, ValueError) as error:
        return _unparsable(path, text, error)
    name = posixpath.basename(path.lower())
    out: list[Finding] = []
    if name.startswith("values") and name.endswith((".yaml", ".yml")):
        for doc in docs:
            out += compose_helm.helm_values(doc.root, path, doc.end_line)
            out += k8s_models.remote_code_values(doc.root, path)
            out += compose_helm.helm_exposure(doc.root, path)
        return out
    for doc in docs:
        root = doc.root
        if not isinstance(root, LDict):
            continue
        if gateways.is_litellm(root):
            out += gateways.litellm(root, path)
        elif gateways.is_kong(root):
            out += gateways.kong(root, path)
        elif isinstance(root.get("static_resources"), LDict):
            out += envoy_cfn.envoy_static(root, path)
        elif envoy_cfn.is_cfn(root):
            out += envoy_cfn.cloudformation(root, path)
        elif isinstance(root.get("services"), LDict) and "kind" not in root:
            out += compose_helm.compose(root, path, doc.end_line)
    out += kubernetes.scan(docs, path)
    return out
