"""Format handling of the AI-infrastructure rules: CloudFormation, CRDs, key shapes, parse failures, bounds,
and fingerprints that do not move with lines."""

from __future__ import annotations

from checks.iac.ai_rules import scan_file

CFN = """AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Model:
    Type: AWS::SageMaker::Model
    Properties:
      ExecutionRoleArn: !GetAtt Role.Arn
  EndpointConfig:
    Type: AWS::SageMaker::EndpointConfig
    Properties:
      ProductionVariants:
        - ModelName: !GetAtt Model.ModelName
          VariantName: main
  Agent:
    Type: AWS::Bedrock::Agent
    Properties:
      AgentName: support
  Policy:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Statement:
          - Effect: Allow
            Action: "bedrock:*"
            Resource: "*"
"""


def _rules(findings: list) -> list[tuple[str, int]]:
    return sorted((f.rule_id, f.line) for f in findings)


def test_cloudformation_template_reuses_the_terraform_rule_ids() -> None:
    found = _rules(scan_file("stack/template.yaml", CFN))
    assert found == [("PRG-AI-019", 3), ("PRG-AI-022", 13), ("PRG-AI-023", 7), ("PRG-AI-030", 23)]


def test_provider_shaped_key_found_whatever_the_setting_is_called() -> None:
    key = "sk-ant-api03-" + "Ab3dEf9hIj" * 9 + "Klm" + "AA"  # synthetic, Anthropic-shaped
    text = f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: x}}\ndata:\n  settings: {key}\n"
    findings = scan_file("k8s/cm.yaml", text)
    assert _rules(findings) == [("PRG-AI-012", 5)]
    assert key not in findings[0].message and key[:12] not in findings[0].message


def test_key_inside_an_embedded_config_file_points_at_its_own_line() -> None:
    text = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n  app.env: |\n    LOG=info\n"
        "    OPENAI_API_KEY=test1234notarealkey5678abcdEFGH\n"
    )
    assert _rules(scan_file("k8s/cm.yaml", text)) == [("PRG-AI-012", 7)]


def test_kong_plugin_crd_with_inline_credentials() -> None:
    text = (
        "apiVersion: configuration.konghq.com/v1\nkind: KongPlugin\nmetadata: {name: openai}\n"
        "plugin: ai-proxy\nconfig:\n  auth:\n    header_name: Authorization\n"
        "    header_value: Bearer test1234notarealkey5678abcdEFGH\n"
    )
    assert _rules(scan_file("k8s/kong.yaml", text)) == [("PRG-AI-036", 8)]


def test_fingerprint_survives_lines_moving_above() -> None:
    bad = 'variable "openai_api_key" {\n  default = "test1234notarealkey5678abcdEFGH"\n}\n'
    first = scan_file("infra/vars.tf", bad)
    moved = scan_file("infra/vars.tf", "# a comment\n\n" + bad)
    assert [f.line for f in first] == [2] and [f.line for f in moved] == [4]
    assert first[0].fingerprint == moved[0].fingerprint


def test_broken_kubernetes_yaml_is_left_to_the_engines_but_broken_gateway_config_is_reported() -> None:
    assert scan_file("k8s/deploy.yaml", "kind: Deployment\nspec: [unclosed\n") == []
    assert scan_file("infra/broken.tf", 'resource "aws_sagemaker_model" "m" {\n') == []
    assert scan_file("infra/broken.tf", 'resource "aws_sagemaker_model" "m" {\n  name = = "x"\n}\n') == []
    kong = scan_file("gw/kong.yaml", '_format_version: "3.0"\nservices: [\n')
    assert [(f.rule_id, f.line, f.file_level) for f in kong] == [("PRG-AI-039", 0, True)]


def test_alias_bomb_is_bounded_and_reported_as_unparsable_gateway_config() -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 10) + "]")
    lines.append("model_list: [*i]")
    findings = scan_file("litellm/config.yaml", "\n".join(lines) + "\n")
    assert [f.rule_id for f in findings] == ["PRG-AI-039"]


def test_module_files_let_a_sibling_diagnostic_setting_count() -> None:
    account = (
        'resource "azurerm_cognitive_account" "oai" {\n  kind = "OpenAI"\n'
        "  public_network_access_enabled = false\n  local_auth_enabled = false\n}\n"
    )
    diag = (
        'resource "azurerm_monitor_diagnostic_setting" "d" {\n'
        "  target_resource_id = azurerm_cognitive_account.oai.id\n}\n"
    )
    alone = scan_file("infra/ai.tf", account)
    assert _rules(alone) == [("PRG-AI-024", 1)]
    assert scan_file("infra/ai.tf", account, {"infra/ai.tf": account, "infra/monitoring.tf": diag}) == []


def test_workflows_are_not_ours() -> None:
    from checks.iac.ai_rules import applies

    assert not applies(".github/workflows/ci.yml")
    assert (
        applies("deploy/helm/values.yaml") and applies("infra/prod.tfvars") and applies("stack/template.json")
    )
    assert not applies("package-lock.json") and not applies("src/app.py")


def test_trust_remote_code_in_compose_env_and_helm_values() -> None:
    compose = (
        "services:\n  tgi:\n    image: ghcr.io/huggingface/text-generation-inference:2.4\n"
        "    environment:\n      - MODEL_ID=Qwen/Qwen2-7B\n      - TRUST_REMOTE_CODE=true\n"
        '    ports:\n      - "127.0.0.1:8080:80"\n'
    )
    assert _rules(scan_file("deploy/docker-compose.yml", compose)) == [("PRG-AI-021", 6)]
    values = "vllm:\n  model: Qwen/Qwen2-7B\n  trustRemoteCode: true\n"
    assert _rules(scan_file("charts/llm/values.yaml", values)) == [("PRG-AI-021", 3)]
    assert scan_file("charts/llm/values.yaml", "vllm:\n  trustRemoteCode: false\n") == []


def test_cloudformation_guardrail_without_prompt_attack_filter() -> None:
    cfn = (
        "Resources:\n  Guard:\n    Type: AWS::Bedrock::Guardrail\n    Properties:\n"
        "      ContentPolicyConfig:\n        FiltersConfig:\n          - Type: HATE\n"
        "            InputStrength: HIGH\n"
    )
    assert _rules(scan_file("stack/guard.yaml", cfn)) == [("PRG-AI-022", 5)]
    good = cfn + "          - Type: PROMPT_ATTACK\n            InputStrength: HIGH\n"
    assert scan_file("stack/guard.yaml", good) == []


def test_ray_head_service_by_port_and_gcp_cases_left_to_checkov() -> None:
    svc = (
        "apiVersion: v1\nkind: Service\nmetadata: {name: ray-dash}\nspec:\n  type: NodePort\n"
        "  ports:\n  - port: 8265\n"
    )
    assert ("PRG-AI-020", 5) in _rules(scan_file("k8s/ray.yaml", svc))
    sa_admin = (
        'resource "google_project_iam_member" "ci" {\n  role   = "roles/aiplatform.admin"\n'
        '  member = "serviceAccount:ci@ml-prod.iam.gserviceaccount.com"\n}\n'
    )
    assert scan_file("infra/iam.tf", sa_admin) == []  # checkov CKV_GCP_42 reports this one


def test_values_terraform_resolves_later_are_not_evidence() -> None:
    text = (
        'resource "azurerm_ai_services" "a" {\n  public_network_access = var.pna\n'
        "  local_authentication_enabled = var.la\n}\n"
    )
    assert _rules(scan_file("infra/ai.tf", text)) == [("PRG-AI-024", 1)]  # only the missing diagnostics


def test_litellm_config_embedded_in_a_configmap_is_checked_on_manifest_lines() -> None:
    text = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: litellm-config\ndata:\n  config.yaml: |\n"
        "    model_list:\n      - model_name: gpt-4o\n        litellm_params:\n"
        "          model: openai/gpt-4o\n"
        "          rpm: 60\n    litellm_settings:\n      success_callback: [langfuse]\n"
    )
    assert _rules(scan_file("k8s/litellm.yaml", text)) == [("PRG-AI-032", 7)]


def test_helm_template_of_a_gateway_config_is_not_a_parse_error() -> None:
    template = "model_list:\n{{- range .Values.models }}\n  - model_name: {{ .name }}\n{{- end }}\n"
    assert scan_file("charts/litellm/templates/litellm-config.yaml", template) == []
