"""Repository policy: `.github/prguard.yml`, read from the pull request's base branch.

This is the one entry point (`parse_policy`) and the model checks consume (`Policy`, `CheckPolicy`). The
work is in three steps, each in its own module: bounded YAML loading that keeps every node's line
(`checks.policy_yaml`), validation against the assembled JSON Schema with errors that name the key and the
line (`checks.policy_schema`), then building the frozen model here, compiling each glob once so a bad
pattern is reported with its line. Every problem is a `PolicyError` (`checks.policy_error`), so a failing
check run tells an admin exactly what to fix, and an unexpected exception on this untrusted text is still
"invalid policy", never a crash.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import yaml

from checks.finding import Severity
from checks.paths import PathMatcher
from checks.policy_error import POLICY_PATH, PolicyError
from checks.policy_schema import feature_keys, node_at, schema, validate
from checks.policy_yaml import compose, line_of

__all__ = [
    "MAX_POLICY_BYTES",
    "POLICY_PATH",
    "SEVERITIES",
    "CheckPolicy",
    "Policy",
    "PolicyError",
    "parse_policy",
    "schema",
    "too_large",
]

MAX_POLICY_BYTES = 64 * 1024

SEVERITIES = tuple(s.value for s in Severity)

_CHECK_KEYS = ("enabled", "fail_on", "ignore_paths")


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
    root, data = compose(text)
    if data is None:
        return Policy(from_file=True)
    validate(data, root)
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


def _globs(values: list[str] | None, where: str, root: yaml.Node | None) -> tuple[str, ...]:
    """Compile each glob once here, so a bad pattern is reported with its line instead of later."""
    patterns = tuple(values or ())
    for i, pattern in enumerate(patterns):
        try:
            PathMatcher([pattern])
        except Exception as exc:  # pathspec raises several types for malformed patterns
            _, node = node_at(root, [*where.split("."), i])
            message = f"{where}[{i}]: {pattern!r} is not a valid glob ({exc})"
            raise PolicyError(message, line_of(node)) from None
    return patterns
