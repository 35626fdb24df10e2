"""How big a YAML document is once every alias is copied out — the measure that stops "billion laughs".

PyYAML composes an alias as the very node object of its anchor, so a 1 KiB document of nine levels of ten
aliases composes cheaply but expands to a billion values in whatever walks it (checkov did, for minutes, up to
its memory limit). Sizes are memoised per node object, so measuring is linear in the composed document.
Shared by the policy loader (`checks.policy_yaml`) and the IaC check's parse gate (`checks.iac.parsing`).
"""

from __future__ import annotations

import yaml


class RecursiveAlias(ValueError):
    """An alias inside its own anchor: a structure nothing can walk to the end."""

    def __init__(self, node: yaml.Node) -> None:
        super().__init__("an alias refers to itself (recursive anchor)")
        self.node = node


class TooLarge(ValueError):
    """More than `limit` values once aliases are expanded (raised as soon as a node passes it)."""

    def __init__(self, node: yaml.Node, limit: int) -> None:
        super().__init__(f"more than {limit} values once aliases are expanded")
        self.node = node


def expanded_size(root: yaml.Node, limit: int | None = None) -> tuple[int, int]:
    """(values with every alias expanded, distinct nodes) of `root`. Raises `RecursiveAlias`, and
    `TooLarge` when `limit` is given and passed."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise RecursiveAlias(node)
        active.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        active.discard(key)
        if limit is not None and total > limit:
            raise TooLarge(node, limit)
        sizes[key] = total
        return total

    return size(root), len(sizes)

