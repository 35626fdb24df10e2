"""Which engine reads which changed file, and which YAML/JSON files count as unparsable (no engine runs)."""

from __future__ import annotations

import pytest

from checks.iac.kinds import Kind, kind_of, maybe_iac
from checks.iac.parsing import parse_error


@pytest.mark.parametrize(("path", "text", "kind"), [
    ("infra/main.tf", b"", Kind.TERRAFORM),
    ("infra/prod.tfvars", b"", Kind.TFVARS),
    ("infra/stack.tf.json", b"{}", Kind.TERRAFORM),
    ("Dockerfile", b"FROM x", Kind.DOCKERFILE),
    ("svc/api.Dockerfile", b"FROM x", Kind.DOCKERFILE),
    ("Containerfile.dev", b"FROM x", Kind.DOCKERFILE),
    ("main.bicep", b"", Kind.BICEP),
    (".github/workflows/ci.yml", b"on: push", Kind.WORKFLOW),
    ("actions/setup/action.yaml", b"runs: {}", Kind.ACTION),
    (".github/dependabot.yml", b"version: 2", Kind.DEPENDABOT),
    ("deploy/kustomization.yaml", b"resources: []", Kind.KUSTOMIZE),
    ("charts/web/Chart.yaml", b"name: web", Kind.HELM),
    ("charts/web/templates/dep.yaml", b"kind: Pod\napiVersion: v1\nname: {{ .Values.n }}", Kind.HELM),
    ("k8s/pod.yaml", b"apiVersion: v1\nkind: Pod\n", Kind.KUBERNETES),
    ("k8s/pod.json", b'{"kind": "Pod", "apiVersion": "v1"}', Kind.KUBERNETES),
    ("cfn/stack.yaml", b"Resources:\n  B:\n    Type: AWS::S3::Bucket\n", Kind.CLOUDFORMATION),
    ("arm/t.json", b'{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"}',
     Kind.ARM),
    ("api/openapi.yaml", b"openapi: 3.0.0\n", Kind.OPENAPI),
    ("serverless.yml", b"service: x", Kind.SERVERLESS),
    ("config/app.yaml", b"debug: true\n", None),
    ("package.json", b'{"name": "x"}', None),
    ("values.yaml", b"replicas: 2\n", Kind.HELM),  # rendered when a Chart.yaml is beside it, else ignored
])
def test_kind_of(path: str, text: bytes, kind: Kind | None) -> None:
    assert kind_of(path, text) is kind
    assert maybe_iac(path)


def test_other_files_are_not_read() -> None:
    assert not maybe_iac("src/app.py") and not maybe_iac("README.md")


def test_cloudformation_short_tags_parse_and_broken_yaml_names_its_line() -> None:
    cfn = b"Resources:\n  B:\n    Properties: {Name: !Ref N, Arn: !GetAtt [B, Arn]}\n"
    assert parse_error("t.yaml", cfn) is None
    assert parse_error("t.yaml", b"a: [\n") == (
        "invalid YAML at line 2: expected the node content, but found '<stream end>'")
    assert parse_error("t.json", b'{"a": }') == "invalid JSON at line 1: Expecting value"
    assert parse_error("multi.yaml", b"a: 1\n---\nb: 2\n") is None
