"""Envoy (static config and Envoy AI Gateway CRDs) rate limits, and CloudFormation AI resources.

PRG-AI-029 for Envoy; CloudFormation reuses the Terraform rules' ids (PRG-AI-019, 022, 023, 030) because the
problem, the doc and the fix are the same whatever language declares the resource.
"""

from __future__ import annotations

import json
import re
from typing import Any

from checks.finding import Finding
from checks.iac.ai_rules.catalog import BY_ID
from checks.iac.ai_rules.model import finding
from checks.iac.ai_rules.yamldoc import Doc, LDict, LList, line_of, seq

_AI_BACKEND = re.compile(
    r"openai|anthropic|bedrock|vertex|gemini|mistral|cohere|groq|vllm|ollama|tgi|triton|"
    r"inference|llm|sagemaker|aiplatform",
    re.I,
)
_HCM = "envoy.filters.network.http_connection_manager"


def _walk(node: Any) -> list[LDict]:
    """Every mapping in `node`, depth first."""
    out: list[LDict] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, LDict):
            out.append(item)
            stack.extend(item.values())
        elif isinstance(item, LList):
            stack.extend(item)
    return out


def envoy_static(root: LDict, path: str) -> list[Finding]:
    """PRG-AI-029: an http_connection_manager routing to an AI cluster with no rate-limit http filter."""
    resources = root.get("static_resources")
    if not isinstance(resources, LDict):
        return []
    ai_clusters = {
        str(c.get("name"))
        for c in seq(resources.get("clusters"))
        if isinstance(c, dict) and _AI_BACKEND.search(json.dumps(c, default=str))
    }
    out: list[Finding] = []
    for node in _walk(resources.get("listeners")):
        if node.get("name") != _HCM or not isinstance(node.get("typed_config"), LDict):
            continue
        config = node["typed_config"]
        clusters = {str(m.get("cluster")) for m in _walk(config.get("route_config")) if "cluster" in m}
        if not clusters & ai_clusters:
            continue
        filters = " ".join(str(f.get("name")) for f in seq(config.get("http_filters")) if isinstance(f, dict))
        if "ratelimit" not in filters.replace("_", ""):
            out.append(
                finding(
                    BY_ID["PRG-AI-029"],
                    path,
                    line_of(config, "http_filters", node.line),
                    node.end_line,
                    f"envoy/{config.get('stat_prefix', 'hcm')}",
                    f"Listener routes to model cluster(s) {', '.join(sorted(clusters & ai_clusters))} "
                    "with no local_ratelimit/ratelimit http filter.",
                )
            )
    return out


def envoy_ai_gateway(docs: list[Doc], path: str) -> list[Finding]:
    """PRG-AI-029: AIGatewayRoute with no token costs and no BackendTrafficPolicy rate limit in the file."""
    roots = [d for d in docs if isinstance(d.root, LDict)]
    limited = any(
        d.root.get("kind") == "BackendTrafficPolicy" and "rateLimit" in (d.root.get("spec") or {})
        for d in roots
    )
    out: list[Finding] = []
    for doc in roots:
        if doc.root.get("kind") != "AIGatewayRoute" or limited:
            continue
        spec = doc.root.get("spec") if isinstance(doc.root.get("spec"), LDict) else LDict()
        name = (doc.root.get("metadata") or {}).get("name")
        if not spec.get("llmRequestCosts"):
            out.append(
                finding(
                    BY_ID["PRG-AI-029"],
                    path,
                    line_of(doc.root, "spec", doc.line),
                    doc.end_line,
                    f"AIGatewayRoute/{name}",
                    f"AIGatewayRoute {name} has no llmRequestCosts and no BackendTrafficPolicy "
                    "rateLimit is in this file: model traffic is not limited by requests or tokens.",
                )
            )
    return out


def is_cfn(root: Any) -> bool:
    if not isinstance(root, LDict):
        return False
    resources = root.get("Resources")
    return "AWSTemplateFormatVersion" in root or (
        isinstance(resources, dict)
        and any(
            isinstance(r, dict) and str(r.get("Type", "")).startswith("AWS::") for r in resources.values()
        )
    )


_CFN_ACTION = re.compile(r"^(?:bedrock|bedrock-agent|bedrock-agentcore|sagemaker)[\w-]*:\*$", re.I)


def cloudformation(root: LDict, path: str) -> list[Finding]:
    out: list[Finding] = []
    resources = root.get("Resources")
    for name, res in resources.items() if isinstance(resources, LDict) else []:
        if not isinstance(res, LDict):
            continue
        kind = str(res.get("Type"))
        props = res.get("Properties") if isinstance(res.get("Properties"), LDict) else LDict()
        start, end = line_of(resources, name), res.end_line

        def add(
            rule_id: str, line: int, message: str, suffix: str = "", _name: str = name, _end: int = end
        ) -> None:
            out.append(finding(BY_ID[rule_id], path, line, _end, f"{_name}{suffix}", message))

        if kind == "AWS::SageMaker::Model" and "VpcConfig" not in props:
            add("PRG-AI-019", start, f"{name} (SageMaker model) has no VpcConfig.")
        elif kind == "AWS::SageMaker::EndpointConfig":
            capture = props.get("DataCaptureConfig")
            if not isinstance(capture, dict) or capture.get("EnableCapture") is False:
                add(
                    "PRG-AI-023",
                    line_of(props, "DataCaptureConfig") if isinstance(capture, dict) else start,
                    f"{name} (SageMaker endpoint config) does not capture requests.",
                )
        elif kind == "AWS::Bedrock::Agent" and "GuardrailConfiguration" not in props:
            add("PRG-AI-022", start, f"{name} (Bedrock agent) has no GuardrailConfiguration at all.")
        elif kind == "AWS::Bedrock::Guardrail" and not _cfn_prompt_filter(props):
            add(
                "PRG-AI-022",
                line_of(props, "ContentPolicyConfig") if "ContentPolicyConfig" in props else start,
                f"{name} (Bedrock guardrail) has no PROMPT_ATTACK input filter.",
            )
        elif kind.startswith("AWS::IAM::"):
            for stmt in (m for m in _walk(props) if "Effect" in m and "Action" in m):
                actions = stmt["Action"] if isinstance(stmt["Action"], list) else [stmt["Action"]]
                resources_ = stmt.get("Resource")
                resources_ = resources_ if isinstance(resources_, list) else [resources_]
                wild = [a for a in actions if isinstance(a, str) and _CFN_ACTION.match(a)]
                if stmt.get("Effect") == "Allow" and wild and "*" in resources_:
                    add(
                        "PRG-AI-030",
                        line_of(stmt, "Action"),
                        f"{name} allows {wild[0]} on every resource.",
                        f"/{wild[0]}",
                    )
    return out


def _cfn_prompt_filter(props: LDict) -> bool:
    policy = props.get("ContentPolicyConfig")
    filters = policy.get("FiltersConfig") if isinstance(policy, dict) else None
    return any(
        isinstance(f, dict)
        and str(f.get("Type")).upper() == "PROMPT_ATTACK"
        and str(f.get("InputStrength")).upper() in {"LOW", "MEDIUM", "HIGH"}
        for f in seq(filters)
    )
