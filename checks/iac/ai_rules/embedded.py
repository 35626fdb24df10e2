"""AI gateway configs embedded in Kubernetes ConfigMaps: LiteLLM's Helm chart and most hand-written
deployments ship `config.yaml` as a ConfigMap key, so the gateway rules must read it there too."""

from __future__ import annotations

import dataclasses

import yaml

from checks.finding import Finding, make_fingerprint
from checks.iac.ai_rules import gateways
from checks.iac.ai_rules.k8s_model import Obj
from checks.iac.ai_rules.yamldoc import LDict, YamlTooLarge, line_of, load_all


def configmap_gateways(objs: list[Obj], path: str) -> list[Finding]:
    """LiteLLM/Kong rules on each ConfigMap value that is such a config, lines mapped to the manifest."""
    out: list[Finding] = []
    for cm in (o for o in objs if o.kind == "ConfigMap"):
        data = cm.root.get("data")
        if not isinstance(data, LDict):
            continue
        for key, value in data.items():
            if not isinstance(value, str) or "\n" not in value or not gateways.looks_like_gateway(value):
                continue
            try:
                docs = load_all(value)
            except (yaml.YAMLError, YamlTooLarge, RecursionError, ValueError):
                continue  # the engines see the manifest; a broken embedded value is the secrets of no rule
            offset = line_of(data, key)  # a block scalar's first line is the line after its key
            for doc in docs:
                found = []
                if gateways.is_litellm(doc.root):
                    found = gateways.litellm(doc.root, path)
                elif gateways.is_kong(doc.root):
                    found = gateways.kong(doc.root, path)
                out.extend(_shift(f, offset, cm, key) for f in found)
    return out


def _shift(found: Finding, offset: int, cm: Obj, key: str) -> Finding:
    resource = f"{cm.identity}/{key}/{found.metadata.get('resource', '')}"
    end = min((found.end_line or found.line) + offset, cm.end_line)
    return dataclasses.replace(
        found,
        line=found.line + offset,
        end_line=max(end, found.line + offset),
        fingerprint=make_fingerprint(found.rule_id, found.path, resource),
        metadata={**found.metadata, "resource": resource},
    )
