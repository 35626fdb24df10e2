"""Shared helpers for the format modules: bounded decoding, parse errors with lines, line lookup, graph paths.

Lines are found in one pass over the text per file (never a search per package), so a 2,000-package
lockfile costs milliseconds. JSON/TOML/YAML libraries do the parsing; these helpers only map entries back to
the line that declares them.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import tomllib
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from checks.dependencies.model import Parsed, ParseError, ReadSibling

#: a dependency file larger than this is refused ("could not check"), never parsed
MAX_BYTES = 32 * 1024 * 1024


def decode(data: bytes) -> str:
    """UTF-8 text of a dependency file (BOM dropped), bounded in size."""
    if len(data) > MAX_BYTES:
        raise ParseError(f"file is {len(data)} bytes, over the {MAX_BYTES}-byte limit")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ParseError("not valid UTF-8", line) from None


def load_json(text: str) -> object:
    """json.loads with the error's line, and deep-nesting bombs refused instead of crashing."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(f"invalid JSON: {exc.msg}", exc.lineno) from None
    except RecursionError:
        raise ParseError("JSON nested too deeply") from None


_TOML_AT = re.compile(r"at line (\d+)")


def load_toml(text: str) -> dict[str, object]:
    """tomllib.loads with the error's line."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = _TOML_AT.search(str(exc))
        raise ParseError(f"invalid TOML: {exc}", int(m.group(1)) if m else None) from None
    except RecursionError:
        raise ParseError("TOML nested too deeply") from None


_YAML_ANCHOR = re.compile(r"(?:^|[\s\[{,])&[^\s\[\]{},]+", re.MULTILINE)


def load_yaml(text: str) -> object:
    """YAML with the C safe loader (fast, constructs no Python objects), error line kept.

    Lockfile tools never write anchors; a file with one is refused, so aliases cannot make one small
    mapping stand for millions of entries ("billion laughs") when the graph is walked.
    """
    import yaml

    anchor = _YAML_ANCHOR.search(text)
    if anchor:
        raise ParseError("YAML anchors are not used in lockfiles", text.count("\n", 0, anchor.end()) + 1)

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise ParseError(f"invalid YAML: {exc.problem or exc}", mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise ParseError(f"invalid YAML: {exc}") from None
    except RecursionError:
        raise ParseError("YAML nested too deeply") from None


def expect(cond: bool, message: str, line: int | None = None) -> None:
    """Raise ParseError unless `cond`: a file of the wrong shape is "could not check", never clean."""
    if not cond:
        raise ParseError(message, line)


def as_dict(value: object, what: str) -> dict:
    expect(isinstance(value, dict), f"{what} is not a table/object")
    return value  # type: ignore[return-value]


def as_str(value: object) -> str:
    return value if isinstance(value, str) else ""


_KEY_BODY = r'"([^"\\\n]*(?:\\.[^"\\\n]*)*)"[ \t]*:[ \t]*'
_INDENT_UNIT = re.compile(r"\n([ \t]+)\S")


@functools.lru_cache(maxsize=64)
def _json_key_pattern(scalars: bool, unit: str, depth: int) -> re.Pattern[str]:
    """Key lines; anchored on a literal "\n" (not `^` + MULTILINE) so the engine skips between lines. With a
    depth, only keys indented 1..depth units match, so deep metadata costs no Python work at all."""
    indent = f"((?:{re.escape(unit)}){{1,{depth}}})" if depth else r"([ \t]*)"
    return re.compile(r"\n" + indent + _KEY_BODY + ("(.)" if scalars else r"([\[{])"))


def json_key_lines(text: str, scalars: bool = False, depth: int = 0) -> dict[tuple[str, ...], int]:
    """Line of every object/array-valued key (every key with `scalars`), by its key path, in one regex
    pass over pretty-printed JSON; `depth` limits it to key paths that long.

    Every lockfile tool writes indented JSON with one key per line, so a key's enclosing keys are the
    nearest less-indented object keys above it. Minified JSON yields fewer entries (callers default to 1).
    """
    unit = ""
    if depth:
        m = _INDENT_UNIT.search(text, 0, 4096)
        if not m:
            return {}
        unit = m.group(1)
    out: dict[tuple[str, ...], int] = {}
    stack: list[tuple[int, str]] = []
    line, last = 1, 0
    for m in _json_key_pattern(scalars, unit, depth).finditer(text):
        line += text.count("\n", last, m.start() + 1)  # the match starts on the previous line's "\n"
        last = m.start() + 1
        indent = len(m.group(1).expandtabs(2))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        key = m.group(2)
        if "\\" in key:
            with contextlib.suppress(ValueError):
                key = json.loads(f'"{key}"')
        if m.group(3) not in "[{":
            out.setdefault((*(k for _, k in stack), key), line)
            continue
        stack.append((indent, key))
        out.setdefault(tuple(k for _, k in stack), line)
    return out


def header_lines(text: str, pattern: str) -> list[int]:
    """1-based lines of every line matching `pattern` (anchored at line start), in document order.

    The pattern is anchored on a literal newline (not `^` + MULTILINE), which the regex engine scans for
    quickly; a newline is put in front of the text so the first line is a line like the others.
    """
    rx = _line_pattern(pattern.removeprefix("^"))
    aug = "\n" + text
    out, line, last = [], 0, 0
    for m in rx.finditer(aug):
        line += aug.count("\n", last, m.start() + 1)
        last = m.start() + 1
        out.append(line)
    return out


@functools.lru_cache(maxsize=32)
def _line_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(r"\n" + pattern)


def toml_array(data: bytes, table: str) -> tuple[list[Any], list[int]]:
    """A TOML lockfile's `[[table]]` entries and the line of each (`toml_array_lines`), checked to match:
    the shape Cargo.lock, poetry.lock, uv.lock and pylock.toml share."""
    text = decode(data)
    items = load_toml(text).get(table) or []
    expect(isinstance(items, list), f"`{table}` is not an array of tables")
    lines = toml_array_lines(text, table)
    expect(len(lines) == len(items), f"could not place every [[{table}]] entry")
    return items, lines


def toml_array_lines(text: str, table: str) -> list[int]:
    """Line of the `name = ` key of each `[[table]]` entry, in order (the header's line when it has none).

    tomllib keeps array order, so the i-th entry parsed is the i-th header found here.
    """
    heads = header_lines(text, rf"^[ \t]*\[\[[ \t]*{re.escape(table)}[ \t]*\]\]")
    names = header_lines(text, r"^[ \t]*name[ \t]*=")
    out, j = [], 0
    for i, head in enumerate(heads):
        nxt = heads[i + 1] if i + 1 < len(heads) else 1 << 60
        while j < len(names) and names[j] <= head:
            j += 1
        out.append(names[j] if j < len(names) and names[j] < nxt else head)
    return out


def shortest_paths(roots: Iterable[str], edges: Mapping[str, Iterable[str]]) -> dict[str, tuple[str, ...]]:
    """BFS from the direct dependencies: for each reachable node, the chain of its ancestors, nearest first.

    A root maps to (); a node reached through root r and parent p maps to (p, ..., r).
    """
    paths: dict[str, tuple[str, ...]] = {}
    queue: deque[str] = deque()
    for r in roots:
        if r not in paths:
            paths[r] = ()
            queue.append(r)
    while queue:
        node = queue.popleft()
        chain = (node, *paths[node])
        for child in edges.get(node, ()):
            if child not in paths:
                paths[child] = chain
                queue.append(child)
    return paths


_TOML_HEADER = re.compile(r"^[ \t]*\[\[?[ \t]*([^\]]+?)[ \t]*\]\]?")
_TOML_KEY = re.compile(r"""^[ \t]*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_\-.]+)[ \t]*=""")


def toml_key_lines(text: str) -> dict[tuple[str, str], int]:
    """(table, key) → line of each `key =` in a small TOML manifest (first occurrence; quotes removed).

    Manifests are short, so one pass over the lines is cheap; tables are tracked by their headers.
    """
    out: dict[tuple[str, str], int] = {}
    table = ""
    for no, raw in enumerate(text.splitlines(), 1):
        h = _TOML_HEADER.match(raw)
        if h:
            table = ".".join(p.strip().strip("\"'") for p in h.group(1).split("."))
            continue
        k = _TOML_KEY.match(raw)
        if k:
            out.setdefault((table, k.group(1).strip("\"'")), no)
    return out


_STRING = re.compile(r"""("(?:[^"\\\n]|\\.)*"|'[^'\n]*')""")


def string_lines(text: str) -> dict[str, list[int]]:
    """Every quoted string's content → the lines it appears on, in order (to place array items)."""
    out: dict[str, list[int]] = {}
    for no, raw in enumerate(text.splitlines(), 1):
        for m in _STRING.finditer(raw):
            out.setdefault(m.group(1)[1:-1], []).append(no)
    return out


_ORIGIN = re.compile(r"(https?)://(?:[^/@?#]*@)?(\[[^\]]*\]|[^/:?#]+)", re.IGNORECASE)


def url_origin(url: str) -> str:
    """scheme://host of an http(s) URL (credentials and port dropped, host lower-cased), "" otherwise."""
    m = _ORIGIN.match(url)
    return f"{m.group(1).lower()}://{m.group(2).lower()}" if m else ""


def guarded(parse: Callable[..., Parsed]) -> Callable[..., Parsed]:
    """A parse method whose file has an unexpected shape (a string where a table belongs, a bad URL …)
    raises ParseError instead of crashing: "could not check", never a traceback and never clean."""

    @functools.wraps(parse)
    def wrapper(self: object, path: str, data: bytes, read: ReadSibling) -> Parsed:
        try:
            return parse(self, path, data, read)
        except ParseError:
            raise
        except RecursionError:
            raise ParseError("nested too deeply") from None
        except (TypeError, AttributeError, KeyError, ValueError, IndexError) as exc:
            raise ParseError(f"unexpected structure ({type(exc).__name__}: {str(exc)[:200]})") from None

    return wrapper
