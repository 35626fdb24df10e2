"""Can the file be parsed at all? Checked before an engine sees it, because checkov silently skips a
Kubernetes/CloudFormation YAML it cannot load and zizmor only warns: "could not parse" must be reported,
never mistaken for "clean"."""

from __future__ import annotations

import json
from typing import Any

import yaml


class _AnyTagLoader(yaml.SafeLoader):
    """Safe YAML that accepts CloudFormation's short-form tags (`!Ref`, `!Sub`, …) as plain values."""


def _any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)  # type: ignore[arg-type]


_AnyTagLoader.add_multi_constructor("!", _any_tag)


def parse_error(path: str, data: bytes) -> str | None:
    """A one-line reason why the YAML/JSON file `path` does not parse, or None when it does (or when it is
    not a YAML/JSON file)."""
    lower = path.lower()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return f"not UTF-8 text ({exc.reason} at byte {exc.start})"
    try:
        if lower.endswith(".json"):
            json.loads(text)
        elif lower.endswith((".yml", ".yaml", ".template")):
            for _ in yaml.load_all(text, Loader=_AnyTagLoader):  # a SafeLoader subclass
                pass
    except json.JSONDecodeError as exc:
        return f"invalid JSON at line {exc.lineno}: {exc.msg}"
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return f"invalid YAML{where}: {problem}"
    return None
