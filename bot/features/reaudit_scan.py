"""What the re-audit finds in one repository's dependency files: only matches with newly synced advisories
that were not reported before. Pure (no GitHub, no Redis): `bot.features.reaudit` feeds it and posts."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from checks.dependencies import audit
from checks.dependencies.advisories.store import AdvisoryIndex
from checks.dependencies.model import Parsed
from checks.finding import Finding

#: the hidden line in a re-audit run's text that lists what it reported, read back on the next pass
MARKER = "prguard-reaudit-reported:"
_MARKER_RX = re.compile(re.escape(MARKER) + r"([0-9a-f ]*)")


def match_key(path: str, ecosystem: str, name: str, version: str, advisory: str) -> str:
    """A short stable key for one (file, package version, advisory) match."""
    raw = f"{path}\0{ecosystem}\0{name}\0{version}\0{advisory}"
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def keys_in_text(text: str | None) -> set[str]:
    """Keys a previous re-audit run listed in its output text."""
    return {k for m in _MARKER_RX.finditer(text or "") for k in m.group(1).split()}


def marker(keys: Iterable[str]) -> str:
    return f"<!-- {MARKER}{' '.join(sorted(keys))} -->"


@dataclass
class RepoAudit:
    findings: list[Finding]
    keys: set[str]
    #: every package version with a match the re-audit has reported (before or now) that still holds: what a
    #: code-scanning upload lists, since GitHub closes as fixed any alert missing from the latest analysis
    standing: list[Finding] = field(default_factory=list)


def new_matches(files: Mapping[str, Parsed], index: AdvisoryIndex, new_ids: set[str], reported: set[str]
                ) -> RepoAudit:
    """One finding per package version affected by a new advisory in a match not yet reported; every
    advisory of the package is listed (the upgrade must clear them all), and `keys` are the new matches."""
    packages = [p for parsed in files.values() for p in parsed.packages]
    matches = audit.match(index, packages)
    findings: list[Finding] = []
    standing: list[Finding] = []
    keys: set[str] = set()
    seen: set[tuple[str, str, str, str]] = set()
    for parsed in files.values():
        for pkg in parsed.packages:
            if not pkg.version:
                continue
            found = matches.get((pkg.ecosystem, pkg.key[1], pkg.version))
            ident = (pkg.path, *pkg.key, pkg.version)
            if found is None or ident in seen:
                continue
            seen.add(ident)
            every = {a.id: match_key(pkg.path, pkg.ecosystem, pkg.key[1], pkg.version, a.id)
                     for a in found.advisories}
            fresh = {k for a, k in every.items() if a in new_ids} - reported
            if not fresh and reported.isdisjoint(every.values()):
                continue
            finding = audit.vulnerable_finding(pkg, found, index.meta)
            standing.append(finding)
            if fresh:
                keys |= fresh
                findings.append(finding)
    return RepoAudit(findings, keys, standing)
