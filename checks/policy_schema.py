"""The policy's JSON Schema, and validation errors phrased for the admin who wrote the file.

The schema is assembled from `checks/schemas/prguard.schema.json` plus one fragment per check or top-level
key, so each check and feature owns its keys in a file of its own. Unknown keys are errors rather than
ignored: a typo such as `fial_on` must never silently weaken the gate. Keys planned for later versions
(`FUTURE_KEYS`) are rejected with "not supported yet" for the same reason: a policy that asks for something
this version cannot enforce must fail loudly, not pass quietly. jsonschema's messages are rewritten to name
the key path and the line it is on (found by following the error's path through the YAML nodes), and every
error is reported, not only the first.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
import yaml

from checks.policy_error import POLICY_PATH, PolicyError
from checks.policy_yaml import join_key, line_of
from checks.registry import check_names

#: keys later versions will accept, and the feature that brings each
FUTURE_KEYS: dict[str, str] = {
    "commands": "policy-level slash-command settings (the prefix is the operator's PRGUARD_COMMAND_PREFIX)",
}

#: the base schema's own top-level keys; every other top-level key comes from a `top-<key>` fragment
CORE_KEYS = ("fail_on", "ignore_paths", "fail_on_unscanned", "checks")


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


def node_at(root: yaml.Node | None, path: Iterator[Any] | Any) -> tuple[yaml.Node | None, yaml.Node | None]:
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
        out = f"{out}[{step}]" if isinstance(step, int) else join_key(out, str(step))
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
    key_node, value_node = node_at(root, path)
    line = line_of(value_node) or line_of(key_node)
    value = error.instance
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extras = [k for k in value if k not in allowed]
        extra = extras[0] if extras else "?"
        k_node, _ = node_at(root, [*path, extra])
        line = line_of(k_node) or line
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


def validate(data: Any, root: yaml.Node | None) -> None:
    """Raise one `PolicyError` for `data`'s schema errors, first by line, listing them all in `problems`."""
    errors = list(_validator().iter_errors(data))
    if not errors:
        return
    described = sorted((_describe(e, root) for e in errors), key=lambda d: (d[1] or 0, d[0]))
    problems = tuple(
        f"{POLICY_PATH}{f' line {ln}' if ln is not None else ''}: {msg}" for msg, ln in described
    )
    message, line = described[0]
    raise PolicyError(message, line, problems=problems)
