"""All Kubernetes-manifest rules over one file's objects."""

from __future__ import annotations

from checks.finding import Finding
from checks.iac.ai_rules import embedded, envoy_cfn, gateways, k8s_exposure, k8s_models, k8s_workload
from checks.iac.ai_rules.k8s_model import objects, workloads
from checks.iac.ai_rules.yamldoc import Doc, LDict, scalar


def scan(docs: list[Doc], path: str) -> list[Finding]:
    objs = objects(docs)
    if not objs:
        return []
    loads = list(workloads(objs))
    out: list[Finding] = []
    out += k8s_exposure.services(objs, loads, path)
    out += k8s_exposure.ingresses(objs, loads, path)
    out += k8s_exposure.routes(objs, loads, path)
    out += k8s_exposure.kserve(objs, path)
    out += k8s_models.ray_heads(objs, path)
    out += k8s_models.remote_code(loads, path)
    out += k8s_workload.gpu(loads, path)
    out += k8s_workload.limits(loads, path)
    out += k8s_workload.rbac(objs, loads, path)
    out += k8s_workload.configmap_keys(objs, path)
    out += embedded.configmap_gateways(objs, path)
    out += k8s_workload.env_literals(loads, path)
    out += envoy_cfn.envoy_ai_gateway(docs, path)
    for obj in objs:
        if obj.kind in {"KongPlugin", "KongClusterPlugin"} and scalar(obj.root.get("plugin")) in {
            "ai-proxy",
            "ai-proxy-advanced",
        }:
            plugin = LDict(obj.root)
            plugin.line = obj.line
            plugin.key_lines = obj.root.key_lines
            out += gateways.inline_credentials(plugin, path, obj.identity, obj.end_line)
    return out
