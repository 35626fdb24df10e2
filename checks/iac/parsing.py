"""Can the file be parsed at all? Checked before an engine sees it, because checkov silently skips a
Kubernetes/CloudFormation YAML it cannot load and zizmor only warns: "could not parse" must be reported,
never mistaken for "clean"."""

from __future__ import annotations

import json
from typing import Any

import yaml

from checks.yaml_size import RecursiveAlias, expanded_size


class _AnyTagLoader(yaml.SafeLoader):
    """Safe YAML that accepts CloudFormation's short-form tags (`!Ref`, `!Sub`, …) as plain values."""


def _any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)  # type: ignore[arg-type]


_AnyTagLoader.add_multi_constructor("!", _any_tag)


#: values a YAML file's aliases may add once expanded. Engines see the expanded tree: checkov spent minutes
#: and its whole memory limit on a 1 KiB "billion laughs" manifest (nine levels of ten aliases), holding the
#: job's four runs in progress. Ordinary anchors (a shared env block) add a few hundred.
MAX_ALIAS_EXPANSION = 100_000


def _load_bounded(text: str) -> str | None:
    """Load every document of `text` (as `yaml.load_all` does); the reason it is refused, or None."""
    loader = _AnyTagLoader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            try:
                total, distinct = expanded_size(node) if node is not None else (0, 0)
            except RecursiveAlias:
                return f"recursive YAML alias in the document at line {node.start_mark.line + 1}"
            extra = total - distinct  # what aliases add: a large file without aliases is fine
            if extra > MAX_ALIAS_EXPANSION:
                line = node.start_mark.line + 1
                return (f"YAML alias bomb at line {line}: aliases expand it by {extra} values "
                        f"(more than {MAX_ALIAS_EXPANSION})")
            loader.construct_document(node)
    finally:
        loader.dispose()
    return None


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
            return _load_bounded(text)  # a SafeLoader subclass
    except RecursionError:
        return "nested too deeply to parse"
    except json.JSONDecodeError as exc:
        return f"invalid JSON at line {exc.lineno}: {exc.msg}"
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return f"invalid YAML{where}: {problem}"
    return None
