"""Every prguard AI-infrastructure rule: id, title, severity, OWASP id and one-line fix.

Severities follow the IaC check's table: critical for public exposure of endpoints, wildcard IAM, privileged
containers and secrets in config; high for auth or isolation off; medium for missing limits and logging.
OWASP ids: LLM Top 10 2025 (LLM02 disclosure, LLM06 excessive agency, LLM08 vector stores, LLM10 unbounded
consumption) or the CI/CD Top 10 (CICD-SEC-6 credential hygiene, -7 insecure configuration, -10 logging).
"""

from __future__ import annotations

from checks.finding import Severity
from checks.iac.ai_rules.model import Rule

C, H, M = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM

RULES: list[Rule] = [
    # Inference endpoints exposed without authentication (Kubernetes, compose)
    Rule(
        "PRG-AI-001",
        "Inference server exposed by a LoadBalancer/NodePort Service without authentication",
        C,
        "LLM10",
        "Use a ClusterIP Service behind an authenticating ingress or proxy (oauth2-proxy, API gateway).",
    ),
    Rule(
        "PRG-AI-002",
        "Ingress routes to an inference server without an authentication layer",
        H,
        "LLM10",
        "Add an auth layer to the route: nginx auth-url/auth-type annotations, oauth2-proxy or a "
        "gateway auth "
        "plugin.",
    ),
    Rule(
        "PRG-AI-003",
        "Gateway API HTTPRoute routes to an inference server without authentication",
        H,
        "LLM10",
        "Attach an auth filter or SecurityPolicy/AuthorizationPolicy to the route before it reaches "
        "the model.",
    ),
    Rule(
        "PRG-AI-004",
        "Ingress to an inference server has no rate limit",
        M,
        "LLM10",
        "Add nginx.ingress.kubernetes.io/limit-rps (or limit-rpm/limit-connections) or a rate-limit "
        "middleware.",
    ),
    Rule(
        "PRG-AI-005",
        "KServe InferenceService is externally reachable without auth",
        H,
        "LLM10",
        "Label it networking.kserve.io/visibility: cluster-local or annotate serving.kserve.io/enable-auth: "
        '"true".',
    ),
    Rule(
        "PRG-AI-006",
        "Inference server port published on all interfaces in docker-compose",
        H,
        "LLM10",
        'Bind the port to 127.0.0.1 ("127.0.0.1:11434:11434") or put an authenticating proxy in front.',
    ),
    # GPU / inference workload isolation and RBAC
    Rule(
        "PRG-AI-007",
        "GPU workload runs privileged",
        C,
        "CICD-SEC-7",
        "Drop privileged: true; the NVIDIA device plugin exposes GPUs without it.",
    ),
    Rule(
        "PRG-AI-008",
        "GPU workload mounts a hostPath volume",
        H,
        "CICD-SEC-7",
        "Use a PVC or an emptyDir (or a read-only CSI volume) for model weights instead of hostPath.",
    ),
    Rule(
        "PRG-AI-009",
        "Inference service account bound to cluster-admin",
        C,
        "LLM06",
        "Bind the inference service account to a namespaced Role with only the verbs it needs "
        "(usually none).",
    ),
    Rule(
        "PRG-AI-010",
        "Wildcard RBAC role granted to an inference service account",
        H,
        "LLM06",
        "Replace '*' verbs/resources/apiGroups with the exact ones the inference workload needs.",
    ),
    Rule(
        "PRG-AI-011",
        "Inference server container has no resource limits",
        M,
        "LLM10",
        "Set resources.limits (memory, and nvidia.com/gpu for GPU servers) so one model cannot starve "
        "the node.",
    ),
    # LLM provider keys in plain config
    Rule(
        "PRG-AI-012",
        "LLM provider key in a Kubernetes ConfigMap",
        C,
        "CICD-SEC-6",
        "Move the key to a Secret store (Kubernetes Secret via External Secrets, Vault, cloud secret "
        "manager).",
    ),
    Rule(
        "PRG-AI-013",
        "LLM provider key as a literal container environment value",
        C,
        "CICD-SEC-6",
        "Use env.valueFrom.secretKeyRef (or a compose secret) instead of a literal value; rotate the key.",
    ),
    Rule(
        "PRG-AI-014",
        "LLM provider key in Helm values",
        C,
        "CICD-SEC-6",
        "Reference an existing Secret from the chart (existingSecret) and keep keys out of values files.",
    ),
    Rule(
        "PRG-AI-015",
        "LLM provider key as a Terraform variable default",
        C,
        "CICD-SEC-6",
        "Remove the default, mark the variable sensitive and read it from a secret manager data source.",
    ),
    Rule(
        "PRG-AI-016",
        "LLM provider key as a Terraform literal or in .tfvars",
        C,
        "CICD-SEC-6",
        "Read the key from a secret manager (aws_secretsmanager_secret_version, "
        "azurerm_key_vault_secret, …).",
    ),
    # Managed AI services: public access, network isolation
    Rule(
        "PRG-AI-017",
        "Azure AI Services / AI Foundry reachable from public networks",
        H,
        "LLM10",
        'Set public_network_access = "Disabled" and reach it through a private endpoint.',
    ),
    Rule(
        "PRG-AI-018",
        "Azure AI Services account allows API-key (local) auth",
        M,
        "CICD-SEC-6",
        "Set local_authentication_enabled = false and use Entra ID (managed identity) for callers.",
    ),
    Rule(
        "PRG-AI-019",
        "SageMaker model runs without VPC config",
        H,
        "LLM02",
        "Add vpc_config (subnets, security_group_ids) and enable_network_isolation to the model.",
    ),
    Rule(
        "PRG-AI-020",
        "Ray cluster head (dashboard and job API) exposed outside the cluster",
        C,
        "CICD-SEC-7",
        "Keep the head Service ClusterIP and reach the dashboard through kubectl port-forward or an "
        "authenticating proxy.",
    ),
    Rule(
        "PRG-AI-021",
        "Inference server runs model repository code (trust_remote_code)",
        H,
        "LLM03",
        "Drop --trust-remote-code, or pin the model to a reviewed revision (--revision <commit sha>).",
    ),
    Rule(
        "PRG-AI-022",
        "Bedrock guardrail without a prompt-attack filter",
        M,
        "LLM01",
        "Add a PROMPT_ATTACK filter (input_strength MEDIUM or HIGH) to the guardrail's content policy.",
    ),
    # Request logging
    Rule(
        "PRG-AI-023",
        "SageMaker endpoint without data capture",
        M,
        "CICD-SEC-10",
        "Add data_capture_config with enable_capture = true and an S3 destination.",
    ),
    Rule(
        "PRG-AI-024",
        "Azure AI resource without diagnostic settings",
        M,
        "CICD-SEC-10",
        "Add an azurerm_monitor_diagnostic_setting whose target_resource_id is the AI account.",
    ),
    Rule(
        "PRG-AI-025",
        "Azure API Management API for an AI backend without request logging",
        M,
        "CICD-SEC-10",
        "Add an azurerm_api_management_api_diagnostic (Application Insights or Azure Monitor) for the API.",
    ),
    Rule(
        "PRG-AI-026",
        "Bedrock used without model invocation logging",
        M,
        "CICD-SEC-10",
        "Add aws_bedrock_model_invocation_logging_configuration with CloudWatch or S3 logging.",
    ),
    # Rate limits
    Rule(
        "PRG-AI-027",
        "API gateway route to a model without throttling",
        M,
        "LLM10",
        "Set throttling (method_settings throttling_rate_limit/burst_limit, route settings or a usage plan).",
    ),
    Rule(
        "PRG-AI-028",
        "Azure API Management API for Azure OpenAI without a token or rate limit policy",
        M,
        "LLM10",
        "Add an llm-token-limit/azure-openai-token-limit or rate-limit-by-key policy to the API.",
    ),
    Rule(
        "PRG-AI-029",
        "Envoy route to a model backend without rate limiting",
        M,
        "LLM10",
        "Add envoy.filters.http.local_ratelimit (or ratelimit) to the listener, or llmRequestCosts + a "
        "BackendTrafficPolicy for Envoy AI Gateway.",
    ),
    # Over-permissive IAM
    Rule(
        "PRG-AI-030",
        "IAM policy grants wildcard AI-service actions on all resources",
        C,
        "LLM06",
        "List the exact actions (bedrock:InvokeModel, …) and the model/endpoint ARNs they apply to.",
    ),
    Rule(
        "PRG-AI-031",
        "Vertex AI admin role or public Vertex AI access granted at project level or above",
        H,
        "LLM06",
        "Grant roles/aiplatform.user (or a custom role) to named principals on the resource, never admin "
        "project-wide or to allUsers.",
    ),
    # AI gateway configs
    Rule(
        "PRG-AI-032",
        "LiteLLM proxy without a master key",
        C,
        "LLM10",
        "Set general_settings.master_key: os.environ/LITELLM_MASTER_KEY so every request needs a key.",
    ),
    Rule(
        "PRG-AI-033",
        "LiteLLM proxy key or provider key written in config",
        C,
        "CICD-SEC-6",
        "Use os.environ/NAME (or a secret manager) for master_key and every litellm_params.api_key.",
    ),
    Rule(
        "PRG-AI-034",
        "LiteLLM proxy without budgets or rpm/tpm limits",
        M,
        "LLM10",
        "Set rpm/tpm on model_list entries or max_budget / default_key_generate_params budgets.",
    ),
    Rule(
        "PRG-AI-035",
        "LiteLLM proxy without logging callbacks",
        M,
        "CICD-SEC-10",
        "Add litellm_settings.success_callback/callbacks (e.g. langfuse, otel, s3) to keep a request log.",
    ),
    Rule(
        "PRG-AI-036",
        "Kong AI Proxy plugin with inline credentials",
        C,
        "CICD-SEC-6",
        "Use a Kong vault reference ({vault://env/openai-key}) for config.auth.header_value/param_value.",
    ),
    Rule(
        "PRG-AI-037",
        "Kong AI Proxy route without authentication",
        H,
        "LLM10",
        "Enable key-auth, jwt, openid-connect (or another auth plugin) on the route/service or globally.",
    ),
    Rule(
        "PRG-AI-038",
        "Kong AI Proxy route without rate limiting",
        M,
        "LLM10",
        "Enable ai-rate-limiting-advanced or rate-limiting on the route/service or globally.",
    ),
    Rule(
        "PRG-AI-039",
        "AI gateway config could not be parsed",
        H,
        "CICD-SEC-7",
        "Fix the YAML syntax: prguard cannot check a LiteLLM/Kong config it cannot read.",
    ),
    Rule(
        "PRG-AI-040",
        "Kong AI Proxy without request logging",
        M,
        "CICD-SEC-10",
        "Set config.logging.log_statistics: true on the AI plugin or add a log plugin (http-log, "
        "opentelemetry, …).",
    ),
]

BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}
