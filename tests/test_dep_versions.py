"""Range evaluation per ecosystem (OSV ECOSYSTEM/SEMVER/GIT ranges, introduced/fixed/last_affected/limit,
`versions` lists) and the smallest upgrade fixing every advisory, on small made-up OSV records synced into
a real index. Expectations are written out by hand from each ecosystem's documented version ordering."""

from __future__ import annotations

import pytest

from bot.features.advisory_sync import sync
from checks.dependencies.advisories.store import AdvisoryIndex
from checks.dependencies.advisories.versions import smallest_fix
from checks.dependencies.audit import match
from checks.dependencies.model import Package
from tests.dep_support import osv, write_records

IN, F, L, LA = "introduced", "fixed", "limit", "last_affected"
RECORDS = [
    osv("T-NPM-1", "npm", "semverpkg", [{IN: "1.0.0"}, {F: "1.4.2"}], kind="SEMVER"),
    osv("T-GO-1", "Go", "github.com/acme/mod", [{IN: "0"}, {F: "1.2.4"}]),
    osv("T-GO-2", "Go", "golang.org/x/net", [{IN: "0"}, {F: "0.0.0-20220906165146-f3363e06e74c"}]),
    osv("T-MVN-1", "Maven", "org.acme:lib", [{IN: "2.13.0"}, {F: "2.13.4.1"}]),
    osv("T-MVN-2", "Maven", "org.acme:snap", [{IN: "0"}, {F: "1.0"}]),
    osv("T-NUGET-1", "NuGet", "Acme.Json", [{IN: "0"}, {F: "13.0.1"}]),
    osv("T-GEM-1", "RubyGems", "acmegem", [{IN: "0"}, {F: "6.1.7.3"}]),
    osv("T-GEM-2", "RubyGems", "pregem", [{IN: "1.0.0.pre"}, {LA: "1.0.0"}]),
    osv("T-PHP-1", "Packagist", "acme/http", [{IN: "5.0.0"}, {F: "5.4.3"}]),
    osv("T-CRATE-1", "crates.io", "acmecrate", [{IN: "0.4.0"}, {F: "0.4.20"}]),
    osv("T-PY-LA", "PyPI", "lastpkg", [{IN: "1.0"}, {LA: "1.4"}]),
    osv("T-PY-LIMIT", "PyPI", "limitpkg", [{IN: "0"}, {L: "2.0"}]),
    osv("T-PY-LIST", "PyPI", "listpkg", versions=["1.0", "1.1.post1"]),
    osv("T-PY-GIT", "PyPI", "gitpkg", [{IN: "0"}, {F: "a" * 40}], kind="GIT", versions=["0.9", "1.0"]),
    osv("T-PY-A", "PyPI", "twopkg", [{IN: "0"}, {F: "1.2"}]),
    osv("T-PY-B", "PyPI", "twopkg", [{IN: "1.0"}, {F: "1.2.5"}, {IN: "2.0"}, {F: "2.0.1"}]),
    osv("T-PY-C", "PyPI", "twopkg", [{IN: "1.2"}, {F: "1.2.3"}]),
]

CASES = [
    ("npm", "semverpkg", "1.4.1", True), ("npm", "semverpkg", "1.4.2", False),
    ("npm", "semverpkg", "1.4.2-beta.1", True), ("npm", "semverpkg", "0.9.9", False),
    ("Go", "github.com/acme/mod", "v1.2.3", True), ("Go", "github.com/acme/mod", "v1.10.0", False),
    ("Go", "golang.org/x/net", "v0.0.0-20220101000000-abcdefabcdef", True),
    ("Go", "golang.org/x/net", "v0.1.0", False),
    ("Maven", "org.acme:lib", "2.13.4", True), ("Maven", "org.acme:lib", "2.13.4.1", False),
    ("Maven", "org.acme:lib", "2.13.10", False), ("Maven", "org.acme:snap", "1.0-SNAPSHOT", True),
    ("NuGet", "acme.json", "12.0.3", True), ("NuGet", "Acme.Json", "13.0.1", False),
    ("RubyGems", "acmegem", "6.1.7.2", True), ("RubyGems", "acmegem", "6.1.10", False),
    ("RubyGems", "pregem", "1.0.0", True), ("RubyGems", "pregem", "1.0.1", False),
    ("RubyGems", "pregem", "0.9", False),
    ("Packagist", "acme/http", "v5.4.2", True), ("Packagist", "acme/http", "5.4.3", False),
    ("crates.io", "acmecrate", "0.4.9", True), ("crates.io", "acmecrate", "0.4.20", False),
    ("PyPI", "lastpkg", "1.4", True), ("PyPI", "lastpkg", "1.4.post1", False),
    ("PyPI", "lastpkg", "0.9", False),
    ("PyPI", "limitpkg", "1.9", True), ("PyPI", "limitpkg", "2.0", False),
    ("PyPI", "listpkg", "1.0.0", True), ("PyPI", "listpkg", "1.1.post1", True),
    ("PyPI", "listpkg", "1.1", False),
    ("PyPI", "gitpkg", "1.0", True), ("PyPI", "gitpkg", "1.1", False),
    ("PyPI", "TwoPkg", "2.0", True), ("PyPI", "twopkg", "1.5", False),
]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> AdvisoryIndex:
    root = tmp_path_factory.mktemp("versions")
    sync(str(write_records(root / "data", RECORDS)), directory=root / "idx")
    return AdvisoryIndex(root / "idx" / "advisories.sqlite")


@pytest.mark.parametrize(("ecosystem", "name", "version", "affected"), CASES)
def test_range_evaluation(index: AdvisoryIndex, ecosystem: str, name: str, version: str,
                          affected: bool) -> None:
    found = match(index, [Package(ecosystem, name, version, "f")])
    hits = [a.id for m in found.values() for a in m.advisories]
    assert bool(hits) is affected, (ecosystem, name, version, hits)


def test_smallest_upgrade_clears_every_advisory(index: AdvisoryIndex) -> None:
    found = match(index, [Package("PyPI", "twopkg", "1.1", "f")])
    [m] = found.values()
    assert sorted(a.id for a in m.advisories) == ["T-PY-A", "T-PY-B"]
    # 1.2 fixes A but is in B's range and C's; 1.2.3 fixes C but not B; 1.2.5 clears all three
    everything = [(a.ranges_json, a.versions_json) for a in index.lookup("PyPI", ["twopkg"])["twopkg"]]
    assert smallest_fix("PyPI", "1.1", everything) == "1.2.5"
    assert smallest_fix("PyPI", "2.0", everything) == "2.0.1"
