"""Opt-in online lookups through pip-audit's OSV service: the one place the check may use the network.

Off unless BOTH the operator sets `PRGUARD_OSV_URL` (an OSV `/v1/query` endpoint: their mirror, or
https://api.osv.dev/v1/query) AND the repository's policy sets `checks.dependencies.online: true`. Without
either, nothing leaves the machine. pip-audit is used as a library for exactly one thing, its `OsvService`
query of one pinned `name==version`: nothing is installed, resolved or built (no pip, no environment).

Only PyPI packages are asked (pip-audit's service is PyPI-only), only those the change adds or moves, and the
answers are merged with the offline index's by id and alias. pip-audit gives ids, aliases, description and
fix versions but no severity, so an online-only advisory is reported at the default severity (medium).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from checks.dependencies.advisories.store import Advisory
from checks.dependencies.model import PYPI, Package, Parsed

if TYPE_CHECKING:
    from checks.dependencies.audit import Match

ENV = "PRGUARD_OSV_URL"
TIMEOUT_S = 15


class OnlineLookupFailed(Exception):
    """The OSV service could not be asked (unreachable, an HTTP error): say so, never "clean"."""


def endpoint() -> str | None:
    """The operator's OSV endpoint, or None (online lookups off)."""
    url = os.environ.get(ENV, "").strip()
    return url or None


def lookup(packages: Iterable[Package], url: str) -> dict[tuple[str, str, str], list[Advisory]]:
    """{(PyPI, normalised name, version): advisories} from the OSV service at `url`, via pip-audit."""
    from packaging.version import InvalidVersion, Version
    from pip_audit._service import OsvService, ResolvedDependency, ServiceError

    service = OsvService(timeout=TIMEOUT_S, osv_url=url)
    out: dict[tuple[str, str, str], list[Advisory]] = {}
    seen: set[tuple[str, str]] = set()
    for pkg in packages:
        if pkg.ecosystem != PYPI or not pkg.version or (pkg.key[1], pkg.version) in seen:
            continue
        seen.add((pkg.key[1], pkg.version))
        try:
            dep = ResolvedDependency(name=pkg.name, version=Version(pkg.version))
        except InvalidVersion:
            continue
        try:
            _, results = service.query(dep)
        except (ServiceError, ConnectionError, OSError) as exc:
            raise OnlineLookupFailed(f"{url}: {type(exc).__name__}") from None
        out[(PYPI, pkg.key[1], pkg.version)] = [_advisory(r, pkg.version) for r in results]
    return out


def _advisory(result: object, version: str) -> Advisory:
    fixes = [str(v) for v in getattr(result, "fix_versions", [])]
    description = " ".join(str(getattr(result, "description", "")).split())
    return Advisory(
        id=str(getattr(result, "id", "")), aliases_json=json.dumps(sorted(getattr(result, "aliases", set()))),
        summary=description[:197] + "..." if len(description) > 200 else description,
        severity="medium", score=None, severity_source="online (pip-audit OSV service; no severity given)",
        # the service says which versions fix it and that this one is affected: enough for the upgrade advice
        ranges_json=json.dumps([{"type": "ECOSYSTEM", "events": [{"fixed": f} for f in fixes]}]),
        versions_json=json.dumps([version]), modified="",
    )


def augment(matches: dict[tuple[str, str, str], Match], heads: dict[str, Parsed],
            bases: dict[str, Parsed | None], requested: bool) -> tuple[str | None, str | None]:
    """Add online answers to `matches` when asked and allowed; (note for the report, failure or None)."""
    if not requested:
        return None, None
    url = endpoint()
    if url is None:
        return (f"online lookups requested by the policy but {ENV} is not set by the operator: "
                "offline index only"), None
    on_base = [p for b in bases.values() if b for p in b.packages]
    known_versions = {(p.key, p.version) for p in on_base}
    changed = [p for h in heads.values() for p in h.packages
               if p.ecosystem == PYPI and p.version and (p.key, p.version) not in known_versions]
    try:
        found = lookup(changed, url)
        hit = {(eco, name) for (eco, name, _), advisories in found.items() if advisories}
        found.update(lookup([p for p in on_base if p.key in hit], url))
    except OnlineLookupFailed as exc:
        return None, f"the online OSV lookup failed ({exc}): only the offline index was used"
    from checks.dependencies.audit import Match

    for key, advisories in found.items():
        if not advisories:
            continue
        match = matches.setdefault(key, Match())
        known = {x for a in match.advisories for x in (a.id, *a.aliases)}
        for advisory in advisories:
            if advisory.id not in known and not set(advisory.aliases) & known:
                match.advisories.append(advisory)
    return f"online lookups: {len(found)} PyPI package versions asked at {url}", None
