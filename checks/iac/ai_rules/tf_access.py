"""Terraform API gateways in front of models and IAM for AI services (PRG-AI-025, 027, 028, 030, 031).

API Gateway stage access logs are checkov's CKV_AWS_76 and a user-managed service account with an admin role
its CKV_GCP_42: those cases are left to checkov.
"""

from __future__ import annotations

import itertools
import re

from checks.finding import Finding
from checks.iac.ai_rules.hcldoc import Block, nested
from checks.iac.ai_rules.tf_common import Module, add

_AI_TARGET = re.compile(
    r"bedrock|sagemaker|openai|anthropic|inference|\bllm|vertex|aiplatform|cognitiveservices", re.I
)
_AI_ACTION = re.compile(
    r'"((?:bedrock|bedrock-agent|bedrock-agentcore|bedrock-runtime|sagemaker|aiplatform)'
    r'[\w-]*:\*|Microsoft\.(?:CognitiveServices|MachineLearningServices)/\*)"',
    re.I,
)
_STAR_RESOURCE = re.compile(r'(?:resources?|Resource)"?\s*[=:]\s*\[?\s*"\*"', re.I)
_DENY = re.compile(r'"?effect"?\s*[=:]\s*"Deny"', re.I)
_ADMIN_ROLES = {
    "roles/aiplatform.admin",
    "roles/ml.admin",
    "roles/aiplatform.featurestoreAdmin",
    "roles/discoveryengine.admin",
}
_GCP_IAM = tuple(
    f"google_{level}_iam_{kind}"
    for level in ("project", "folder", "organization")
    for kind in ("member", "binding")
)
_PUBLIC = {"allUsers", "allAuthenticatedUsers"}
_USER_SA = re.compile(r"^serviceAccount:.*@.*\.iam\.gserviceaccount\.com$")
IAM_TYPES = (
    "aws_iam_policy",
    "aws_iam_role_policy",
    "aws_iam_user_policy",
    "aws_iam_group_policy",
    "aws_iam_role",
    "data.aws_iam_policy_document",
    "azurerm_role_definition",
)


def _ai_api(module: Module) -> bool:
    integrations = module.resources("aws_api_gateway_integration", "aws_apigatewayv2_integration", own=False)
    return any(_AI_TARGET.search(b.text) for b in integrations)


def gateways(module: Module) -> list[Finding]:
    out: list[Finding] = []
    if _ai_api(module):
        throttled_v1 = any(
            "throttling_rate_limit" in b.text
            for b in module.resources("aws_api_gateway_method_settings", own=False)
        ) or any(
            nested(b.body, "throttle_settings")
            for b in module.resources("aws_api_gateway_usage_plan", own=False)
        )
        for stage in module.resources("aws_api_gateway_stage", "aws_apigatewayv2_stage"):
            # stage access logs are checkov's CKV_AWS_76; throttling no engine checks
            v2 = stage.type == "aws_apigatewayv2_stage"
            if (v2 and "throttling_rate_limit" not in stage.text) or (not v2 and not throttled_v1):
                add(
                    out,
                    "PRG-AI-027",
                    module,
                    stage,
                    stage.line,
                    f"{stage.address} fronts a model with no throttling: one caller can run up the "
                    "model bill.",
                )
    for api in module.resources("azurerm_api_management_api"):
        if not _AI_TARGET.search(api.text):
            continue
        if not module.referenced(api, ("azurerm_api_management_api_diagnostic",)):
            add(
                out,
                "PRG-AI-025",
                module,
                api,
                api.line,
                f"{api.address} forwards to an AI backend and no azurerm_api_management_api_diagnostic in "
                "this module logs its requests.",
                "/diagnostic",
            )
        policies = module.referenced(api, ("azurerm_api_management_api_policy",))
        if not any(re.search(r"token-limit|rate-limit|quota", p.text, re.I) for p in policies):
            add(
                out,
                "PRG-AI-028",
                module,
                api,
                api.line,
                f"{api.address} forwards to an AI backend and no api_policy in this module sets a token/rate "
                "limit (llm-token-limit, azure-openai-token-limit, rate-limit-by-key).",
            )
    return out


def _policy_blocks(module: Module) -> list[Block]:
    return [
        b
        for b in module.own
        if (b.kind == "resource" and b.type in IAM_TYPES)
        or (b.kind == "data" and b.type == "aws_iam_policy_document")
    ]


def iam(module: Module) -> list[Finding]:
    out: list[Finding] = []
    for block in _policy_blocks(module):
        for chunk, offset in _statements(block):
            action = _AI_ACTION.search(chunk)
            if not action or _DENY.search(chunk):
                continue
            scoped = block.type == "azurerm_role_definition" or _STAR_RESOURCE.search(chunk)
            if not scoped:
                continue
            line = block.line + offset + chunk.count("\n", 0, action.start())
            add(
                out,
                "PRG-AI-030",
                module,
                block,
                line,
                f"{block.address} allows {action.group(1)} on every resource: any holder can invoke, "
                "change or "
                "delete every model, agent and endpoint in the account.",
                f"/{action.group(1)}",
            )
    for block in module.resources(*_GCP_IAM):
        out.extend(_vertex_grant(module, block))
    return out


def _statements(block: Block) -> list[tuple[str, int]]:
    """Statement-sized chunks of a policy (a Deny elsewhere must not hide an Allow), with line offsets."""
    text = block.text
    starts = [
        m.start()
        for m in re.finditer(r"statement\s*\{|\{\s*\n?\s*\"?(?:Sid|Effect|Action)\"?\s*[=:]", text, re.I)
    ]
    if not starts:
        return [(text, 0)]
    bounds = [*starts, len(text)]
    return [(text[a:b], text.count("\n", 0, a)) for a, b in itertools.pairwise(bounds)]


def _vertex_grant(module: Module, block: Block) -> list[Finding]:
    """PRG-AI-031: Vertex AI admin at project level or above, or any Vertex AI role for allUsers."""
    out: list[Finding] = []
    role = str(block.body.get("role") or "")
    members = block.body.get("members") if "members" in block.body else [block.body.get("member")]
    members = [str(m) for m in members or [] if m]
    public = role.startswith(("roles/aiplatform.", "roles/ml.")) and _PUBLIC & set(members)
    if public:
        add(
            out,
            "PRG-AI-031",
            module,
            block,
            block.line_of("role"),
            f"{block.address} grants {role} to {', '.join(sorted(public))}: anyone can use or change the "
            "project's models at the project's cost.",
        )
    elif role in _ADMIN_ROLES:
        if block.type == "google_project_iam_member" and all(_USER_SA.match(m) for m in members):
            return out  # checkov CKV_GCP_42 reports admin roles on user-managed service accounts
        add(
            out,
            "PRG-AI-031",
            module,
            block,
            block.line_of("role"),
            f"{block.address} grants {role} on the whole project/folder/org: the member can deploy, "
            "replace or export every model there.",
        )
    return out
