"""Kubernetes manifests as objects: workloads with pod specs, Services, which pods a name reaches."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from checks.iac.ai_rules.inference import (
    INFERENCE_PORTS,
    inference_name,
    is_auth_container,
    is_inference_container,
)
from checks.iac.ai_rules.yamldoc import Doc, LDict, LList, scalar, seq

_POD_PATHS = {
    "Pod": (("spec",),),
    "CronJob": (("spec", "jobTemplate", "spec", "template", "spec"),),
    "RayService": (("spec", "rayClusterConfig", "headGroupSpec", "template", "spec"),),
    "RayCluster": (("spec", "headGroupSpec", "template", "spec"),),
}
_DEFAULT_POD_PATH = (("spec", "template", "spec"),)


@dataclass
class Obj:
    """One Kubernetes object and the lines of its document."""

    root: LDict
    line: int
    end_line: int

    @property
    def kind(self) -> str:
        return str(self.root.get("kind") or "")

    @property
    def meta(self) -> LDict:
        meta = self.root.get("metadata")
        return meta if isinstance(meta, LDict) else _empty()

    @property
    def name(self) -> str:
        return str(self.meta.get("name") or "")

    @property
    def identity(self) -> str:
        namespace = self.meta.get("namespace") or ""
        return f"{self.kind}/{namespace}/{self.name}" if namespace else f"{self.kind}/{self.name}"

    @property
    def spec(self) -> LDict:
        spec = self.root.get("spec")
        return spec if isinstance(spec, LDict) else _empty()

    def annotations(self) -> dict[str, str]:
        ann = self.meta.get("annotations")
        return {str(k): str(v) for k, v in ann.items()} if isinstance(ann, dict) else {}

    def labels(self) -> dict[str, str]:
        labels = self.meta.get("labels")
        return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}


def _empty() -> LDict:
    return LDict()


def objects(docs: list[Doc]) -> list[Obj]:
    """Kubernetes objects (mappings with `kind`), `kind: List` items flattened."""
    out: list[Obj] = []
    for doc in docs:
        root = doc.root
        if not isinstance(root, LDict) or "kind" not in root:
            continue
        if root.get("kind") == "List" and isinstance(root.get("items"), LList):
            for item in root["items"]:
                if isinstance(item, LDict) and "kind" in item:
                    out.append(Obj(item, item.line, item.end_line))
            continue
        out.append(Obj(root, doc.line, doc.end_line))
    return out


def _dig(value: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


@dataclass
class Workload:
    obj: Obj
    pod: LDict
    pod_labels: dict[str, str]

    def containers(self) -> list[LDict]:
        out: list[LDict] = []
        for key in ("initContainers", "containers"):
            items = self.pod.get(key)
            if isinstance(items, list):
                out.extend(c for c in items if isinstance(c, LDict))
        return out

    @property
    def inference(self) -> bool:
        return any(is_inference_container(c) for c in self.containers())

    @property
    def has_auth_sidecar(self) -> bool:
        return any(is_auth_container(c) for c in self.containers())

    @property
    def service_account(self) -> str:
        return str(self.pod.get("serviceAccountName") or self.pod.get("serviceAccount") or "default")


def workloads(objs: list[Obj]) -> Iterator[Workload]:
    for obj in objs:
        paths = _POD_PATHS.get(obj.kind, _DEFAULT_POD_PATH)
        for path in paths:
            pod = _dig(obj.root, path)
            if isinstance(pod, LDict) and isinstance(pod.get("containers"), list):
                template = _dig(obj.root, path[:-1]) if len(path) > 1 else obj.root
                labels = _dig(template, ("metadata", "labels")) if isinstance(template, dict) else None
                labels = obj.labels() if obj.kind == "Pod" else labels if isinstance(labels, dict) else {}
                yield Workload(obj, pod, {str(k): str(v) for k, v in labels.items()})
        if obj.kind == "RayService":  # worker groups run the Serve replicas too
            groups = _dig(obj.root, ("spec", "rayClusterConfig", "workerGroupSpecs"))
            for group in groups if isinstance(groups, list) else []:
                pod = _dig(group, ("template", "spec"))
                if isinstance(pod, LDict):
                    yield Workload(obj, pod, {})


def selected(service: Obj, loads: list[Workload]) -> list[Workload]:
    """Workloads whose pod labels match the Service's selector."""
    selector = service.spec.get("selector")
    if not isinstance(selector, dict) or not selector:
        return []
    want = {str(k): str(v) for k, v in selector.items()}
    return [w for w in loads if want.items() <= w.pod_labels.items()]


def fronts_inference(service_name: str, services: dict[str, Obj], loads: list[Workload]) -> tuple[bool, bool]:
    """(reaches an inference server, those pods carry an auth sidecar) for a Service named `service_name`.

    Pods defined in the same file decide; otherwise the Service's name, selector values and ports do, and a
    Service defined elsewhere is judged by its name.
    """
    service = services.get(service_name)
    if service is not None:
        pods = selected(service, loads)
        if pods:
            return any(w.inference for w in pods), all(w.has_auth_sidecar for w in pods if w.inference)
        selector = service.spec.get("selector")
        labels = [str(v) for v in selector.values()] if isinstance(selector, dict) else []
        named = inference_name(service_name) or any(inference_name(v) for v in labels)
        return named or _inference_ports(service), False
    return inference_name(service_name), False


def _inference_ports(service: Obj) -> bool:
    ports = service.spec.get("ports")
    return any(
        isinstance(p, dict)
        and (scalar(p.get("port")) in INFERENCE_PORTS or scalar(p.get("targetPort")) in INFERENCE_PORTS)
        for p in seq(ports)
    )
