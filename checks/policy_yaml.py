"""Loading `.github/prguard.yml` as YAML, bounded, with every error on the line it is on.

The file is untrusted text to the worker: a pull request cannot change the base policy, but an admin's
mistake must not hang or exhaust a worker. So composing stops at `MAX_NODES` values (counted with aliases
expanded, so an alias bomb stops here too), `MAX_ALIASES` aliases and `MAX_DEPTH` levels of nesting, and a
control character fails before anything is parsed. Keys must be plain names and appear once, because YAML
would otherwise silently keep the last of two `fail_on:` lines. Every failure is a `PolicyError` with the
line of the offending node, and the composed node tree is returned with the data so that later errors (the
schema's, a bad glob's) can name their lines too.
"""

from __future__ import annotations

from typing import Any

import yaml

from checks.policy_error import PolicyError
from checks.yaml_size import RecursiveAlias, TooLarge, expanded_size

MAX_NODES = 10_000  # counted with aliases expanded, so an alias bomb stops here
MAX_DEPTH = 64
MAX_ALIASES = 100


class _TooBig(yaml.YAMLError):
    def __init__(self, message: str, mark: yaml.Mark | None) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that stops on too many nodes, aliases or nesting levels while composing."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._nodes = 0
        self._aliases = 0
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        mark = self.peek_event().start_mark
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise _TooBig(f"more than {MAX_ALIASES} aliases (*name)", mark)
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise _TooBig(f"more than {MAX_NODES} values", mark)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _TooBig(f"nested more than {MAX_DEPTH} levels deep", mark)
        try:
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        finally:
            self._depth -= 1


def line_of(node: yaml.Node | None) -> int | None:
    """The 1-based line a node starts on (None for no node)."""
    return node.start_mark.line + 1 if node is not None else None


def _check_expanded_size(root: yaml.Node) -> None:
    """Reject alias bombs and recursive aliases: count nodes as if every alias were copied out."""
    try:
        expanded_size(root, MAX_NODES)
    except (RecursiveAlias, TooLarge) as exc:
        raise PolicyError(str(exc), line_of(exc.node)) from None


def _check_keys(node: yaml.Node, path: str = "") -> None:
    """Keys must be plain strings and appear once: YAML would silently keep the last duplicate."""
    if isinstance(node, yaml.SequenceNode):
        for i, child in enumerate(node.value):
            _check_keys(child, f"{path}[{i}]")
    elif isinstance(node, yaml.MappingNode):
        seen: dict[str, int | None] = {}
        for key, value in node.value:
            if key.tag == "tag:yaml.org,2002:merge":
                continue
            if key.tag != "tag:yaml.org,2002:str" or not isinstance(key, yaml.ScalarNode):
                shown = key.value if isinstance(key, yaml.ScalarNode) else "a non-scalar"
                raise PolicyError(f"{path or 'top level'}: key {shown!r} is not a plain name", line_of(key))
            name = key.value
            if name in seen:
                raise PolicyError(
                    f"{join_key(path, name)}: duplicate key (first on line {seen[name]})", line_of(key)
                )
            seen[name] = line_of(key)
            _check_keys(value, join_key(path, name))


def join_key(path: str, key: str) -> str:
    """`checks.secrets` for key `secrets` under `checks`: how messages name a place in the policy."""
    return f"{path}.{key}" if path else key


def compose(text: str) -> tuple[yaml.Node | None, Any]:
    """The policy's node tree and its data (both None for an empty document), or a `PolicyError`."""
    try:
        # the reader checks every character when it is built: a control character fails here already
        loader = _BoundedLoader(text)
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1 if isinstance(exc.position, int) else None
        shown = _codepoint(exc.character)
        raise PolicyError(f"invalid YAML: control character {shown} is not allowed", line) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        _check_expanded_size(node)
        _check_keys(node)
        return node, loader.construct_document(node)
    except _TooBig as exc:
        raise PolicyError(f"policy too large: {exc.message}", _mark_line(exc.mark)) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = ", ".join(p for p in (exc.context, exc.problem) if p) or "not valid YAML"
        raise PolicyError(f"invalid YAML: {problem}", _mark_line(mark)) from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"invalid YAML: {exc}") from None
    except RecursionError:
        raise PolicyError(f"policy too large: nested more than {MAX_DEPTH} levels deep") from None
    finally:
        loader.dispose()


def _codepoint(character: object) -> str:
    if isinstance(character, int):
        return f"U+{character:04X}"
    if isinstance(character, str) and len(character) == 1:
        return f"U+{ord(character):04X}"
    return "(unknown)"


def _mark_line(mark: yaml.Mark | None) -> int | None:
    return mark.line + 1 if mark is not None else None
