"""Components that are files: model artifacts (with what a model card beside them states), datasets,
prompts, agent rules and settings. Model files are hashed by streaming (never loaded) and sniffed for their
serialisation; a Git LFS pointer gives the digest it stands for; a signature or digest file beside a model
is noted (verifying signatures is the prompt-safety check's job, not the inventory's).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import yaml

from checks.ai_assets import AssetKind
from checks.aibom.model import Component, Evidence, Kind, Strength
from checks.aibom.tree import Tree, Unreadable

_FORMATS = {".safetensors": "safetensors", ".gguf": "gguf", ".onnx": "onnx", ".pt": "pytorch",
            ".pth": "pytorch", ".bin": "pytorch", ".ckpt": "pytorch", ".pkl": "pickle", ".pickle": "pickle",
            ".joblib": "joblib",
            ".dill": "dill", ".npy": "numpy", ".npz": "numpy", ".h5": "keras-hdf5", ".keras": "keras",
            ".pb": "tensorflow", ".tflite": "tflite", ".mlmodel": "coreml"}
_PICKLE_FORMATS = {"pytorch", "pickle", "joblib", "dill"}
_CARD_NAMES = ("README.md", "MODEL_CARD.md", "model_card.md", "modelcard.md", "MODELCARD.md")
_SIG_SUFFIXES = (".sig", ".sigstore", ".sigstore.json", ".bundle", ".asc")
_LFS_HEADER = b"version https://git-lfs.github.com/spec/v1\n"
_LFS_OID = re.compile(rb"^oid sha256:([0-9a-f]{64})$", re.M)
_LFS_SIZE = re.compile(rb"^size (\d+)$", re.M)


def _suffix(path: str) -> str:
    name = path.rsplit("/", 1)[-1].lower()
    return "." + name.rsplit(".", 1)[-1] if "." in name else ""


def _dir(path: str) -> str:
    return path.rsplit("/", 1)[0] + "/" if "/" in path else ""


def _exists(tree: Tree, path: str) -> bool | None:
    """Whether `path` exists; None when it could not be read (unknown, never guessed either way)."""
    try:
        return tree.read(path) is not None
    except Unreadable:
        return None
    except ValueError:
        return False


def sniff(head: bytes | None, suffix_format: str) -> str:
    """The serialisation the first bytes show (a `.bin` may be a PyTorch zip, a raw pickle or raw tensors)."""
    if not head:
        return suffix_format
    if head.startswith(b"PK\x03\x04"):
        return "pytorch-zip" if suffix_format == "pytorch" else f"{suffix_format}-zip"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "pickle" if suffix_format in ("pickle", "pytorch") else suffix_format
    if head.startswith(b"GGUF"):
        return "gguf"
    if head.startswith(b"\x89HDF"):
        return "keras-hdf5" if suffix_format.startswith("keras") else "hdf5"
    if head.startswith(b"\x93NUMPY"):
        return "numpy"
    return suffix_format


#: first bytes of the serialisations a model file can have (zip, pickle 2-5, GGUF, HDF5, NumPy)
_MODEL_MAGIC = (b"PK\x03\x04", b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05", b"GGUF", b"\x89HDF",
                b"\x93NUMPY")


def model_file(tree: Tree, path: str) -> Iterator[Component]:
    suffix_format = _FORMATS.get(_suffix(path), _suffix(path).lstrip(".") or "unknown")
    head = tree.peek(path, 256)
    if _suffix(path) == ".bin" and (head is None or not head.startswith((_LFS_HEADER, *_MODEL_MAGIC))):
        return  # `.bin` is every kind of binary: one with no model serialisation's header is not a model
    attrs: dict[str, Any] = {}
    ev_note = "model file"
    if head is not None and head.startswith(_LFS_HEADER) and len(head) < 256:
        oid, size = _LFS_OID.search(head), _LFS_SIZE.search(head)
        attrs.update(lfs_pointer=True, format=suffix_format)
        if oid:
            attrs["sha256"] = oid.group(1).decode()
        if size:
            attrs["size"] = int(size.group(1))
        ev_note = "Git LFS pointer (bytes not in the repository)"
    else:
        fmt = sniff(head, suffix_format)
        attrs["format"] = fmt
        digest = tree.digest(path)
        if digest is not None:
            attrs["sha256"], attrs["size"] = digest
        else:
            size = getattr(tree, "size", lambda _p: None)(path)
            if size is not None:
                attrs["size"] = size
            attrs["digest_unknown"] = "larger than the read cap"
    attrs["serialization"] = "pickle" if attrs["format"].split("-")[0] in _PICKLE_FORMATS or \
        attrs["format"] == "pickle" else attrs["format"]
    attrs["signature"] = _signature(tree, path)
    stated = _stated_digest(tree, path)
    if stated is not None:
        attrs["stated_sha256"] = stated
        if "sha256" in attrs:
            attrs["digest_matches_stated"] = stated == attrs["sha256"]
    card, card_path = model_card(tree, path)
    evidence = [Evidence(path, 0, Strength.STATED, ev_note)]
    if card_path:
        evidence.append(Evidence(card_path, 0, Strength.STATED, "model card"))
    yield Component(Kind.MODEL_FILE, path, source="repository", version=attrs.get("sha256", "")[:12] or None,
                    pinned=True if "sha256" in attrs else None, attrs=attrs, card=card, evidence=evidence)


def _signature(tree: Tree, path: str) -> str:
    unknown = []
    for candidate in (*(path + s for s in _SIG_SUFFIXES), _dir(path) + "model.sig",
                      _dir(path) + "model.sigstore.json"):
        found = _exists(tree, candidate)
        if found:
            return f"signature present ({candidate}), not verified by the AI-BOM"
        if found is None:
            unknown.append(candidate)
    return f"unknown (could not read {unknown[0]})" if unknown else "unsigned"


def _stated_digest(tree: Tree, path: str) -> str | None:
    for candidate in (path + ".sha256", path + ".sha256sum"):
        try:
            data = tree.read(candidate)
        except (Unreadable, ValueError):
            continue
        if data:
            found = re.search(rb"\b([0-9a-fA-F]{64})\b", data)
            if found:
                return found.group(1).decode().lower()
    return None


def model_card(tree: Tree, path: str) -> tuple[dict[str, Any], str | None]:
    """What a model card beside the file states: Hugging Face front matter and a few sections."""
    for name in _CARD_NAMES:
        card_path = _dir(path) + name
        try:
            data = tree.read(card_path)
        except (Unreadable, ValueError):
            continue
        if data:
            return parse_card(data.decode("utf-8", "replace")), card_path
    return {}, None


def parse_card(text: str) -> dict[str, Any]:
    card: dict[str, Any] = {}
    front: Any = {}
    if text.startswith("---"):
        end = text.find("\n---", 3)
        if end > 0:
            try:
                front = yaml.safe_load(text[3:end]) or {}
            except yaml.YAMLError:
                front = {}
            text = text[end + 4:]
    if isinstance(front, dict):
        for key in ("license", "pipeline_tag", "library_name", "base_model", "language", "tags"):
            if front.get(key):
                card[key] = front[key]
        datasets = front.get("datasets")
        if datasets:
            card["datasets"] = [str(d) for d in (datasets if isinstance(datasets, list) else [datasets])]
        metrics = []
        for entry in front.get("model-index") or []:
            for result in (entry or {}).get("results") or [] if isinstance(entry, dict) else []:
                if not isinstance(result, dict):
                    continue
                task = result["task"].get("type") if isinstance(result.get("task"), dict) else None
                if task and "pipeline_tag" not in card:
                    card["pipeline_tag"] = task
                dataset = result.get("dataset") if isinstance(result.get("dataset"), dict) else {}
                for metric in result.get("metrics") or []:
                    if isinstance(metric, dict) and metric.get("type") is not None:
                        metrics.append({"type": str(metric.get("type")),
                                        "value": str(metric.get("value", "")),
                                        "slice": str(dataset.get("name") or dataset.get("type") or "")})
        if metrics:
            card["metrics"] = metrics
    for heading, key in (("limitation", "limitations"), ("intended use", "use_cases"), ("bias", "ethics")):
        section = _section(text, heading)
        if section:
            card[key] = section
    return card


def _section(text: str, heading: str) -> str:
    found = re.search(rf"(?im)^#+\s*[^\n]*{heading}[^\n]*\n(.*?)(?=^#+\s|\Z)", text, re.S)
    return " ".join(found.group(1).split())[:500] if found else ""


_FILE_KINDS = {AssetKind.DATASET: Kind.DATASET, AssetKind.PROMPT: Kind.PROMPT,
               AssetKind.AGENT_RULES: Kind.AGENT_RULES, AssetKind.AGENT_SETTINGS: Kind.AGENT_SETTINGS}


def asset_file(tree: Tree, path: str, kind: AssetKind) -> Iterator[Component]:
    """A dataset, prompt, agent-rules or agent-settings file, identified by path and digest."""
    target = _FILE_KINDS.get(kind)
    if target is None:
        return
    digest = tree.digest(path)
    attrs: dict[str, Any] = {"format": _suffix(path).lstrip(".") or "text"}
    if digest is not None:
        attrs["sha256"], attrs["size"] = digest
    else:
        attrs["digest_unknown"] = "larger than the read cap"
    yield Component(target, path, source="repository", attrs=attrs,
                    evidence=[Evidence(path, 0, Strength.STATED, kind.value)])
