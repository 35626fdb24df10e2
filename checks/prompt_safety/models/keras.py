"""Keras models: `Lambda` layers (serialized Python code) and custom objects, read from the configuration.

`.keras` is a zip whose `config.json` describes every layer; legacy `.h5` keeps the same JSON in the
`model_config` attribute of the root group. Rather than run libhdf5 on untrusted bytes, the `.h5` scan reads
the file as a stream and looks for that JSON's Lambda markers (attributes are stored uncompressed), so an
HDF5 file is never parsed by C code here; it cannot tell custom layers apart, and says so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, BinaryIO

from checks.finding import Finding
from checks.prompt_safety.models import rules

MAX_CONFIG = 32 * 1024 * 1024
_BUILTIN_MODULES = ("keras", "tensorflow.keras", "tf_keras", "keras_nlp", "keras_hub", "keras_cv")
_H5_LAMBDA = re.compile(rb'"class_name":\s*"(Lambda|__lambda__)"')
_CHUNK = 4 * 1024 * 1024


def scan_config(raw: bytes, path: str) -> list[Finding]:
    try:
        config = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        return [rules.ARCHIVE_BAD.finding(path, 0, f"{path}: config.json is not JSON ({type(exc).__name__})",
                                          key="keras-config")]
    out: list[Finding] = []
    lambdas: set[str] = set()
    custom: set[str] = set()
    for node in _objects(config, 0):
        cls = node.get("class_name")
        if not isinstance(cls, str):
            continue
        conf = node.get("config")
        name = str(conf.get("name", cls)) if isinstance(conf, dict) else cls
        if cls in ("Lambda", "__lambda__"):
            lambdas.add(name)
            continue
        module = node.get("module")
        registered = node.get("registered_name")
        if (isinstance(module, str) and module and not module.startswith(_BUILTIN_MODULES)) or (
                isinstance(registered, str) and ">" in registered):
            custom.add(f"{module or '?'}.{registered or cls}")
    for name in sorted(lambdas):
        message = f"{path}: layer {name[:80]!r} is a Lambda holding code"
        out.append(rules.KERAS_LAMBDA.finding(path, 0, message, key=f"lambda:{name}"))
    for name in sorted(custom):
        out.append(rules.KERAS_CUSTOM.finding(path, 0, f"{path}: needs custom object {name[:120]!r}",
                                              key=f"custom:{name}"))
    return out


def _objects(node: Any, depth: int) -> Iterator[dict[str, Any]]:
    if depth > 200:
        return
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _objects(value, depth + 1)
    elif isinstance(node, list):
        for value in node:
            yield from _objects(value, depth + 1)


def scan_h5(fh: BinaryIO, path: str) -> list[Finding]:
    """Lambda markers anywhere in the file (chunks overlap so a marker on a boundary is not missed)."""
    tail = b""
    found: set[str] = set()
    while True:
        chunk = fh.read(_CHUNK)
        if not chunk:
            break
        block = tail + chunk
        found.update(m.group(1).decode() for m in _H5_LAMBDA.finditer(block))
        tail = block[-64:]
    return [rules.KERAS_LAMBDA.finding(path, 0, f"{path}: model_config holds a {kind} layer (serialized "
                                       "code)", key=f"h5:{kind}") for kind in sorted(found)]
