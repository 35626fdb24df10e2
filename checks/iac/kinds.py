"""Which engine reads a changed file, decided from its path (and, for YAML/JSON, a glance at its text).

`applies_to` may only look at paths, so it accepts every file that *could* be infrastructure as code
(`maybe_iac`); `kind_of` then reads the text of YAML/JSON files to tell a Kubernetes manifest from a
CloudFormation template, an OpenAPI document or any other YAML, which no engine is given.
"""

from __future__ import annotations

import posixpath
import re
from enum import StrEnum


class Kind(StrEnum):
    """A file kind, named after the checkov framework that reads it (`WORKFLOW`..: zizmor)."""

    TERRAFORM = "terraform"
    TFVARS = "tfvars"
    KUBERNETES = "kubernetes"
    HELM = "helm"
    KUSTOMIZE = "kustomize"
    DOCKERFILE = "dockerfile"
    CLOUDFORMATION = "cloudformation"
    ARM = "arm"
    BICEP = "bicep"
    SERVERLESS = "serverless"
    OPENAPI = "openapi"
    WORKFLOW = "workflow"
    ACTION = "action"
    DEPENDABOT = "dependabot"


#: kinds zizmor reads
ZIZMOR_KINDS = frozenset({Kind.WORKFLOW, Kind.ACTION, Kind.DEPENDABOT})
#: checkov's `--framework` name for each kind it reads (tfvars are read by the terraform framework)
CHECKOV_FRAMEWORK = {
    Kind.TERRAFORM: "terraform", Kind.TFVARS: "terraform", Kind.KUBERNETES: "kubernetes",
    Kind.DOCKERFILE: "dockerfile", Kind.CLOUDFORMATION: "cloudformation", Kind.ARM: "arm",
    Kind.BICEP: "bicep", Kind.SERVERLESS: "serverless", Kind.OPENAPI: "openapi",
}

_YAML = (".yml", ".yaml")
_STRUCTURED = (*_YAML, ".json", ".template")
_DOCKER = re.compile(r"^(?:dockerfile|containerfile)(?:[._-].*)?$|.*\.(?:dockerfile|containerfile)$",
                     re.IGNORECASE)
#: at most this many leading bytes are sniffed for a YAML/JSON kind
SNIFF_BYTES = 64 * 1024


def path_kind(path: str) -> Kind | None:
    """The kind a path alone settles, or None (not IaC, or a YAML/JSON file whose text decides)."""
    name = posixpath.basename(path)
    lower = name.lower()
    parts = path.split("/")
    if lower.endswith((".tf", ".tf.json")):
        return Kind.TERRAFORM
    if lower.endswith((".tfvars", ".tfvars.json")):
        return Kind.TFVARS
    if lower.endswith(".bicep"):
        return Kind.BICEP
    if _DOCKER.match(name):
        return Kind.DOCKERFILE
    if lower.endswith(".tpl") and "templates" in parts[:-1]:
        return Kind.HELM  # a chart's helpers (`templates/_helpers.tpl`): a change re-renders the chart
    if lower.endswith(_YAML):
        if len(parts) >= 3 and parts[-3] == ".github" and parts[-2] == "workflows":
            return Kind.WORKFLOW
        if lower in ("action.yml", "action.yaml"):
            return Kind.ACTION
        if lower in ("dependabot.yml", "dependabot.yaml") and len(parts) >= 2 and parts[-2] == ".github":
            return Kind.DEPENDABOT
        if lower in ("kustomization.yml", "kustomization.yaml"):
            return Kind.KUSTOMIZE
        if lower in ("chart.yaml", "chart.yml", "values.yaml", "values.yml") and _beside_chart(parts):
            return Kind.HELM
        if lower in ("serverless.yml", "serverless.yaml"):
            return Kind.SERVERLESS
    return None




def _beside_chart(parts: list[str]) -> bool:
    """`Chart.yaml` is always a chart; `values.yaml` counts as one only under a directory named like a
    chart (`charts/`, `helm/`, `*-chart`): paths alone cannot see the `Chart.yaml` beside it."""
    if parts[-1].lower() in ("chart.yaml", "chart.yml"):
        return True
    return any("chart" in p.lower() or "helm" in p.lower() for p in parts[:-1])


def maybe_iac(path: str) -> bool:
    """Whether `path` could be read by an engine (a YAML/JSON file might be; its text decides)."""
    return path_kind(path) is not None or path.lower().endswith(_STRUCTURED)


_K8S = re.compile(rb"^apiVersion:\s*\S+.*^kind:\s*\S+|^kind:\s*\S+.*^apiVersion:\s*\S+",
                  re.MULTILINE | re.DOTALL)
_K8S_JSON = re.compile(rb'"apiVersion"\s*:.*"kind"\s*:|"kind"\s*:.*"apiVersion"\s*:', re.DOTALL)
_CFN = re.compile(rb"AWSTemplateFormatVersion|AWS::Serverless|[\"']?Type[\"']?\s*:\s*[\"']?AWS::")
_ARM = re.compile(rb"schema\.management\.azure\.com/schemas/[^\"']*deploymentTemplate", re.IGNORECASE)
_OPENAPI = re.compile(rb"^[\"']?(?:openapi|swagger)[\"']?\s*:", re.MULTILINE)
_OPENAPI_JSON = re.compile(rb"^\s*\{?\s*\"(?:openapi|swagger)\"\s*:", re.MULTILINE)
_HELM_TEMPLATE = re.compile(rb"\{\{-?\s*(?:\.Values|\.Release|\.Chart|include|template|toYaml)")


def kind_of(path: str, head: bytes | None) -> Kind | None:
    """The file's kind from its path, or from its first `SNIFF_BYTES` for YAML/JSON; None: no engine."""
    kind = path_kind(path)
    if kind is not None or head is None or not path.lower().endswith(_STRUCTURED):
        return kind
    if posixpath.basename(path).lower() in ("values.yaml", "values.yml"):
        return Kind.HELM  # a chart's values wherever the chart is (rendered when a Chart.yaml is beside)
    text = head[:SNIFF_BYTES]
    if _HELM_TEMPLATE.search(text) and "/templates/" in f"/{path}":
        return Kind.HELM
    if _ARM.search(text):
        return Kind.ARM
    if _CFN.search(text):
        return Kind.CLOUDFORMATION
    if _OPENAPI.search(text) or _OPENAPI_JSON.search(text):
        return Kind.OPENAPI
    if _K8S.search(text) or _K8S_JSON.search(text):
        return Kind.KUBERNETES
    return None


def terraform_dir(path: str) -> str:
    """The directory (Terraform module) a .tf/.tfvars file belongs to."""
    return posixpath.dirname(path)
