"""Terraform files as blocks with line ranges: python-hcl2 for values, a brace scan for lines.

python-hcl2 8 keeps no line numbers by default, and the `hcl2` module name is shared with checkov's fork
(`bc-python-hcl2`), whose API differs; so values come from whichever `hcl2.loads` is installed, normalised
(quotes stripped, `__meta__` keys dropped), and each top-level block's start/end lines from a small scan for
`kind "type" "name" {` followed by brace matching that skips strings, comments and heredocs.

hcl2 (a Lark grammar) costs ~0.6 s to load and ~10 ms per KB to parse, so it is imported on first use and
each block is parsed only when a rule reads its `body`: most blocks of a module are only ever matched by
type or by text, and a PR touching Terraform no rule cares about pays only for the brace scan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MAX_BYTES = 2_000_000

_BLOCK_HEAD = re.compile(
    r'^[ \t]*([A-Za-z_][\w-]*)((?:[ \t]+"[^"\n]*"|[ \t]+[A-Za-z_][\w-]*)*)[ \t]*\{', re.M
)
_LABEL = re.compile(r'"([^"\n]*)"|([A-Za-z_][\w-]*)')
_HEREDOC = re.compile(r"<<-?([A-Za-z_]\w*)\n")


@dataclass(eq=False)
class Block:
    """A top-level block: `resource "aws_x" "name" {…}` → kind=resource, labels=(aws_x, name)."""

    kind: str
    labels: tuple[str, ...]
    raw_body: dict[str, Any] | None
    line: int
    end_line: int
    text: str
    #: Set when hcl2 could not parse the block: the file's findings are then dropped (checkov reports it).
    broken: bool = False

    @property
    def body(self) -> dict[str, Any]:
        """The block's attributes, parsed on first use; {} when hcl2 cannot parse the block."""
        if self.raw_body is None:
            try:
                self.raw_body = _parsed_bodies(loads(self.text)).get((self.kind, self.labels), {})
            except (ImportError, AttributeError):
                raise  # a broken hcl2 install is "could not check", never a clean result
            except Exception:  # lark and hcl2 raise many types; checkov reports the file's syntax error
                self.raw_body, self.broken = {}, True
        return self.raw_body

    @property
    def type(self) -> str:
        return self.labels[0] if self.labels else ""

    @property
    def name(self) -> str:
        return self.labels[-1] if self.labels else ""

    @property
    def address(self) -> str:
        return ".".join(self.labels) if self.kind == "resource" else ".".join((self.kind, *self.labels))

    def line_of(self, *names: str) -> int:
        """Line of the first attribute or nested block called one of `names` (the block's line if none)."""
        for number, text in enumerate(self.text.splitlines(), start=self.line):
            stripped = text.strip()
            for name in names:
                if re.match(rf'"?{re.escape(name)}"?\s*(=|\{{|:)', stripped):
                    return number
        return self.line


def _skip_string(text: str, i: int) -> int:
    """Index after the string that starts at text[i] == '"' (interpolations may hold braces and quotes)."""
    i += 1
    depth = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "$" and text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if depth and c == "}":
            depth -= 1
        elif depth and c == '"':
            i = _skip_string(text, i)
            continue
        elif (not depth and c == '"') or (c == "\n" and not depth):
            return i + 1
        i += 1
    return i


def _block_end(text: str, i: int) -> int:
    """Index just after the `}` matching the `{` at text[i]; -1 when the file ends first."""
    depth = 0
    while i < len(text):
        c = text[i]
        if c == '"':
            i = _skip_string(text, i)
            continue
        if c == "#" or text.startswith("//", i):
            nl = text.find("\n", i)
            i = len(text) if nl < 0 else nl
            continue
        if text.startswith("/*", i):
            close = text.find("*/", i + 2)
            i = len(text) if close < 0 else close + 2
            continue
        if c == "<" and (m := _HEREDOC.match(text, i)):
            close = re.compile(rf"^[ \t]*{re.escape(m.group(1))}[ \t]*$", re.M).search(text, m.end())
            i = len(text) if close is None else close.end()
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return -1


def _spans(text: str) -> list[tuple[str, tuple[str, ...], int, int, str]]:
    out = []
    pos = 0
    while (m := _BLOCK_HEAD.search(text, pos)) is not None:
        labels = tuple(a or b for a, b in _LABEL.findall(m.group(2)))
        end = _block_end(text, m.end() - 1)
        if end < 0:
            raise ValueError(
                f"unbalanced braces in the block at line {text.count(chr(10), 0, m.start()) + 1}"
            )
        line = text.count("\n", 0, m.start()) + 1
        end_line = text.count("\n", 0, max(end - 1, 0)) + 1
        out.append((m.group(1), labels, line, end_line, text[m.start() : end]))
        pos = end
    return out


def clean(value: Any) -> Any:
    """Strip HCL quotes and hcl2 metadata keys, whatever hcl2 version produced `value`."""
    if isinstance(value, dict):
        return {
            clean(k): clean(v) for k, v in value.items() if not (isinstance(k, str) and k.startswith("__"))
        }
    if isinstance(value, list):
        return [clean(v) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return value[1:-1]
    return value


def loads(text: str) -> dict[str, Any]:
    import hcl2  # deferred: ~0.6 s of grammar loading, needed only when a rule reads a block's values

    options = getattr(hcl2, "SerializationOptions", None)
    if options is not None:
        try:
            return hcl2.loads(
                text, serialization_options=options(with_comments=False, strip_string_quotes=True)
            )
        except TypeError:  # an hcl2 8 without those options
            pass
    return hcl2.loads(text)


def _parsed_bodies(parsed: dict[str, Any]) -> dict[tuple[str, tuple[str, ...]], dict[str, Any]]:
    """(kind, labels) → body for every top-level block of hcl2's nested dict-of-lists output."""
    out: dict[tuple[str, tuple[str, ...]], dict[str, Any]] = {}

    def walk(kind: str, labels: tuple[str, ...], node: Any, depth: int) -> None:
        if not isinstance(node, dict):
            return
        label_keys = [k for k in node if not k.startswith("__")]
        is_body = depth >= _LABELS.get(kind, 0)
        if is_body or not label_keys:
            out[(kind, labels)] = clean(node)
            return
        for key in label_keys:
            walk(kind, (*labels, clean(key)), node[key], depth + 1)

    for kind, entries in parsed.items():
        for entry in entries if isinstance(entries, list) else [entries]:
            if kind in {"locals", "terraform"} or kind not in _LABELS:
                out.setdefault((kind, ()), {}).update(clean(entry) if isinstance(entry, dict) else {})
            else:
                walk(kind, (), entry, 0)
    return out


#: How many labels each top-level block kind has.
_LABELS = {"resource": 2, "data": 2, "variable": 1, "output": 1, "module": 1, "provider": 1}


def load(text: str) -> list[Block]:
    """Top-level blocks of a Terraform file, values parsed lazily (see `Block.body`)."""
    if len(text) > MAX_BYTES:
        raise ValueError(f"file over {MAX_BYTES} bytes")
    return [
        Block(kind, labels, None, line, end, block_text)
        for kind, labels, line, end, block_text in _spans(text)
    ]


def flat_strings(value: Any) -> list[str]:
    """Every string anywhere in `value`."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in flat_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in flat_strings(v)]
    return []


def nested(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The nested blocks called `name` (hcl2 gives a list of dicts, or one dict)."""
    value = body.get(name)
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    return []
