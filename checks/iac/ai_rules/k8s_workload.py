"""Inference and GPU workloads: privileges, host mounts, RBAC, limits and keys in config (PRG-AI-007…013)."""

from __future__ import annotations

from typing import Any

from checks.finding import Finding
from checks.iac.ai_rules.catalog import BY_ID
from checks.iac.ai_rules.inference import inference_name, is_inference_container
from checks.iac.ai_rules.k8s_model import Obj, Workload
from checks.iac.ai_rules.keys import describe, literal_key, shaped_key
from checks.iac.ai_rules.model import finding
from checks.iac.ai_rules.yamldoc import LDict, line_of, seq

GPU_RESOURCES = ("nvidia.com/gpu", "amd.com/gpu", "gpu.intel.com/i915", "nvidia.com/mig")


def _uses_gpu(container: dict[str, Any]) -> bool:
    resources = container.get("resources")
    if not isinstance(resources, dict):
        return False
    for section in ("limits", "requests"):
        values = resources.get(section)
        if isinstance(values, dict) and any(str(k).startswith(GPU_RESOURCES) for k in values):
            return True
    return False


def gpu(loads: list[Workload], path: str) -> list[Finding]:
    """PRG-AI-007 privileged GPU containers, PRG-AI-008 hostPath volumes in GPU pods."""
    out = []
    for load in loads:
        gpus = [c for c in load.containers() if _uses_gpu(c)]
        if not gpus:
            continue
        for container in gpus:
            sc = container.get("securityContext")
            if isinstance(sc, LDict) and sc.get("privileged") is True:
                out.append(
                    finding(
                        BY_ID["PRG-AI-007"],
                        path,
                        line_of(sc, "privileged"),
                        load.obj.end_line,
                        f"{load.obj.identity}/{container.get('name')}",
                        f"Container {container.get('name')} requests a GPU and runs privileged: it "
                        "owns the node (and every other tenant's model and data on it).",
                    )
                )
        for volume in seq(load.pod.get("volumes")):
            if isinstance(volume, LDict) and "hostPath" in volume:
                host = volume["hostPath"].get("path") if isinstance(volume["hostPath"], dict) else ""
                out.append(
                    finding(
                        BY_ID["PRG-AI-008"],
                        path,
                        line_of(volume, "hostPath"),
                        load.obj.end_line,
                        f"{load.obj.identity}/volume/{volume.get('name')}",
                        f"GPU workload {load.obj.name} mounts host path {host!s}: a compromised "
                        "model server can read or change the node's files.",
                    )
                )
    return out


def limits(loads: list[Workload], path: str) -> list[Finding]:
    """PRG-AI-011: inference server containers without resources.limits."""
    out = []
    for load in loads:
        for container in load.containers():
            if not is_inference_container(container):
                continue
            resources = container.get("resources")
            if (
                isinstance(resources, dict)
                and isinstance(resources.get("limits"), dict)
                and resources["limits"]
            ):
                continue
            out.append(
                finding(
                    BY_ID["PRG-AI-011"],
                    path,
                    container.line,
                    container.end_line,
                    f"{load.obj.identity}/{container.get('name')}",
                    f"Inference container {container.get('name')} has no resources.limits.",
                )
            )
    return out


def _inference_accounts(loads: list[Workload]) -> set[str]:
    return {w.service_account for w in loads if w.inference}


def _subjects(binding: Obj) -> list[str]:
    subjects = seq(binding.root.get("subjects"))
    return [str(s.get("name")) for s in subjects if isinstance(s, dict) and s.get("kind") == "ServiceAccount"]


def rbac(objs: list[Obj], loads: list[Workload], path: str) -> list[Finding]:
    """PRG-AI-009 cluster-admin and PRG-AI-010 wildcard roles bound to inference service accounts."""
    accounts = _inference_accounts(loads)
    roles = {o.name: o for o in objs if o.kind in {"Role", "ClusterRole"}}
    out = []
    for binding in (o for o in objs if o.kind in {"RoleBinding", "ClusterRoleBinding"}):
        sas = [s for s in _subjects(binding) if s in accounts or inference_name(s)]
        role_ref = binding.root.get("roleRef")
        if not sas or not isinstance(role_ref, LDict):
            continue
        role_name = str(role_ref.get("name"))
        if role_name == "cluster-admin":
            out.append(
                finding(
                    BY_ID["PRG-AI-009"],
                    path,
                    line_of(role_ref, "name"),
                    binding.end_line,
                    f"{binding.identity}/{','.join(sorted(sas))}",
                    f"{binding.kind} {binding.name} gives inference service account(s) "
                    f"{', '.join(sas)} cluster-admin: a prompt-injected or exploited model server "
                    "controls the cluster.",
                )
            )
        elif role_name in roles:
            out.extend(_wildcards(roles[role_name], binding, sas, path))
    return out


def _wildcards(role: Obj, binding: Obj, sas: list[str], path: str) -> list[Finding]:
    out = []
    for rule in seq(role.root.get("rules")):
        if not isinstance(rule, LDict):
            continue
        wild = [k for k in ("verbs", "resources", "apiGroups") if "*" in seq(rule.get(k))]
        if "verbs" in wild or "resources" in wild:
            out.append(
                finding(
                    BY_ID["PRG-AI-010"],
                    path,
                    line_of(rule, wild[0]),
                    role.end_line,
                    f"{role.identity}/{binding.name}",
                    f"{role.kind} {role.name} (bound to {', '.join(sas)} by {binding.name}) grants "
                    f"'*' in {', '.join(wild)}.",
                )
            )
            break
    return out


def configmap_keys(objs: list[Obj], path: str) -> list[Finding]:
    """PRG-AI-012: provider keys in ConfigMap data, whole values or lines of embedded config files."""
    out = []
    for cm in (o for o in objs if o.kind == "ConfigMap"):
        data = cm.root.get("data")
        if not isinstance(data, LDict):
            continue
        for key, value in data.items():
            for offset, secret in _keys_in_value(str(key), value):
                out.append(
                    finding(
                        BY_ID["PRG-AI-012"],
                        path,
                        line_of(data, key) + offset,
                        cm.end_line,
                        f"{cm.identity}/{key}",
                        f"ConfigMap {cm.name} key {key} holds an LLM provider key ({describe(secret)}): "
                        "ConfigMaps are readable by anyone with view rights. Move it to a secret "
                        "store and rotate it.",
                    )
                )
    return out


def _keys_in_value(name: str, value: Any) -> list[tuple[int, str]]:
    """(line offset, secret) for a ConfigMap value; block scalars start one line below their key."""
    if not isinstance(value, str):
        return []
    if "\n" not in value.strip():
        secret = literal_key(name, value)
        return [(0, secret)] if secret else []
    found = []
    for offset, text in enumerate(value.splitlines(), start=1):
        secret = shaped_key(text)
        if secret is None and ("=" in text or ":" in text):
            left, _, right = text.replace(":", "=", 1).partition("=")
            secret = literal_key(
                left.strip().strip("\"'").removeprefix("export "), right.strip().strip("\"'")
            )
        if secret:
            found.append((offset, secret))
    return found


def env_literals(loads: list[Workload], path: str) -> list[Finding]:
    """PRG-AI-013: provider keys as literal `env[].value` in any container."""
    out = []
    for load in loads:
        for container in load.containers():
            for item in seq(container.get("env")):
                if not isinstance(item, LDict):
                    continue
                secret = literal_key(str(item.get("name") or ""), item.get("value"))
                if secret:
                    out.append(
                        finding(
                            BY_ID["PRG-AI-013"],
                            path,
                            line_of(item, "value"),
                            load.obj.end_line,
                            f"{load.obj.identity}/{container.get('name')}/{item.get('name')}",
                            f"Container {container.get('name')} sets {item.get('name')} to a literal "
                            f"LLM provider key ({describe(secret)}); use a secretKeyRef from a secret "
                            "store and rotate the key.",
                        )
                    )
    return out
