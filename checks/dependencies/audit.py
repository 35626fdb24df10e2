"""Vulnerability findings: the head's packages matched against the index, kept only when the PR put them
into a vulnerable version, one finding per package with every advisory, the fix and the path.

"Introduced" is decided per package, not per line: a package is reported when its head version is affected
by an advisory that no base version of the same package in the same file was affected by (added, or moved
into a vulnerable version). An unchanged vulnerable package, or one the PR moves between two versions with
the same advisories, is counted as "already present, not introduced here" instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from checks.dependencies.advisories.store import Advisory, AdvisoryIndex, IndexMeta
from checks.dependencies.advisories.versions import (
    SUPPORTED,
    describe_ranges,
    fixed_versions,
    is_affected,
    smallest_fix,
)
from checks.dependencies.model import Package, normalise_name
from checks.finding import Finding, Severity, make_fingerprint

RULE = "dependencies/vulnerable"
RULE_MALICIOUS = "dependencies/malicious"
RULE_UNEVALUATED = "dependencies/could-not-check"
MAX_LISTED = 8


@dataclass
class Match:
    """The advisories affecting one package version, and those no version could be evaluated against."""

    advisories: list[Advisory] = field(default_factory=list)
    unevaluated: list[Advisory] = field(default_factory=list)


def match(index: AdvisoryIndex, packages: Iterable[Package]) -> dict[tuple[str, str, str], Match]:
    """{(ecosystem, normalised name, version): Match} for the pinned packages that have any advisory."""
    by_eco: dict[str, set[tuple[str, str]]] = {}
    for p in packages:
        if p.version and p.ecosystem in SUPPORTED:
            by_eco.setdefault(p.ecosystem, set()).add((p.key[1], p.version))
    out: dict[tuple[str, str, str], Match] = {}
    for ecosystem, wanted in by_eco.items():
        found = index.lookup(ecosystem, {name for name, _ in wanted})
        for name, version in wanted:
            for adv in found.get(name, ()):
                verdict = is_affected(ecosystem, version, adv.ranges_json, adv.versions_json)
                if verdict is None:
                    out.setdefault((ecosystem, name, version), Match()).unevaluated.append(adv)
                elif verdict:
                    out.setdefault((ecosystem, name, version), Match()).advisories.append(adv)
    return out


def normalise(ecosystem: str, name: str) -> str:
    return normalise_name(ecosystem, name)


def _worst(advisories: Sequence[Advisory]) -> Severity:
    return max((Severity(a.severity) for a in advisories), key=lambda s: s.rank)


def _ids(advisory: Advisory) -> str:
    aliases = [a for a in advisory.aliases if a != advisory.id]
    return f"{advisory.id} ({', '.join(aliases)})" if aliases else advisory.id


def path_text(pkg: Package) -> str:
    """`direct dependency` or `transitive: langchain 0.0.306 ← langchain-experimental ← app`."""
    if pkg.direct or not pkg.via:
        return "direct dependency" if pkg.direct else "transitive dependency (no path recorded)"
    return f"transitive: {pkg.name} {pkg.version} ← {' ← '.join(pkg.via)}"


def vulnerable_finding(pkg: Package, found: Match, meta: IndexMeta, declared: str = "") -> Finding:
    """One finding for one package version: all its advisories, the smallest upgrade fixing all of them."""
    advisories = sorted(found.advisories, key=lambda a: (-Severity(a.severity).rank, a.id))
    version = pkg.version or ""
    malicious = [a for a in advisories if a.id.startswith("MAL-")]
    upgrade = None if malicious else smallest_fix(
        pkg.ecosystem, version, [(a.ranges_json, a.versions_json) for a in advisories])
    fixed = sorted({f for a in advisories for f in _fixes(a)})
    lines = []
    for a in advisories[:MAX_LISTED]:
        fix = ", ".join(_fixes(a)) or "none"
        lines.append(f"{_ids(a)} [{a.severity}]: {a.summary or 'no summary'} "
                     f"(affected {describe_ranges(a.ranges)}; fixed in {fix})")
    if len(advisories) > MAX_LISTED:
        lines.append(f"… and {len(advisories) - MAX_LISTED} more")
    count = f"{len(advisories)} known vulnerabilit{'y' if len(advisories) == 1 else 'ies'}"
    where = path_text(pkg) + (f"; {declared}" if declared else "")
    if malicious:
        title = f"Known malicious package: {pkg.name} {version}"
        advice = f"Remove {pkg.name}: OSV lists this version as malicious; rotate anything it could reach."
    elif upgrade:
        title = f"{pkg.name} {version}: {count}"
        advice = f"Upgrade {pkg.name} to {upgrade} (the smallest version fixing every advisory listed)."
    else:
        title = f"{pkg.name} {version}: {count}"
        advice = f"No single fixed version of {pkg.name} clears every advisory: replace or remove it."
    message = (f"{pkg.name} {version} ({pkg.ecosystem}, {where}) is affected by: " + "; ".join(lines)
               + f". {advice} ({meta.line()})")
    ids = [a.id for a in advisories]
    return Finding(
        rule_id=RULE_MALICIOUS if malicious else RULE,
        severity=Severity.CRITICAL if malicious else _worst(advisories),
        path=pkg.path, line=pkg.line, title=title, message=message, remediation=advice,
        fingerprint=make_fingerprint(RULE, pkg.path, f"{pkg.ecosystem} {pkg.key[1]} {version} {ids}"),
        metadata={
            "ecosystem": pkg.ecosystem, "package": pkg.name, "version": version, "advisories": ids,
            "aliases": sorted({x for a in advisories for x in a.aliases}), "fixed": fixed, "upgrade": upgrade,
            "direct": pkg.direct, "via": list(pkg.via), "data_source": meta.source,
            "data_date": meta.data_date,
        },
    )


def unevaluated_finding(pkg: Package, found: Match) -> Finding:
    ids = sorted(a.id for a in found.unevaluated)
    return Finding(
        rule_id=RULE_UNEVALUATED, severity=Severity.MEDIUM, path=pkg.path, line=pkg.line,
        title=f"{pkg.name} {pkg.version}: could not check against {len(ids)} advisories",
        message=(f"{pkg.name} {pkg.version} has advisories ({', '.join(ids[:MAX_LISTED])}) whose ranges "
                 "could not be evaluated for this version (an unparseable version or only GIT ranges): not "
                 "checked, not clean."),
        fingerprint=make_fingerprint(RULE_UNEVALUATED, pkg.path, f"{pkg.key[1]} {pkg.version} {ids}"),
        metadata={"package": pkg.name, "version": pkg.version, "advisories": ids},
    )


def _fixes(advisory: Advisory) -> list[str]:
    return fixed_versions(advisory.ranges_json)
