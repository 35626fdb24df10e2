"""Is this version affected? OSV range evaluation with each ecosystem's own version ordering.

Orderings come from maintained libraries, never string comparison: `packaging` (PEP 440) for PyPI, and
`univers` for npm and crates.io (SemVer), Go, Maven, NuGet, RubyGems and Packagist. `univers` was chosen by
measurement (docs/dependencies.md): `semver`/`node-semver` reject Go's `v1.2.3` and Maven's `2.13.4.1`,
while `univers` orders all seven schemes (Maven's `1.0-SNAPSHOT < 1.0`, RubyGems' `1.0.0.pre < 1.0.0`).

Ranges (https://ossf.github.io/osv-schema/#affectedranges-field): `ECOSYSTEM` and `SEMVER` are evaluated
with `introduced`/`fixed`/`last_affected`/`limit`; `GIT` ranges name commits, which a package version cannot
be ordered against, so they are matched through the record's enumerated `versions` list (OSV fills it for
exactly that reason).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from functools import cmp_to_key, lru_cache
from typing import Any

from packaging.utils import canonicalize_version
from packaging.version import InvalidVersion, Version

from checks.dependencies.model import CARGO, GO, MAVEN, NPM, NUGET, PACKAGIST, PYPI, RUBYGEMS

#: ecosystem -> the univers class ordering its versions (imported on first use: a PyPI-only change, the
#: common case in `prguard scan`, never pays for importing univers)
_UNIVERS_NAMES: dict[str, str] = {
    NPM: "SemverVersion",
    CARGO: "SemverVersion",
    GO: "GolangVersion",
    MAVEN: "MavenVersion",
    NUGET: "NugetVersion",
    RUBYGEMS: "RubygemsVersion",
    PACKAGIST: "ComposerVersion",
}


@lru_cache(maxsize=16)
def _univers(name: str) -> Any:
    from univers import versions as uv

    return getattr(uv, name)


SUPPORTED = frozenset({PYPI, *_UNIVERS_NAMES})


@lru_cache(maxsize=65536)
def parse(scheme: str, text: str) -> Any:
    """A comparable version in `scheme` (an ecosystem, or "SEMVER"), or None when it does not parse."""
    text = text.strip()
    try:
        if scheme == PYPI:
            return Version(text)
        if scheme == "SEMVER":
            return _univers("SemverVersion")(text.removeprefix("v")).value
        name = _UNIVERS_NAMES.get(scheme)
        if name is None:
            return None
        cls = _univers(name)
        if name == "SemverVersion":
            text = text.removeprefix("v")
        # univers orders its versions by `value` alone (its only `order=True` field): comparing the values
        # directly gives the same order ~13x faster than going through attrs' generated methods
        return cls(text).value
    except (InvalidVersion, ValueError, TypeError, AttributeError):
        return None
    except Exception:  # univers raises assorted errors for odd strings: not a version we can order
        return None


@lru_cache(maxsize=65536)
def _canon(ecosystem: str, text: str) -> str:
    """A spelling shared by equal versions: PEP 440 normal form for PyPI (`1.0` = `1.0.0`), no `v` for Go."""
    text = text.strip()
    if ecosystem == PYPI:
        try:
            return canonicalize_version(text)
        except Exception:  # packaging < 24 raised for invalid versions; newer ones return them as given
            return text
    return text.removeprefix("v") if ecosystem in (GO, NPM, CARGO) else text


def same_version(ecosystem: str, a: str, b: str) -> bool:
    """Equal in the ecosystem's own scheme (PEP 440: `1.0 == 1.0.0`), or equal as written."""
    return a == b or _canon(ecosystem, a) == _canon(ecosystem, b)


_ORDER = {"introduced": 0, "last_affected": 1, "fixed": 2, "limit": 3}
#: one compiled range: (its version scheme, its limits, its events ordered for evaluation), None for GIT
_Compiled = tuple[str, tuple[Any, ...], tuple[tuple[Any, str], ...]] | None


def _compare(a: tuple[Any, int, str], b: tuple[Any, int, str]) -> int:
    if a[0] is None or b[0] is None:  # `introduced: 0` sorts first
        return (a[0] is not None) - (b[0] is not None)
    if a[0] == b[0]:
        return a[1] - b[1]
    return -1 if a[0] < b[0] else 1


@lru_cache(maxsize=200_000)
def _compile(ecosystem: str, ranges_json: str) -> tuple[_Compiled, ...]:
    """Each range's events parsed and sorted once per advisory, not once per version checked."""
    out: list[_Compiled] = []
    for rng in json.loads(ranges_json):
        if not isinstance(rng, dict):
            continue
        kind = str(rng.get("type", "ECOSYSTEM"))
        if kind == "GIT":
            out.append(None)
            continue
        scheme = "SEMVER" if kind == "SEMVER" else ecosystem
        events: list[tuple[Any, int, str]] = []
        limits: list[Any] = []
        for event in rng.get("events") or []:
            if not isinstance(event, dict) or len(event) != 1:
                continue
            (what, value), = event.items()
            if what not in _ORDER:
                continue
            if what == "introduced" and str(value) == "0":
                events.append((None, 0, what))
                continue
            parsed = parse(scheme, str(value))
            if parsed is None:
                continue
            if what == "limit":
                limits.append(parsed)
            else:
                events.append((parsed, _ORDER[what], what))
        events.sort(key=cmp_to_key(_compare))
        out.append((scheme, tuple(limits), tuple((e[0], e[2]) for e in events)))
    return tuple(out)


@lru_cache(maxsize=200_000)
def _listed(ecosystem: str, versions_json: str) -> frozenset[str]:
    return frozenset(_canon(ecosystem, str(v)) for v in json.loads(versions_json))


def _in_range(version: str, compiled: _Compiled) -> bool | None:
    """Whether `version` falls in one compiled range; None when it cannot be evaluated (GIT, unparseable)."""
    if compiled is None:
        return None
    scheme, limits, events = compiled
    current = parse(scheme, version)
    if current is None:
        return None
    if any(current >= limit for limit in limits):
        return False
    status = False
    for bound, what in events:
        if what == "introduced":
            if bound is None or current >= bound:
                status = True
        elif (what == "fixed" and current >= bound) or (what == "last_affected" and current > bound):
            status = False
    return status


def _json(value: str | Sequence[Any] | Iterable[Any]) -> str:
    return value if isinstance(value, str) else json.dumps(list(value), sort_keys=True)


def is_affected(ecosystem: str, version: str, ranges: str | Sequence[dict[str, Any]],
                versions: str | Iterable[str]) -> bool | None:
    """True/False for one `affected[]` entry (`ranges`/`versions` as data or as their JSON text); None when
    nothing in it could be evaluated for `version`."""
    listed = _listed(ecosystem, _json(versions))
    if _canon(ecosystem, version) in listed:
        return True
    verdicts = [_in_range(version, c) for c in _compile(ecosystem, _json(ranges))]
    if any(v is True for v in verdicts):
        return True
    if any(v is False for v in verdicts) or listed:
        return False
    return None if verdicts else False


def fixed_versions(ranges: str | Sequence[dict[str, Any]]) -> list[str]:
    """Every `fixed` event of the non-GIT ranges, as written."""
    out: list[str] = []
    for rng in json.loads(ranges) if isinstance(ranges, str) else ranges:
        if not isinstance(rng, dict) or rng.get("type") == "GIT":
            continue
        for event in rng.get("events") or []:
            if isinstance(event, dict) and "fixed" in event:
                out.append(str(event["fixed"]))
    return out


def describe_ranges(ranges: Sequence[dict[str, Any]]) -> str:
    """`>=1.0, <1.2.3` style text of the non-GIT ranges, for messages."""
    parts: list[str] = []
    for rng in ranges:
        if not isinstance(rng, dict) or rng.get("type") == "GIT":
            continue
        bits: list[str] = []
        for event in rng.get("events") or []:
            if not isinstance(event, dict) or len(event) != 1:
                continue
            (what, value), = event.items()
            if what == "introduced":
                if bits:
                    parts.append(", ".join(bits))
                    bits = []
                if str(value) != "0":
                    bits.append(f">={value}")
            elif what == "fixed":
                bits.append(f"<{value}")
            elif what == "last_affected":
                bits.append(f"<={value}")
        if bits:
            parts.append(", ".join(bits))
    return " or ".join(parts) if parts else "all versions"


_Entry = tuple[str | Sequence[dict[str, Any]], str | Sequence[str]]


def smallest_fix(ecosystem: str, version: str, affected: Sequence[_Entry]) -> str | None:
    """The lowest `fixed` version above `version` that none of `affected` (ranges, versions) matches: the
    smallest upgrade fixing every advisory at once. None when no fixed version clears them all."""
    current = parse(ecosystem, version)
    if current is None:
        return None
    candidates: dict[str, Any] = {}
    for ranges, _versions in affected:
        for fixed in fixed_versions(ranges):
            parsed = parse(ecosystem, fixed)
            if parsed is not None and parsed > current:
                candidates[fixed] = parsed
    for text in sorted(candidates, key=cmp_to_key(lambda a, b: _compare((candidates[a], 0, ""),
                                                                         (candidates[b], 0, "")))):
        if not any(is_affected(ecosystem, text, r, v) for r, v in affected):
            return text
    return None
