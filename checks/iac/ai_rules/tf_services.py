"""Managed AI services in Terraform: exposure, isolation, guardrails, logging (PRG-AI-017…019, 022…026).

Only what checkov 3.3 does not already check: its CKV_AZURE_134/236 cover `azurerm_cognitive_account` public
access and local auth, CKV2_GCP_33/34 Vertex AI endpoints, CKV_AWS_383 a Bedrock agent's guardrail, so these
rules look at the newer `azurerm_ai_services`/`azurerm_ai_foundry`, guardrail content and logging instead.
"""

from __future__ import annotations

from checks.finding import Finding
from checks.iac.ai_rules.hcldoc import nested
from checks.iac.ai_rules.tf_common import Module, add

#: Bedrock resources that invoke models (agents, flows, inference profiles, provisioned/custom models):
#: their prompts and completions are what invocation logging records.
_INVOKERS = tuple(
    f"{provider}_{name}"
    for provider in ("aws", "awscc")
    for name in (
        "bedrockagent_agent",
        "bedrock_agent",
        "bedrockagent_flow",
        "bedrock_flow",
        "bedrock_inference_profile",
        "bedrock_application_inference_profile",
        "bedrock_provisioned_model_throughput",
        "bedrock_custom_model",
    )
)
AZURE_PUBLIC = ("azurerm_ai_services", "azurerm_ai_foundry")
AZURE_LOGGED = (
    "azurerm_cognitive_account",
    "azurerm_ai_services",
    "azurerm_machine_learning_workspace",
    "azurerm_ai_foundry",
)


def _unknown(value: object) -> bool:
    """An expression (`var.x`, `local.y`) Terraform resolves later: not evidence either way, so no finding."""
    return isinstance(value, str) and "${" in value


def _false(value: object) -> bool:
    """False or unknown: the rules report only what the file itself says (or the provider default)."""
    return value is False or str(value).lower() == "false" or _unknown(value)


def _disabled(body: dict) -> bool:
    if "public_network_access" in body:
        value = body["public_network_access"]
        return _unknown(value) or str(value).lower() == "disabled"
    return _false(body.get("public_network_access_enabled"))


def azure(module: Module) -> list[Finding]:
    out: list[Finding] = []
    for block in module.resources(*AZURE_PUBLIC):
        body = block.body
        denied = any(str(a.get("default_action", "")).lower() == "deny" for a in nested(body, "network_acls"))
        if not _disabled(body) and not denied:
            add(
                out,
                "PRG-AI-017",
                module,
                block,
                block.line_of("public_network_access", "public_network_access_enabled"),
                f"{block.address} accepts calls from any network (public_network_access is not Disabled — it "
                "defaults to Enabled — and network_acls does not deny by default).",
            )
    for block in module.resources("azurerm_ai_services"):
        if not _false(block.body.get("local_authentication_enabled")):
            add(
                out,
                "PRG-AI-018",
                module,
                block,
                block.line_of("local_authentication_enabled"),
                f"{block.address} accepts static API keys (local_authentication_enabled is not false): a "
                "leaked key works from anywhere and is not tied to an identity.",
            )
    for block in module.resources(*AZURE_LOGGED):
        if not module.referenced(block, ("azurerm_monitor_diagnostic_setting",), r"\.id"):
            add(
                out,
                "PRG-AI-024",
                module,
                block,
                block.line,
                f"No azurerm_monitor_diagnostic_setting in this module targets {block.address}: requests and "
                "audit events of the AI service are not kept.",
            )
    return out


def _blocks_prompt_attacks(guardrail: dict) -> bool:
    """True when a PROMPT_ATTACK input filter is set, or when the policy is an expression we cannot see."""
    if _unknown(guardrail.get("content_policy_config")):
        return True
    for policy in nested(guardrail, "content_policy_config"):
        if _unknown(policy.get("filters_config")):
            return True
        for flt in nested(policy, "filters_config"):
            strength = flt.get("input_strength")
            strong = _unknown(strength) or str(strength).upper() in {"LOW", "MEDIUM", "HIGH"}
            if str(flt.get("type")).upper() == "PROMPT_ATTACK" and strong:
                return True
    return False


def aws(module: Module) -> list[Finding]:
    out: list[Finding] = []
    for block in module.resources("aws_sagemaker_model"):
        if not nested(block.body, "vpc_config"):
            add(
                out,
                "PRG-AI-019",
                module,
                block,
                block.line,
                f"{block.address} has no vpc_config: the model container can reach the internet and other "
                "services, so a poisoned model can exfiltrate inference data.",
            )
    for block in module.resources("aws_sagemaker_endpoint_configuration"):
        capture = nested(block.body, "data_capture_config")
        if not capture or any(
            c.get("enable_capture") is False or str(c.get("enable_capture")).lower() == "false"
            for c in capture
        ):
            line = block.line_of("data_capture_config") if capture else block.line
            add(
                out,
                "PRG-AI-023",
                module,
                block,
                line,
                f"{block.address} does not capture requests/responses (data_capture_config missing or "
                "disabled): abuse and prompt-injection attempts leave no trace.",
            )
    for block in module.resources("aws_bedrock_guardrail", "awscc_bedrock_guardrail"):
        if not _blocks_prompt_attacks(block.body):
            add(
                out,
                "PRG-AI-022",
                module,
                block,
                block.line_of("content_policy_config"),
                f"{block.address} has no PROMPT_ATTACK content filter on input: jailbreaks and prompt "
                "injection pass the guardrail.",
            )
    bedrock = module.resources(*_INVOKERS)
    logged = module.resources("aws_bedrock_model_invocation_logging_configuration", own=False)
    if bedrock and not logged:
        first = bedrock[0]
        add(
            out,
            "PRG-AI-026",
            module,
            first,
            first.line,
            f"{first.address} uses Bedrock but no aws_bedrock_model_invocation_logging_configuration is in "
            "this module: model invocations are not logged.",
            "/invocation-logging",
        )
    return out
