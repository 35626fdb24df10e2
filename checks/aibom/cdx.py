"""An inventory as CycloneDX 1.6 JSON, built with cyclonedx-python-lib (7.x to 11.x).

The library builds the document (components, services, hashes, package URLs, properties) and serialises it
for spec 1.6. Three parts of 1.6 it does not model (component `modelCard`, component `data`, and
`evidence.occurrences` with line numbers in every supported version) are added to the serialised JSON by
bom-ref, and the result is what `prguard bom` validates against the 1.6 schema before writing it.

Mapping: referenced models and model files -> `machine-learning-model` (with a `modelCard` holding what
the repository states: task, datasets, metrics, limitations, licence); datasets -> `data`; prompts, agent
rules and settings -> `file`; stdio MCP servers -> `application`; remote MCP servers and LLM providers ->
`services`; SDKs -> `library`. Every component carries its evidence (file and line) and its strength
(`prguard:strength` = stated / reached / ambiguous, also as an identity confidence of 1.0 / 0.7 / 0.3).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

from cyclonedx.model import HashAlgorithm, HashType, Property, XsUri
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component as CdxComponent
from cyclonedx.model.component import ComponentType
from cyclonedx.model.contact import OrganizationalEntity
from cyclonedx.model.service import Service
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

from checks.aibom.model import Component, Inventory, Kind, Strength
from checks.aibom.names import PROVIDER_NAMES

_CONFIDENCE = {Strength.STATED: 1.0, Strength.REACHED: 0.7, Strength.AMBIGUOUS: 0.3}
_TECHNIQUE = {Strength.STATED: "manifest-analysis", Strength.REACHED: "source-code-analysis",
              Strength.AMBIGUOUS: "source-code-analysis"}
_TYPES = {Kind.MODEL: ComponentType.MACHINE_LEARNING_MODEL,
          Kind.MODEL_FILE: ComponentType.MACHINE_LEARNING_MODEL, Kind.DATASET: ComponentType.DATA,
          Kind.PROMPT: ComponentType.FILE, Kind.AGENT_RULES: ComponentType.FILE,
          Kind.AGENT_SETTINGS: ComponentType.FILE, Kind.MCP_SERVER: ComponentType.APPLICATION,
          Kind.SDK: ComponentType.LIBRARY}
_MAX_OCCURRENCES = 50


def bom_ref(c: Component) -> str:
    return "aibom:" + re.sub(r"[^A-Za-z0-9._:/@+-]", "_", c.key)


def _purl(c: Component) -> PackageURL | None:
    if c.kind is Kind.MODEL and c.source == "huggingface" and "/" in c.name and not c.name.startswith("("):
        namespace, name = c.name.split("/", 1)
        return PackageURL("huggingface", namespace, name, c.version if c.pinned else None)
    if c.kind is Kind.SDK and c.source in ("pypi", "npm"):
        version = (c.version or "").lstrip("=") if c.pinned else None
        namespace, _, name = c.name.rpartition("/") if c.name.startswith("@") else ("", "", c.name)
        return PackageURL(c.source, namespace or None, name, version or None)
    if c.kind is Kind.MCP_SERVER and c.attrs.get("package") and c.pinned:
        eco, package = c.attrs.get("ecosystem"), str(c.attrs["package"])
        if eco == "npm":
            scoped = package.startswith("@")
            base, _, version = (package[1:] if scoped else package).rpartition("@")
            base = ("@" + base) if scoped else base
            namespace, _, name = base.rpartition("/")
            return PackageURL("npm", namespace or None, name, version or None)
        if eco == "pypi":
            name, _, version = package.partition("==")
            return PackageURL("pypi", None, name, version or None)
    return None


def _properties(c: Component) -> list[Property]:
    props = {"prguard:kind": c.kind.value, "prguard:source": c.source, "prguard:strength": c.strength.value}
    if c.pinned is not None:
        props["prguard:pinned"] = str(c.pinned).lower()
    for key in ("format", "serialization", "signature", "lfs_pointer", "digest_unknown", "stated_sha256",
                "digest_matches_stated", "transport", "command", "package", "url", "unpinned_reason",
                "revision", "size"):
        if key in c.attrs and c.attrs[key] not in (None, ""):
            value = c.attrs[key]
            props[f"prguard:{key}"] = str(value).lower() if isinstance(value, bool) else str(value)
    if c.attrs.get("args"):
        props["prguard:args"] = " ".join(c.attrs["args"])
    out = [Property(name=k, value=v) for k, v in props.items()]
    for ev in c.evidence[:_MAX_OCCURRENCES]:
        where = f"{ev.path}:{ev.line}" if ev.line else ev.path
        text = f"{where} [{ev.strength.value}] {ev.note}".strip()
        out.append(Property(name="prguard:evidence", value=text))
    return out


def _component(c: Component) -> CdxComponent:
    comp = CdxComponent(name=c.name, type=_TYPES[c.kind], bom_ref=bom_ref(c), version=c.version or None,
                        purl=_purl(c), properties=_properties(c))
    if c.attrs.get("sha256"):
        comp.hashes.add(HashType(alg=HashAlgorithm.SHA_256, content=c.attrs["sha256"]))
    if c.card.get("license"):
        comp.description = f"licence stated in the model card: {c.card['license']}"
    return comp


def _service(c: Component) -> Service:
    if c.kind is Kind.PROVIDER:
        display = PROVIDER_NAMES.get(c.name, c.name)
        service = Service(name=f"{display} API", bom_ref=bom_ref(c),
                          provider=OrganizationalEntity(name=display), properties=_properties(c))
    else:
        service = Service(name=c.name, bom_ref=bom_ref(c), properties=_properties(c))
        url = str(c.attrs.get("url", ""))
        if url:
            service.endpoints.add(XsUri(url))
    return service


def to_cyclonedx(inventory: Inventory, *, name: str = "repository", version: str = "") -> dict[str, Any]:
    """The inventory as a CycloneDX 1.6 JSON document (a dict ready for `json.dumps`)."""
    bom = Bom()
    bom.metadata.component = CdxComponent(name=name, type=ComponentType.APPLICATION, bom_ref="aibom:root")
    refs: dict[str, Component] = {}
    parts: list[Any] = []
    for c in inventory.sorted():
        refs[bom_ref(c)] = c
        if c.kind is Kind.PROVIDER or (c.kind is Kind.MCP_SERVER and c.attrs.get("url")):
            service = _service(c)
            bom.services.add(service)
            parts.append(service)
        else:
            component = _component(c)
            bom.components.add(component)
            parts.append(component)
    bom.register_dependency(bom.metadata.component, parts)  # the repository uses each of them
    doc = json.loads(JsonV1Dot6(bom).output_as_string())
    for item in doc.get("components", []):
        c = refs.get(item.get("bom-ref", ""))
        if c is None:
            continue
        if c.kind in (Kind.MODEL, Kind.MODEL_FILE):
            item["modelCard"] = model_card(c, inventory)
        if c.kind is Kind.DATASET:
            item["data"] = [_data(c)]
        item["evidence"] = _evidence(c)
    tools = doc.setdefault("metadata", {}).setdefault("tools", {})
    if isinstance(tools, dict):
        tools.setdefault("components", []).append({"type": "application", "name": "prguard",
                                                   **({"version": version} if version else {})})
    return doc


def _data(c: Component) -> dict[str, Any]:
    data: dict[str, Any] = {"type": "dataset", "name": c.name}
    if c.source == "huggingface" and not c.name.startswith("("):
        data["contents"] = {"url": f"https://huggingface.co/datasets/{quote(c.name)}"}
    parts = [f"format {c.attrs['format']}"] if c.attrs.get("format") else []
    if c.attrs.get("size") is not None:
        parts.append(f"{c.attrs['size']} bytes")
    if parts:
        data["description"] = ", ".join(parts)
    return data


def _evidence(c: Component) -> dict[str, Any]:
    strength = c.strength
    shown = c.evidence[:_MAX_OCCURRENCES]
    methods = [{"technique": _TECHNIQUE[ev.strength], "confidence": _CONFIDENCE[ev.strength],
                "value": f"{ev.path}:{ev.line} {ev.note}".strip()} for ev in shown]
    occurrences = [{"location": ev.path, **({"line": ev.line} if ev.line else {}),
                    **({"additionalContext": ev.note} if ev.note else {})} for ev in shown]
    return {"identity": [{"field": "name", "confidence": _CONFIDENCE[strength], "methods": methods}],
            "occurrences": occurrences}


def model_card(c: Component, inventory: Inventory) -> dict[str, Any]:
    """The `modelCard` of a model component: only what the repository states (nothing invented)."""
    card = c.card
    out: dict[str, Any] = {}
    params: dict[str, Any] = {}
    task = card.get("pipeline_tag") or c.attrs.get("task")
    if task:
        params["task"] = str(task)
    if card.get("library_name"):
        params["architectureFamily"] = str(card["library_name"])
    if card.get("base_model"):
        base = card["base_model"]
        base = base if isinstance(base, str) else ", ".join(map(str, base))
        params["modelArchitecture"] = f"fine-tuned from {base}"
    datasets = []
    for name in card.get("datasets", []):
        known = inventory.components.get(f"{Kind.DATASET.value}:huggingface:{name}")
        datasets.append({"ref": bom_ref(known)} if known else {"type": "dataset", "name": name})
    if datasets:
        params["datasets"] = datasets
    if params:
        out["modelParameters"] = params
    metrics = [{"type": m["type"], "value": m["value"], **({"slice": m["slice"]} if m.get("slice") else {})}
               for m in card.get("metrics", [])]
    if metrics:
        out["quantitativeAnalysis"] = {"performanceMetrics": metrics}
    considerations: dict[str, Any] = {}
    if card.get("limitations"):
        considerations["technicalLimitations"] = [card["limitations"]]
    if card.get("use_cases"):
        considerations["useCases"] = [card["use_cases"]]
    if card.get("ethics"):
        considerations["ethicalConsiderations"] = [{"name": card["ethics"]}]
    if considerations:
        out["considerations"] = considerations
    props = [{"name": "prguard:card-source", "value": _card_source(c)}]
    for key in ("license", "language", "tags"):
        if card.get(key):
            value = card[key]
            props.append({"name": f"prguard:card:{key}",
                          "value": ", ".join(map(str, value)) if isinstance(value, list) else str(value)})
    out["properties"] = props
    return out


def _card_source(c: Component) -> str:
    card_ev = [ev.path for ev in c.evidence if ev.note == "model card"]
    return card_ev[0] if card_ev else "no model card in the repository"
