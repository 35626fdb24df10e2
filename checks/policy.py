"""Repository policy: `.github/prguard.yml`, read from the pull request's base branch.

The file is validated against `checks/schemas/prguard.schema.json`, and every error names the key and the line
it is on, so a failing check run tells an admin exactly what to fix. Unknown keys are errors rather than
ignored: a typo such as `fial_on` must never silently weaken the gate. Keys planned for later versions
(`signoff`, `waivers`, `_extends`, …) are rejected with "not supported yet" for the same reason — a policy
that asks for a sign-off this version cannot enforce must fail loudly, not pass quietly.

Parsing is bounded (bytes, nodes, nesting, aliases) because the file is untrusted text to the worker: a
pull request cannot change the base policy, but an admin's mistake must not hang or exhaust a worker.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

import jsonschema
import yaml

from checks.finding import Severity
from checks.paths import PathMatcher
from checks.registry import check_names
from checks.yaml_size import RecursiveAlias, TooLarge, expanded_size

POLICY_PATH = ".github/prguard.yml"

MAX_POLICY_BYTES = 64 * 1024
MAX_NODES = 10_000  # counted with aliases expanded, so an alias bomb stops here
MAX_DEPTH = 64
MAX_ALIASES = 100

#: keys later versions will accept, and the feature that brings each
FUTURE_KEYS: dict[str, str] = {
    "commands": "policy-level slash-command settings (the prefix is the operator's PRGUARD_COMMAND_PREFIX)",
}

SEVERITIES = tuple(s.value for s in Severity)


class PolicyError(Exception):
    """The policy file is invalid. `line` is 1-based, or None when the problem has no single place."""

    def __init__(self, message: str, line: int | None = None, *, problems: tuple[str, ...] = ()) -> None:
        self.message = message
        self.line = line
        where = f" line {line}" if line is not None else ""
        #: every problem found, each formatted like `str(self)`; the first is this error itself
        self.problems: tuple[str, ...] = problems or (f"{POLICY_PATH}{where}: {message}",)
        super().__init__(f"{POLICY_PATH}{where}: {message}")


@dataclass(frozen=True)
class CheckPolicy:
    """Settings for one check. `fail_on=None` means "use the policy-wide fail_on"."""

    enabled: bool = True
    fail_on: Severity | None = None
    ignore_paths: tuple[str, ...] = ()
    #: the check's own keys (from `checks/schemas/check-<name>.schema.json`), validated, as written
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Policy:
    """A validated policy. `Policy()` is the default used when the base branch has no policy file."""

    fail_on: Severity = Severity.HIGH
    ignore_paths: tuple[str, ...] = ()
    checks: Mapping[str, CheckPolicy] = field(default_factory=lambda: MappingProxyType({}))
    #: a file that could hold text but was not scanned (over the size cap, binary-looking) fails the scan
    fail_on_unscanned: bool = False
    #: True when the settings came from a file (False: defaults, no file on the base branch)
    from_file: bool = False
    #: top-level keys owned by a feature (`checks/schemas/top-<key>.schema.json`), validated, as written
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    _matchers: dict[str | None, PathMatcher] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def check(self, check_name: str) -> CheckPolicy:
        return self.checks.get(check_name) or CheckPolicy()

    def enabled(self, check_name: str) -> bool:
        return self.check(check_name).enabled

    def fail_on_for(self, check_name: str) -> Severity:
        return self.check(check_name).fail_on or self.fail_on

    def ignores(self, path: str, check_name: str | None = None) -> bool:
        """True if `path` is excluded, by the top-level `ignore_paths` and, given a check, by its own."""
        matcher = self._matchers.get(check_name)
        if matcher is None:
            extra = self.check(check_name).ignore_paths if check_name else ()
            matcher = PathMatcher([*self.ignore_paths, *extra])
            self._matchers[check_name] = matcher
        return matcher(path)


# --------------------------------------------------------------------------------------------- parsing


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


def _line(node: yaml.Node | None) -> int | None:
    return node.start_mark.line + 1 if node is not None else None


def _check_expanded_size(root: yaml.Node) -> None:
    """Reject alias bombs and recursive aliases: count nodes as if every alias were copied out."""
    try:
        expanded_size(root, MAX_NODES)
    except (RecursiveAlias, TooLarge) as exc:
        raise PolicyError(str(exc), _line(exc.node)) from None


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
                raise PolicyError(f"{path or 'top level'}: key {shown!r} is not a plain name", _line(key))
            name = key.value
            if name in seen:
                raise PolicyError(
                    f"{_join(path, name)}: duplicate key (first on line {seen[name]})", _line(key)
                )
            seen[name] = _line(key)
            _check_keys(value, _join(path, name))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _compose(text: str) -> tuple[yaml.Node | None, Any]:
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


# ------------------------------------------------------------------------------------------ validation


#: the base schema's own top-level keys; every other top-level key comes from a `top-<key>` fragment
CORE_KEYS = ("fail_on", "ignore_paths", "fail_on_unscanned", "checks")
_CHECK_KEYS = ("enabled", "fail_on", "ignore_paths")


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema shipped in the package (also usable by editors via yaml-language-server).

    It is assembled from `prguard.schema.json` and fragments beside it, so each check and feature owns its
    keys in a file of its own: `check-<name>.schema.json` holds `properties` added to `checks.<name>`, and
    `top-<key>.schema.json` is the schema of a top-level key `<key>`.
    """
    folder = resources.files("checks.schemas")
    base: dict[str, Any] = json.loads(folder.joinpath("prguard.schema.json").read_text(encoding="utf-8"))
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        name = entry.name
        if not name.endswith(".schema.json") or name == "prguard.schema.json":
            continue
        fragment = json.loads(entry.read_text(encoding="utf-8"))
        stem = name.removesuffix(".schema.json")
        if stem.startswith("check-"):
            check = stem.removeprefix("check-")
            own = json.loads(json.dumps(base["$defs"]["check"]))
            own["properties"].update(fragment.get("properties", {}))
            base["$defs"][f"check_{check}"] = own
            base["properties"]["checks"]["properties"][check] = {"$ref": f"#/$defs/check_{check}"}
        elif stem.startswith("top-"):
            base["properties"][stem.removeprefix("top-")] = fragment
    return base


def feature_keys() -> tuple[str, ...]:
    """Top-level keys that fragments added (see `schema`)."""
    return tuple(k for k in schema()["properties"] if k not in CORE_KEYS)


@cache
def _validator() -> jsonschema.protocols.Validator:
    cls = jsonschema.validators.validator_for(schema())
    cls.check_schema(schema())
    return cls(schema())  # type: ignore[no-any-return]


def _node_at(root: yaml.Node | None, path: Iterator[Any] | Any) -> tuple[yaml.Node | None, yaml.Node | None]:
    """Follow a jsonschema error path through the YAML nodes: (key node, value node) of the last step."""
    key_node: yaml.Node | None = None
    node = root
    for step in path:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if getattr(k, "value", None) == step), None)
            if match is None:
                return key_node, node  # e.g. a key that came through a merge (<<): the mapping's line
            key_node, node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
            key_node, node = None, node.value[step]
        else:
            break
    return key_node, node


def _dotted(path: Any) -> str:
    out = ""
    for step in path:
        out = f"{out}[{step}]" if isinstance(step, int) else _join(out, str(step))
    return out


_TYPE_WORDS = {
    "string": "a string",
    "array": "a list",
    "object": "a mapping",
    "boolean": "true or false",
    "null": "nothing",
}


def _describe(error: jsonschema.ValidationError, root: yaml.Node | None) -> tuple[str, int | None]:
    path = list(error.absolute_path)
    where = _dotted(path)
    key_node, value_node = _node_at(root, path)
    line = _line(value_node) or _line(key_node)
    value = error.instance
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extras = [k for k in value if k not in allowed]
        extra = extras[0] if extras else "?"
        k_node, _ = _node_at(root, [*path, extra])
        line = _line(k_node) or line
        if not path and extra in FUTURE_KEYS and extra not in feature_keys():
            return (
                f"{extra!r} is not supported yet by this version of prguard (it comes with "
                f"{FUTURE_KEYS[extra]}); remove it, or upgrade prguard",
                line,
            )
        if path == ["checks"]:
            return f"checks: unknown check {extra!r}; known checks: {', '.join(check_names())}", line
        prefix = f"{where}: " if where else ""
        return f"{prefix}unknown key {extra!r}; known keys: {', '.join(allowed)}", line
    if error.validator == "enum":
        return f"{where}: {_show(value)} is not one of {', '.join(map(str, error.validator_value))}", line
    if error.validator == "type":
        wanted = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        if path[:1] == ["checks"] and len(path) == 2:
            expected = "true, false or a mapping of enabled, fail_on, ignore_paths"
        else:
            expected = " or ".join(_TYPE_WORDS.get(w, w) for w in wanted if w != "null")
        return f"{where or 'the policy'}: expected {expected}, got {_show(value)}", line
    if error.validator == "maxItems":
        return f"{where}: {len(value)} entries, at most {error.validator_value} are allowed", line
    if error.validator == "minLength":
        return f"{where}: must not be empty", line
    if error.validator == "maxLength":
        return f"{where}: longer than {error.validator_value} characters", line
    return f"{where or 'the policy'}: {_show(value)} is invalid ({error.validator})", line


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return str(value).lower()
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _validate(data: Any, root: yaml.Node | None) -> None:
    errors = list(_validator().iter_errors(data))
    if not errors:
        return
    described = sorted((_describe(e, root) for e in errors), key=lambda d: (d[1] or 0, d[0]))
    problems = tuple(
        f"{POLICY_PATH}{f' line {ln}' if ln is not None else ''}: {msg}" for msg, ln in described
    )
    message, line = described[0]
    raise PolicyError(message, line, problems=problems)


def _globs(values: list[str] | None, where: str, root: yaml.Node | None) -> tuple[str, ...]:
    """Compile each glob once here, so a bad pattern is reported with its line instead of later."""
    patterns = tuple(values or ())
    for i, pattern in enumerate(patterns):
        try:
            PathMatcher([pattern])
        except Exception as exc:  # pathspec raises several types for malformed patterns
            _, node = _node_at(root, [*where.split("."), i])
            raise PolicyError(f"{where}[{i}]: {pattern!r} is not a valid glob ({exc})", _line(node)) from None
    return patterns


# --------------------------------------------------------------------------------------------- public


def too_large(size: int) -> PolicyError:
    """The error for a policy file over `MAX_POLICY_BYTES` (sources check the size before reading it)."""
    return PolicyError(f"policy too large: {size} bytes (the limit is {MAX_POLICY_BYTES})")


def parse_policy(text: str | bytes | None) -> Policy:
    """Parse and validate a policy file's text. None or an empty file gives the defaults.

    Raises `PolicyError` (with the line of the offending key or value) for anything invalid, and for
    anything PyYAML, the validator or a glob compiler throws on it: the file is the base branch's, so an
    unexpected exception here is still "invalid policy" (a failed run, exit 2), never a crash or a retry.
    """
    try:
        return _parse(text)
    except PolicyError:
        raise
    except (RecursionError, MemoryError):
        raise PolicyError("policy too large to parse") from None
    except Exception as exc:
        raise PolicyError(f"could not be parsed ({type(exc).__name__})") from None


def _parse(text: str | bytes | None) -> Policy:
    if text is None:
        return Policy()
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if len(raw) > MAX_POLICY_BYTES:
        raise too_large(len(raw))
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise PolicyError(f"not valid UTF-8 (byte {exc.start})") from None
    root, data = _compose(text)
    if data is None:
        return Policy(from_file=True)
    _validate(data, root)
    checks: dict[str, CheckPolicy] = {}
    for name, value in (data.get("checks") or {}).items():
        if isinstance(value, bool):
            checks[name] = CheckPolicy(enabled=value)
        else:
            value = value or {}
            fail_on = value.get("fail_on")
            checks[name] = CheckPolicy(
                enabled=value.get("enabled", True),
                fail_on=Severity(fail_on) if fail_on else None,
                ignore_paths=_globs(value.get("ignore_paths"), f"checks.{name}.ignore_paths", root),
                options=MappingProxyType({k: v for k, v in value.items() if k not in _CHECK_KEYS}),
            )
    return Policy(
        fail_on=Severity(data.get("fail_on") or Severity.HIGH),
        ignore_paths=_globs(data.get("ignore_paths"), "ignore_paths", root),
        checks=MappingProxyType(checks),
        fail_on_unscanned=bool(data.get("fail_on_unscanned", False)),
        from_file=True,
        extra=MappingProxyType({k: data[k] for k in feature_keys() if k in data}),
    )
