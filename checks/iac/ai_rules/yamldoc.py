"""Bounded, safe YAML loading that keeps line numbers: every rule needs the line of the offending key.

PyYAML's SafeLoader composes nodes (which carry marks); we build plain dicts/lists from them ourselves so a
document of aliases cannot expand into a billion entries (the node budget counts every visit, aliases
included) and no Python object is ever constructed from a tag.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

#: Larger files are not IaC anyone reviews by hand; skipping them bounds time and memory.
MAX_BYTES = 2_000_000
#: Visits while building Python values (aliases re-visit their anchor: this is the alias-bomb limit).
MAX_NODES = 200_000
MAX_DOCUMENTS = 500

try:  # the C loader is ~10x faster and gives the same marks
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader


class YamlTooLarge(ValueError):
    """The document is over the size, document or node budget."""


class LDict(dict):
    """A mapping that remembers its own lines and the line of each key."""

    line: int = 0
    end_line: int = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.key_lines: dict[str, int] = {}


class LList(list):
    """A sequence that remembers its lines."""

    line: int = 0
    end_line: int = 0


@dataclass
class Doc:
    """One YAML document: its root value and its lines (1-based, inclusive)."""

    root: Any
    line: int
    end_line: int
    extra: dict[str, Any] = field(default_factory=dict)


def line_of(value: Any, key: str | None = None, default: int = 0) -> int:
    """Line of `key` inside mapping `value`, or of `value` itself."""
    if key is not None and isinstance(value, LDict):
        return value.key_lines.get(key, value.line or default)
    return getattr(value, "line", 0) or default


def end_of(value: Any, default: int = 0) -> int:
    return getattr(value, "end_line", 0) or default


class _Builder:
    def __init__(self) -> None:
        self.visits = 0

    def build(self, node: yaml.Node) -> Any:
        self.visits += 1
        if self.visits > MAX_NODES:
            raise YamlTooLarge("too many YAML nodes (alias expansion?)")
        if isinstance(node, yaml.MappingNode):
            out = LDict()
            for key_node, value_node in node.value:
                key = self.build(key_node)
                if key == "<<" and isinstance(value_node, yaml.MappingNode | yaml.SequenceNode):
                    self._merge(out, value_node)
                    continue
                key_text = str(key)
                out[key_text] = self.build(value_node)
                out.key_lines[key_text] = key_node.start_mark.line + 1
            out.line, out.end_line = _span(node)
            return out
        if isinstance(node, yaml.SequenceNode):
            seq = LList(self.build(item) for item in node.value)
            seq.line, seq.end_line = _span(node)
            return seq
        return _scalar(node)

    def _merge(self, out: LDict, node: yaml.Node) -> None:
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        for source in sources:
            merged = self.build(source)
            if isinstance(merged, LDict):
                for k, v in merged.items():
                    out.setdefault(k, v)
                    out.key_lines.setdefault(k, merged.key_lines.get(k, merged.line))


def _span(node: yaml.Node) -> tuple[int, int]:
    start = node.start_mark.line + 1
    end = node.end_mark.line + 1
    # a block ends at column 0 of the next line: that line is not part of it
    if node.end_mark.column == 0 and end > start:
        end -= 1
    return start, end


def _scalar(node: yaml.Node) -> Any:
    """Resolve a scalar by its implicit tag, without constructing arbitrary objects."""
    value = node.value
    tag = node.tag
    if tag.endswith(":bool"):
        return value.lower() in {"true", "yes", "on", "y"}
    if tag.endswith(":int"):
        try:
            return int(value.replace("_", ""), 0)
        except ValueError:
            return value
    if tag.endswith(":null"):
        return None
    return value


def load_all(text: str) -> list[Doc]:
    """Every document of `text`, with lines. Raises yaml.YAMLError or YamlTooLarge."""
    if len(text) > MAX_BYTES:
        raise YamlTooLarge(f"file over {MAX_BYTES} bytes")
    builder = _Builder()
    docs: list[Doc] = []
    for node in yaml.compose_all(text, Loader=_Loader):
        if node is None:
            continue
        if len(docs) >= MAX_DOCUMENTS:
            raise YamlTooLarge(f"more than {MAX_DOCUMENTS} documents")
        start, end = _span(node)
        docs.append(Doc(builder.build(node), start, end))
    return docs


def seq(value: Any) -> list[Any]:
    """`value` if it is a list, else []: a manifest may hold a scalar where a list belongs."""
    return value if isinstance(value, list) else []


def scalar(value: Any) -> Any:
    """`value` if it is hashable (a scalar), else None: safe for `in {…}` and set membership."""
    return None if isinstance(value, dict | list) else value
