"""docker-compose services and Helm values: inference ports, GPU privileges, keys (PRG-AI-006/007/013/014)."""

from __future__ import annotations

import re
from typing import Any

from checks.finding import Finding
from checks.iac.ai_rules.catalog import BY_ID
from checks.iac.ai_rules.inference import INFERENCE_PORTS, is_inference_command, is_inference_image
from checks.iac.ai_rules.k8s_models import remote_code_compose
from checks.iac.ai_rules.keys import describe, literal_key
from checks.iac.ai_rules.model import finding
from checks.iac.ai_rules.yamldoc import LDict, LList, line_of

_PORT = re.compile(
    r"^(?:(?P<ip>\d+\.\d+\.\d+\.\d+|localhost|\[[^\]]*\]):)?(?:(?P<host>\d+)(?:-\d+)?:)?(?P<container>\d+)(?:-\d+)?(?:/\w+)?$"
)
_LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}


def _is_inference(service: dict[str, Any]) -> bool:
    return is_inference_image(service.get("image")) or is_inference_command(service.get("command"))


def _uses_gpu(service: dict[str, Any]) -> bool:
    if str(service.get("runtime") or "") == "nvidia":
        return True
    devices = (((service.get("deploy") or {}).get("resources") or {}).get("reservations") or {}).get(
        "devices"
    )
    return isinstance(devices, list) and any(
        "gpu" in str(d.get("capabilities")) for d in devices if isinstance(d, dict)
    )


def compose(root: LDict, path: str, end_line: int) -> list[Finding]:
    services = root.get("services")
    if not isinstance(services, LDict):
        return []
    out: list[Finding] = []
    for name, service in services.items():
        if not isinstance(service, LDict):
            continue
        ident = f"compose/{name}"
        end = service.end_line or end_line
        if _is_inference(service):
            out.extend(_published(service, name, ident, path, end))
        if _uses_gpu(service) and service.get("privileged") is True:
            out.append(
                finding(
                    BY_ID["PRG-AI-007"],
                    path,
                    line_of(service, "privileged"),
                    end,
                    ident,
                    f"Service {name} uses a GPU and runs privileged: it owns the host.",
                )
            )
        out.extend(_compose_env(service, name, ident, path, end))
        out.extend(remote_code_compose(service, name, path, end))
    return out


def _published(service: LDict, name: str, ident: str, path: str, end: int) -> list[Finding]:
    out = []
    ports = service.get("ports")
    lines = _item_lines(ports) if isinstance(ports, LList) else []
    for index, entry in enumerate(ports if isinstance(ports, LList) else []):
        ip, container = "", None
        if isinstance(entry, dict):
            ip, container = str(entry.get("host_ip") or ""), entry.get("target")
            published = entry.get("published")
        else:
            m = _PORT.match(str(entry).strip())
            if not m:
                continue
            ip, container, published = (m.group("ip") or ""), int(m.group("container")), m.group("host")
        if ip in _LOOPBACK or (published is None and not isinstance(entry, dict)):
            continue
        line = getattr(entry, "line", 0) or (
            lines[index] if index < len(lines) else line_of(service, "ports")
        )
        out.append(
            finding(
                BY_ID["PRG-AI-006"],
                path,
                line,
                end,
                f"{ident}/port/{container}",
                f"Service {name} publishes inference port {container} on every host interface "
                f"(`{entry}`){' — the Ollama port' if container in INFERENCE_PORTS else ''}: anyone "
                "on the network can use the model, which has no authentication of its own.",
            )
        )
    return out


def _compose_env(service: LDict, name: str, ident: str, path: str, end: int) -> list[Finding]:
    env = service.get("environment")
    pairs: list[tuple[str, Any, int]] = []
    if isinstance(env, LDict):
        pairs = [(str(k), v, line_of(env, k)) for k, v in env.items()]
    elif isinstance(env, LList):
        lines = _item_lines(env)
        for index, item in enumerate(env):
            key, _, value = str(item).partition("=")
            pairs.append((key, value, lines[index] if index < len(lines) else env.line))
    out = []
    for key, value, line in pairs:
        secret = literal_key(key, value)
        if secret:
            out.append(
                finding(
                    BY_ID["PRG-AI-013"],
                    path,
                    line,
                    end,
                    f"{ident}/{key}",
                    f"Service {name} sets {key} to a literal LLM provider key ({describe(secret)}); "
                    "use a compose secret or an env_file kept out of git, and rotate the key.",
                )
            )
    return out


def _item_lines(seq: LList) -> list[int]:
    """Scalars in a list keep no line; block sequences put one item per line from the list's start."""
    return [seq.line + i for i in range(len(seq))] if seq.line else []


def helm_values(root: Any, path: str, end_line: int) -> list[Finding]:
    """PRG-AI-014: any value in a values file that is a provider key (name/value env pairs included)."""
    out: list[Finding] = []

    def walk(node: Any, trail: str) -> None:
        if isinstance(node, LDict):
            if "name" in node and "value" in node:
                secret = literal_key(str(node.get("name")), node.get("value"))
                if secret:
                    add(line_of(node, "value"), f"{trail}.{node.get('name')}", secret)
                    return
            for key, value in node.items():
                if isinstance(value, str):
                    secret = literal_key(key, value)
                    if secret:
                        add(line_of(node, key), f"{trail}.{key}", secret)
                else:
                    walk(value, f"{trail}.{key}")
        elif isinstance(node, LList):
            for index, item in enumerate(node):
                walk(item, f"{trail}[{index}]")

    def add(line: int, where: str, secret: str) -> None:
        out.append(
            finding(
                BY_ID["PRG-AI-014"],
                path,
                line,
                line,
                f"values{where}",
                f"Helm value {where.lstrip('.')} is an LLM provider key ({describe(secret)}); values "
                "files are committed and rendered into plain manifests. Use existingSecret/a secret "
                "store and rotate the key.",
            )
        )

    walk(root, "")
    return out


_EXPOSED = {"LoadBalancer", "NodePort"}
_INTERNAL = re.compile(r"load-balancer-internal|load-balancer-type|aws-load-balancer-scheme", re.I)


def _strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return [node] if isinstance(node, str) else []


def helm_exposure(root: Any, path: str) -> list[Finding]:
    """PRG-AI-001 in the values of an inference chart: a Service type of LoadBalancer/NodePort."""
    if not any(is_inference_image(s) for s in _strings(root)):
        return []
    out: list[Finding] = []
    stack: list[tuple[Any, str]] = [(root, "")]
    while stack:
        node, trail = stack.pop()
        if isinstance(node, LList):
            stack.extend((item, f"{trail}[{i}]") for i, item in enumerate(node))
            continue
        if not isinstance(node, LDict):
            continue
        for key, value in node.items():
            service = value if key == "service" and isinstance(value, LDict) else None
            kind = value if key == "serviceType" else service.get("type") if service is not None else None
            internal = service is not None and any(
                _INTERNAL.search(str(k)) for k in service.get("annotations") or {}
            )
            if kind in _EXPOSED and not internal:
                line = line_of(node, key) if service is None else line_of(service, "type")
                out.append(
                    finding(
                        BY_ID["PRG-AI-001"],
                        path,
                        line,
                        line,
                        f"values{trail}.{key}",
                        f"Helm value {trail.lstrip('.') + '.' if trail else ''}{key} makes the inference "
                        f"chart's Service a {kind}: the model server is reachable from outside the "
                        "cluster with no authentication in front of it.",
                    )
                )
            elif isinstance(value, LDict | LList):
                stack.append((value, f"{trail}.{key}"))
    return out
