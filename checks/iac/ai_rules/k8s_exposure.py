"""Kubernetes routes to inference servers: Services, Ingresses, Gateway API, KServe (PRG-AI-001…005)."""

from __future__ import annotations

import re

from checks.finding import Finding
from checks.iac.ai_rules.catalog import BY_ID
from checks.iac.ai_rules.k8s_model import Obj, Workload, fronts_inference, selected
from checks.iac.ai_rules.model import finding
from checks.iac.ai_rules.yamldoc import line_of, scalar, seq

_INTERNAL_LB = re.compile(r"load-balancer-internal|load-balancer-type|aws-load-balancer-scheme|lb-type", re.I)
_AUTH_ANNOTATION = re.compile(
    r"auth-url|auth-type|auth-signin|auth-secret|oauth|auth-tls-verify-client|"
    r"/auth-|authorization",
    re.I,
)
_AUTH_VALUE = re.compile(r"auth|oauth|oidc|jwt|key-?auth|cognito|openid", re.I)
_MIDDLEWARE_KEYS = re.compile(r"router\.middlewares|konghq\.com/plugins|/plugins$|apisix", re.I)
_RATE = re.compile(r"limit-rps|limit-rpm|limit-connections|limit-burst|rate-?limit|ratelimit|throttl", re.I)
_AUTH_POLICY_KINDS = {
    "SecurityPolicy",
    "AuthorizationPolicy",
    "RequestAuthentication",
    "AuthPolicy",
    "BackendSecurityPolicy",
}


def _public_lb(service: Obj) -> bool:
    kind = service.spec.get("type")
    if kind == "NodePort":
        return True
    if kind != "LoadBalancer":
        return False
    for key, value in service.annotations().items():
        if _INTERNAL_LB.search(key) and re.search(r"true|internal", value, re.I) and "internet" not in value:
            return False
    return True


def services(objs: list[Obj], loads: list[Workload], path: str) -> list[Finding]:
    """PRG-AI-001: a LoadBalancer/NodePort Service selecting inference pods that carry no auth sidecar."""
    rule = BY_ID["PRG-AI-001"]
    out = []
    for svc in (o for o in objs if o.kind == "Service"):
        if not _public_lb(svc):
            continue
        pods = selected(svc, loads)
        inference = [w for w in pods if w.inference]
        if pods and (not inference or all(w.has_auth_sidecar for w in inference)):
            continue
        if not pods and not fronts_inference(svc.name, {svc.name: svc}, [])[0]:
            continue
        line = line_of(svc.spec, "type", svc.line)
        out.append(
            finding(
                rule,
                path,
                line,
                svc.end_line,
                svc.identity,
                f"Service {svc.name} ({svc.spec.get('type')}) exposes an inference server outside the "
                "cluster with no authentication in front of it: anyone who reaches it can run the "
                "model at your cost.",
            )
        )
    return out


def _auth_annotated(annotations: dict[str, str]) -> bool:
    for key, value in annotations.items():
        if _AUTH_ANNOTATION.search(key) and value.strip().lower() not in {"", "false", "none"}:
            return True
        if _MIDDLEWARE_KEYS.search(key) and _AUTH_VALUE.search(value):
            return True
    return False


def _rate_limited(annotations: dict[str, str]) -> bool:
    return any(
        _RATE.search(k) or (_MIDDLEWARE_KEYS.search(k) and _RATE.search(v)) for k, v in annotations.items()
    )


def _ingress_backends(ingress: Obj) -> list[str]:
    names = []
    default = ingress.spec.get("defaultBackend") or ingress.spec.get("backend")
    rules = seq(ingress.spec.get("rules"))
    backends = [default] if isinstance(default, dict) else []
    for rule in rules if isinstance(rules, list) else []:
        http = rule.get("http") if isinstance(rule, dict) else None
        paths = http.get("paths") if isinstance(http, dict) else None
        paths = paths if isinstance(paths, list) else []
        backends.extend(p.get("backend") for p in paths if isinstance(p, dict))
    for backend in backends:
        if not isinstance(backend, dict):
            continue
        service = backend.get("service")
        name = service.get("name") if isinstance(service, dict) else backend.get("serviceName")
        if name:
            names.append(str(name))
    return names


def ingresses(objs: list[Obj], loads: list[Workload], path: str) -> list[Finding]:
    """PRG-AI-002 (no auth) and PRG-AI-004 (no rate limit) on Ingresses that reach inference servers."""
    svcs = {o.name: o for o in objs if o.kind == "Service"}
    out = []
    for ing in (o for o in objs if o.kind == "Ingress"):
        reached = [fronts_inference(name, svcs, loads) for name in _ingress_backends(ing)]
        targets = [sidecar for inference, sidecar in reached if inference]
        if not targets:
            continue
        annotations = ing.annotations()
        line = line_of(ing.root, "spec", ing.line)
        if not _auth_annotated(annotations) and not all(targets):
            out.append(
                finding(
                    BY_ID["PRG-AI-002"],
                    path,
                    line,
                    ing.end_line,
                    ing.identity,
                    f"Ingress {ing.name} routes to an inference server and has no auth annotation "
                    "(auth-url, auth-type, an auth middleware/plugin) nor an auth sidecar.",
                )
            )
        if not _rate_limited(annotations):
            out.append(
                finding(
                    BY_ID["PRG-AI-004"],
                    path,
                    line,
                    ing.end_line,
                    ing.identity,
                    f"Ingress {ing.name} routes to an inference server with no rate-limit "
                    "annotation: one client can consume all GPU capacity (and your budget).",
                )
            )
    return out


def _targets(policy: Obj) -> set[str]:
    refs = seq(policy.spec.get("targetRefs"))
    ref = policy.spec.get("targetRef")
    refs = [*refs, ref] if isinstance(ref, dict) else list(refs) if isinstance(refs, list) else []
    names = {str(r.get("name")) for r in refs if isinstance(r, dict)}
    if not names and policy.kind in {"AuthorizationPolicy", "RequestAuthentication"}:
        names.add("*")  # Istio policies without targetRef apply by selector/namespace
    return names


def routes(objs: list[Obj], loads: list[Workload], path: str) -> list[Finding]:
    """PRG-AI-003: HTTPRoute/GRPCRoute to an inference backend with no auth filter or policy targeting it."""
    svcs = {o.name: o for o in objs if o.kind == "Service"}
    protected: set[str] = set()
    for policy in (o for o in objs if o.kind in _AUTH_POLICY_KINDS):
        protected |= _targets(policy)
    out = []
    for route in (o for o in objs if o.kind in {"HTTPRoute", "GRPCRoute"}):
        parents = {str(p.get("name")) for p in seq(route.spec.get("parentRefs")) if isinstance(p, dict)}
        if protected & ({route.name, "*"} | parents):
            continue
        inference, filtered = False, False
        for rule in seq(route.spec.get("rules")):
            if not isinstance(rule, dict):
                continue
            filters = seq(rule.get("filters"))
            filtered = filtered or any(
                isinstance(f, dict) and f.get("type") == "ExtensionRef" for f in filters
            )
            for ref in seq(rule.get("backendRefs")):
                if isinstance(ref, dict) and scalar(ref.get("kind", "Service")) in {
                    "Service",
                    "InferencePool",
                    "AIServiceBackend",
                }:
                    hit, sidecar = fronts_inference(str(ref.get("name")), svcs, loads)
                    pool = ref.get("kind") == "InferencePool"
                    inference = inference or pool or (hit and not sidecar)
        if inference and not filtered:
            out.append(
                finding(
                    BY_ID["PRG-AI-003"],
                    path,
                    line_of(route.spec, "rules", route.line),
                    route.end_line,
                    route.identity,
                    f"{route.kind} {route.name} sends traffic to an inference server and no auth filter "
                    "or SecurityPolicy/AuthorizationPolicy in this file targets it or its Gateway.",
                )
            )
    return out


def kserve(objs: list[Obj], path: str) -> list[Finding]:
    """PRG-AI-005: KServe InferenceService with the default external visibility and auth off."""
    out = []
    for isvc in (o for o in objs if o.kind == "InferenceService"):
        labels, annotations = isvc.labels(), isvc.annotations()
        if labels.get("networking.kserve.io/visibility") == "cluster-local":
            continue
        if (
            annotations.get("serving.kserve.io/enable-auth")
            or labels.get("serving.kserve.io/enable-auth", "")
        ).lower() == "true":
            continue
        out.append(
            finding(
                BY_ID["PRG-AI-005"],
                path,
                isvc.line,
                isvc.end_line,
                isvc.identity,
                f"InferenceService {isvc.name} is reachable through the external ingress gateway "
                "(no cluster-local visibility label) and has auth disabled.",
            )
        )
    return out
