"""Helpers for the dependencies tests: small OSV records, an index built from them plus the PyPA subset in
tests/fixtures/osv, and realistic package-lock.json files."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.cli.main import main

PYPA = Path(__file__).resolve().parent / "fixtures" / "osv" / "pypa"


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def osv(id: str, ecosystem: str, name: str, events: Sequence[Mapping[str, str]] = (),
        versions: Sequence[str] = (), *, kind: str = "ECOSYSTEM", aliases: Sequence[str] = (),
        summary: str = "", severity: Sequence[Mapping[str, str]] = (), modified: str | None = None,
        **more: Any) -> dict[str, Any]:
    """One OSV record affecting one package."""
    affected: dict[str, Any] = {"package": {"ecosystem": ecosystem, "name": name}}
    if events:
        affected["ranges"] = [{"type": kind, "events": [dict(e) for e in events]}]
    if versions:
        affected["versions"] = list(versions)
    record = {"schema_version": "1.6.0", "id": id, "modified": modified or now(),
              "published": "2026-01-01T00:00:00Z", "aliases": list(aliases),
              "summary": summary or f"{name} test advisory {id}", "affected": [affected], **more}
    if severity:
        record["severity"] = [dict(s) for s in severity]
    return record


def write_records(folder: Path, records: Iterable[Mapping[str, Any]]) -> Path:
    """Records as JSON files in an OSV-like layout (`<ecosystem>/<id>.json`)."""
    for record in records:
        eco = record["affected"][0]["package"]["ecosystem"] if record.get("affected") else "other"
        target = folder / eco / f"{record['id']}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(record, indent=2), encoding="utf-8")
    return folder


#: npm records the check tests use (made up, not real advisories)
NPM_RECORDS = (
    osv("GHSA-test-mini-0001", "npm", "minimist", [{"introduced": "0"}, {"fixed": "1.2.6"}], kind="SEMVER",
        aliases=["CVE-2099-0001"], summary="Prototype pollution in minimist",
        severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]),
    osv("MAL-2099-0002", "npm", "evil-pkg", [{"introduced": "0"}], kind="SEMVER",
        summary="Malicious code in evil-pkg"),
)


def build_data(folder: Path, extra: Iterable[Mapping[str, Any]] = ()) -> Path:
    """A data folder: the PyPA subset (YAML) plus fresh JSON records (so the data is not stale)."""
    shutil.copytree(PYPA / "vulns", folder / "pypa")
    write_records(folder / "extra", [*NPM_RECORDS, *extra])
    return folder


def sync_cli(capsys: Any, *args: str) -> tuple[int, str, str]:
    code = main(["advisories", *args])
    out, err = capsys.readouterr()
    return code, out, err


def lock_v3(name: str, direct: Mapping[str, str], packages: Mapping[str, tuple[str, Mapping[str, str]]],
            *, resolved: Mapping[str, str] | None = None, integrity: Mapping[str, str] | None = None) -> str:
    """A package-lock.json v3 as npm writes it: `packages` {"node_modules/x": {version, resolved, integrity,
    dependencies}}. `packages`: name -> (version, its dependencies)."""
    entries: dict[str, Any] = {"": {"name": name, "version": "1.0.0", "dependencies": dict(direct)}}
    for pkg, (version, deps) in packages.items():
        entry: dict[str, Any] = {
            "version": version,
            "resolved": (resolved or {}).get(pkg, f"https://registry.npmjs.org/{pkg}/-/{pkg}-{version}.tgz"),
            "integrity": (integrity or {}).get(pkg, f"sha512-{pkg}{version}=="),
        }
        if deps:
            entry["dependencies"] = dict(deps)
        entries[f"node_modules/{pkg}"] = entry
    return json.dumps({"name": name, "version": "1.0.0", "lockfileVersion": 3, "requires": True,
                       "packages": entries}, indent=2) + "\n"


def package_json(name: str, deps: Mapping[str, str]) -> str:
    return json.dumps({"name": name, "version": "1.0.0", "dependencies": dict(deps)}, indent=2) + "\n"


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing `needle` (the test's own oracle, not the parser's)."""
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in text")


def index_fixture(extra: Iterable[Mapping[str, Any]] = ()) -> Any:
    """A module-scoped fixture: an index synced from the PyPA subset plus fresh `extra` records."""

    @pytest.fixture(scope="module")
    def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
        from bot.features.advisory_sync import sync

        root = tmp_path_factory.mktemp("advisories")
        data = build_data(root / "data", extra)
        sync(str(data), directory=root / "index")
        return root / "index"

    return index_dir
