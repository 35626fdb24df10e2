"""Ray heads exposed outside the cluster (PRG-AI-020) and inference servers running model code (PRG-AI-021).

Ray's dashboard/job API (8265) and client port (10001) have no authentication: whoever reaches them runs code
on the cluster (CVE-2023-48022, "ShadowRay"). `trust_remote_code` makes vLLM/TGI/transformers import Python
that ships with the model repository, so the model's authors run code in the server.
"""

from __future__ import annotations

import re
from typing import Any

from checks.finding import Finding
from checks.iac.ai_rules.catalog import BY_ID
from checks.iac.ai_rules.k8s_model import Obj, Workload
from checks.iac.ai_rules.model import finding
from checks.iac.ai_rules.yamldoc import LDict, LList, line_of, scalar, seq

RAY_PORTS = frozenset({8265, 10001})
_TRUST = re.compile(r"--trust[-_]remote[-_]code(?:[= ](?:true|1))?$|trust_remote_code\s*=\s*True", re.I)
_TRUST_ENV = re.compile(r"^(?:TRUST_REMOTE_CODE|VLLM_TRUST_REMOTE_CODE|HF_TRUST_REMOTE_CODE)$", re.I)
_TRUE = {"true", "1", "yes"}


def item_line(seq: Any, index: int, default: int) -> int:
    """Line of item `index` of a sequence of scalars: block style puts one item per line."""
    if not isinstance(seq, LList) or not seq.line:
        return default
    return seq.line if seq.end_line == seq.line else seq.line + index


def ray_heads(objs: list[Obj], path: str) -> list[Finding]:
    out = []
    for obj in objs:
        head = None
        if obj.kind == "RayCluster":
            head = obj.spec.get("headGroupSpec")
        elif obj.kind in {"RayService", "RayJob"}:
            config = obj.spec.get("rayClusterConfig") or obj.spec.get("rayClusterSpec")
            head = config.get("headGroupSpec") if isinstance(config, dict) else None
        if isinstance(head, LDict) and scalar(head.get("serviceType")) in {"LoadBalancer", "NodePort"}:
            out.append(
                _ray(
                    obj,
                    path,
                    line_of(head, "serviceType"),
                    f"headGroupSpec.serviceType {head.get('serviceType')}",
                )
            )
        if obj.kind == "Service" and scalar(obj.spec.get("type")) in {"LoadBalancer", "NodePort"}:
            selector = obj.spec.get("selector") or {}
            ports = {
                scalar(p.get(k))
                for p in seq(obj.spec.get("ports"))
                if isinstance(p, dict)
                for k in ("port", "targetPort")
            }
            if (
                isinstance(selector, dict) and selector.get("ray.io/node-type") == "head"
            ) or ports & RAY_PORTS:
                out.append(_ray(obj, path, line_of(obj.spec, "type"), f"Service type {obj.spec.get('type')}"))
    return out


def _ray(obj: Obj, path: str, line: int, how: str) -> Finding:
    return finding(
        BY_ID["PRG-AI-020"],
        path,
        line,
        obj.end_line,
        obj.identity,
        f"{obj.kind} {obj.name} exposes the Ray head ({how}): the dashboard and job API have no "
        "authentication, so anyone who reaches them runs code on the cluster.",
    )


def trusted_code(container: LDict) -> int:
    """Line where `container` (K8s container or compose service) turns trust_remote_code on, else 0."""
    for key in ("command", "args", "entrypoint"):
        value = container.get(key)
        items = value if isinstance(value, list) else [value] if isinstance(value, str) else []
        for index, item in enumerate(items):
            words = str(item).split() if isinstance(value, str) else [str(item)]
            for word_index, word in enumerate(words):
                nxt = words[word_index + 1] if word_index + 1 < len(words) else ""
                if _TRUST.search(word) and nxt.lower() not in {"false", "0"}:
                    return item_line(value, index, line_of(container, key))
    env = container.get("env") or container.get("environment")
    if isinstance(env, LList):
        for index, item in enumerate(env):
            name, value = (
                (item.get("name"), item.get("value"))
                if isinstance(item, dict)
                else (str(item).partition("=")[0], str(item).partition("=")[2])
            )
            if _TRUST_ENV.match(str(name)) and str(value).lower() in _TRUE:
                return line_of(item, "value") if isinstance(item, LDict) else item_line(env, index, env.line)
    elif isinstance(env, LDict):
        for name, value in env.items():
            if _TRUST_ENV.match(name) and str(value).lower() in _TRUE:
                return line_of(env, name)
    return 0


def remote_code(loads: list[Workload], path: str) -> list[Finding]:
    out = []
    for load in loads:
        for container in load.containers():
            line = trusted_code(container)
            if line:
                out.append(
                    _remote(
                        path,
                        line,
                        load.obj.end_line,
                        f"{load.obj.identity}/{container.get('name')}",
                        f"Container {container.get('name')}",
                    )
                )
    return out


def _remote(path: str, line: int, end: int, resource: str, who: str) -> Finding:
    return finding(
        BY_ID["PRG-AI-021"],
        path,
        line,
        end,
        resource,
        f"{who} runs with trust_remote_code: Python shipped in the model repository executes in the "
        "inference server, with its credentials and network access.",
    )


def remote_code_compose(service: LDict, name: str, path: str, end: int) -> list[Finding]:
    line = trusted_code(service)
    return [_remote(path, line, end, f"compose/{name}", f"Service {name}")] if line else []


def remote_code_values(root: Any, path: str) -> list[Finding]:
    """`trust_remote_code: true` / `trustRemoteCode: true` anywhere in Helm values."""
    out: list[Finding] = []
    stack = [(root, "")]
    while stack:
        node, trail = stack.pop()
        if isinstance(node, LDict):
            for key, value in node.items():
                if re.fullmatch(r"trust_?remote_?code", key, re.I) and str(value).lower() in _TRUE:
                    out.append(
                        _remote(
                            path,
                            line_of(node, key),
                            line_of(node, key),
                            f"values{trail}.{key}",
                            f"Helm value {trail.lstrip('.')}.{key}".replace(" .", " "),
                        )
                    )
                else:
                    stack.append((value, f"{trail}.{key}"))
        elif isinstance(node, LList):
            stack.extend((item, f"{trail}[{i}]") for i, item in enumerate(node))
    return out
