"""The dependencies check end to end through `prguard scan` on real git repositories: what a PR introduces
into a vulnerable version is reported on its line with ids, fixed version and upgrade advice; what it does
not introduce is not; "could not check" is never clean."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.features.advisory_sync import sync
from tests.dep_support import index_fixture, line_of, lock_v3, osv, package_json
from tests.gitrepo import GitRepo
from tests.scanning import scan, scan_json

EXTRA = (
    osv("GHSA-test-cvss-0003", "PyPI", "requests", [{"introduced": "2.30.0"}, {"fixed": "2.32.0"}],
        summary="Made-up critical issue in requests 2.30-2.31",
        severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]),
)


index_dir = index_fixture(EXTRA)


@pytest.fixture(autouse=True)
def advisory_env(index_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("PRGUARD_ADVISORY_DIR", str(index_dir))
    yield


def _deps(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["check"] == "dependencies"]


def _pr(tmp_path: Path, base: dict[str, str], head: dict[str, str]) -> GitRepo:
    repo = GitRepo.on_feature_branch(tmp_path / "repo", base)
    repo.commit(head, "change deps")
    return repo


REQ_BASE = "# app deps\nrequests==2.32.3\njinja2==2.11.3\nflask==0.12\n"


def test_vulnerable_bump_is_flagged_on_its_line_with_ids_fix_and_upgrade(tmp_path: Path, capsys) -> None:
    head = "# app deps\nrequests==2.32.3\njinja2==2.10\nflask==0.12\n"
    repo = _pr(tmp_path, {"requirements.txt": REQ_BASE}, {"requirements.txt": head})
    code, report, err = scan_json(capsys, repo, "--head", "HEAD")
    [finding] = _deps(report)
    assert finding["rule_id"] == "dependencies/vulnerable"
    assert (finding["path"], finding["line"]) == ("requirements.txt", line_of(head, "jinja2==2.10"))
    meta = finding["metadata"]
    assert set(meta["advisories"]) == {"PYSEC-2019-217", "PYSEC-2021-66"}
    assert "CVE-2019-10906" in meta["aliases"] and "GHSA-g3rq-g295-4j3m" in meta["aliases"]
    assert meta["fixed"] == ["2.10.1", "2.11.3"]
    assert meta["upgrade"] == "2.11.3"  # the smallest version fixing both advisories, not 2.10.1
    assert "Upgrade jinja2 to 2.11.3" in finding["remediation"]
    assert "direct dependency" in finding["message"]
    assert "sandbox escape" in finding["message"]
    # the data source and date are stated; flask 0.12 (vulnerable, unchanged) is counted, not reported
    assert "advisory data: OSV from" in err
    assert "1 vulnerable package version already present, not introduced here" in err
    assert code == 0  # medium: below the default fail-on (high)


def test_bump_to_a_fixed_version_is_clean(tmp_path: Path, capsys) -> None:
    base = "requests==2.32.3\njinja2==2.10\n"
    head = "requests==2.32.3\njinja2==2.11.3\n"
    repo = _pr(tmp_path, {"requirements.txt": base}, {"requirements.txt": head})
    code, report, _ = scan_json(capsys, repo, "--head", "HEAD")
    assert _deps(report) == []
    assert code == 0


def test_unchanged_vulnerable_dependency_is_not_reported(tmp_path: Path, capsys) -> None:
    head = REQ_BASE + "idna==3.7\n"  # flask 0.12 stays, vulnerable but not introduced here
    repo = _pr(tmp_path, {"requirements.txt": REQ_BASE}, {"requirements.txt": head})
    code, report, err = scan_json(capsys, repo, "--head", "HEAD")
    assert _deps(report) == []
    assert "already present, not introduced here" in err
    assert code == 0


def test_cvss_vector_sets_severity_and_blocks(tmp_path: Path, capsys) -> None:
    base = "requests==2.32.3\n"
    head = "requests==2.31.0\n"
    repo = _pr(tmp_path, {"requirements.txt": base}, {"requirements.txt": head})
    code, report, _ = scan_json(capsys, repo, "--head", "HEAD")
    [finding] = _deps(report)
    assert finding["severity"] == "critical"  # CVSS 3.1 base score 9.8, computed by the cvss library
    assert "GHSA-test-cvss-0003" in finding["metadata"]["advisories"]
    assert code == 1


def _npm(direct: dict[str, str], packages: dict[str, tuple[str, dict[str, str]]], **kw: Any) -> str:
    return lock_v3("shop", direct, packages, **kw)


NPM_BASE = {
    "package.json": package_json("shop", {"mkdirp": "^0.5.5", "left-pad": "^1.3.0"}),
    "package-lock.json": _npm({"mkdirp": "^0.5.5", "left-pad": "^1.3.0"}, {
        "left-pad": ("1.3.0", {}),
        "mkdirp": ("0.5.5", {"minimist": "^1.2.6"}),
        "minimist": ("1.2.6", {}),
    }),
}


def test_transitive_package_shows_its_path_and_the_direct_dependency(tmp_path: Path, capsys) -> None:
    lock = _npm({"mkdirp": "^0.5.5", "left-pad": "^1.3.0"}, {
        "left-pad": ("1.3.0", {}),
        "mkdirp": ("0.5.6", {"minimist": "^1.2.5"}),
        "minimist": ("1.2.5", {}),
    })
    manifest = package_json("shop", {"mkdirp": "^0.5.6", "left-pad": "^1.3.0"})
    repo = _pr(tmp_path, NPM_BASE, {"package.json": manifest, "package-lock.json": lock})
    code, report, _ = scan_json(capsys, repo, "--head", "HEAD")
    [finding] = _deps(report)
    minimist_line = line_of(lock, '"node_modules/minimist"')
    assert (finding["path"], finding["line"]) == ("package-lock.json", minimist_line)
    assert finding["metadata"]["direct"] is False
    assert finding["metadata"]["via"][0] == "mkdirp"
    assert "transitive: minimist 1.2.5 ← mkdirp" in finding["message"]
    declared = line_of(manifest, '"mkdirp"')
    assert f"through mkdirp, declared in package.json line {declared}" in finding["message"]
    assert finding["metadata"]["upgrade"] == "1.2.6"
    assert finding["severity"] == "critical" and code == 1


def test_malicious_package_is_critical(tmp_path: Path, capsys) -> None:
    lock = _npm({"left-pad": "^1.3.0", "evil-pkg": "1.0.0"}, {"left-pad": ("1.3.0", {}),
                                                             "evil-pkg": ("1.0.0", {})})
    manifest = package_json("shop", {"left-pad": "^1.3.0", "evil-pkg": "1.0.0"})
    repo = _pr(tmp_path, {"package.json": package_json("shop", {"left-pad": "^1.3.0"}),
                          "package-lock.json": _npm({"left-pad": "^1.3.0"}, {"left-pad": ("1.3.0", {})})},
               {"package.json": manifest, "package-lock.json": lock})
    code, report, _ = scan_json(capsys, repo, "--head", "HEAD")
    [finding] = _deps(report)
    assert finding["rule_id"] == "dependencies/malicious" and finding["severity"] == "critical"
    assert finding["metadata"]["advisories"] == ["MAL-2099-0002"]
    assert "Remove evil-pkg" in finding["remediation"]
    assert code == 1


def test_order_and_comment_only_changes_report_nothing(tmp_path: Path, capsys) -> None:
    vulnerable = {
        "package.json": NPM_BASE["package.json"],
        "package-lock.json": _npm({"mkdirp": "^0.5.5", "left-pad": "^1.3.0"}, {
            "minimist": ("1.2.5", {}), "mkdirp": ("0.5.5", {"minimist": "^1.2.5"}),
            "left-pad": ("1.3.0", {})}),
        "requirements.txt": "jinja2==2.10\nflask==0.12\n",
    }
    reordered = {
        "package-lock.json": _npm({"left-pad": "^1.3.0", "mkdirp": "^0.5.5"}, {
            "left-pad": ("1.3.0", {}), "mkdirp": ("0.5.5", {"minimist": "^1.2.5"}),
            "minimist": ("1.2.5", {})}),
        "requirements.txt": "# pinned by hand\nflask==0.12  # old on purpose\njinja2==2.10\n",
    }
    repo = _pr(tmp_path, vulnerable, reordered)
    code, report, _ = scan_json(capsys, repo, "--head", "HEAD")
    assert _deps(report) == []
    assert code == 0


def test_malformed_lockfile_is_a_file_level_error_not_clean(tmp_path: Path, capsys) -> None:
    broken = NPM_BASE["package-lock.json"].replace('"lockfileVersion": 3,', '"lockfileVersion": 3,,')
    repo = _pr(tmp_path, NPM_BASE, {"package-lock.json": broken})
    code, report, _ = scan_json(capsys, repo, "--head", "HEAD")
    [finding] = _deps(report)
    assert finding["rule_id"] == "dependencies/could-not-check"
    assert finding["path"] == "package-lock.json" and finding["severity"] == "high"
    assert "could not be parsed" in finding["message"] and "not known to be clean" in finding["message"]
    assert report["errors"] == []  # a finding on the file, not a crashed check
    assert code == 1


def test_no_index_names_the_command_and_exits_2(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("PRGUARD_ADVISORY_DIR", str(tmp_path / "empty"))
    repo = _pr(tmp_path, {"requirements.txt": "idna==3.7\n"},
               {"requirements.txt": "idna==3.7\njinja2==2.10\n"})
    code, out, err = scan(capsys, repo, "--head", "HEAD", "--no-color")
    assert code == 2
    assert "run `prguard advisories sync` first" in err and "requirements.txt" in err
    assert "dependencies/no-advisory-data" in out


def test_no_dependency_file_changed_needs_no_data(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("PRGUARD_ADVISORY_DIR", str(tmp_path / "empty"))
    repo = _pr(tmp_path, {"requirements.txt": "jinja2==2.10\n", "NOTES": "a\n"}, {"NOTES": "b\n"})
    code, out, err = scan(capsys, repo, "--head", "HEAD", "--no-color")
    assert code == 0
    assert "advisories sync" not in err and "advisories sync" not in out


def test_stale_data_is_a_finding(tmp_path: Path, capsys, monkeypatch) -> None:
    policy = "checks:\n  dependencies:\n    max_advisory_age_days: 1\n"
    stale_dir = tmp_path / "stale"
    sync(str(Path(__file__).parent / "fixtures" / "osv" / "pypa"), directory=stale_dir)  # 2024 data only
    repo = _pr(tmp_path, {".github/prguard.yml": policy, "requirements.txt": "idna==3.7\n"},
               {"requirements.txt": "idna==3.7\ncertifi==2024.8.30\n"})
    monkeypatch.setenv("PRGUARD_ADVISORY_DIR", str(stale_dir))
    _, report, _ = scan_json(capsys, repo, "--head", "HEAD")
    [finding] = _deps(report)
    assert finding["rule_id"] == "dependencies/stale-advisories" and finding["severity"] == "medium"
    assert finding["metadata"]["data_date"].startswith("2024-")
    assert "prguard advisories sync" in finding["remediation"]
