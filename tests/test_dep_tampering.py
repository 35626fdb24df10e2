"""Supply-chain tampering and risky sources (issue 7, item 4), through `prguard scan` on one real PR.

The PR has one folder per case: `<case>-bad/` must produce the case's finding, `<case>-clean/` (its honest
counterpart) must produce none. One scan serves every assertion.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.cli.main import main
from tests.dep_support import index_fixture, line_of, lock_v3, package_json
from tests.gitrepo import GitRepo

index_dir = index_fixture()
SHA = "3f786850e387550fdab836ed7e6dc881de23001b"
H1 = "sha256:" + "a" * 64
H2 = "sha256:" + "b" * 64
HASHED = "sha256=" + "c" * 64
TOKEN = "s3cr3t-t0ken-4f9a1c"


def _lock(version: str = "1.3.0", resolved: str | None = None, integrity: str | None = None) -> str:
    return lock_v3("app", {"left-pad": "^1.3.0"}, {"left-pad": (version, {})},
                   resolved={"left-pad": resolved} if resolved else None,
                   integrity={"left-pad": integrity} if integrity else None)


def _npm(lock: str, deps: dict[str, str] | None = None) -> dict[str, str]:
    return {"package.json": package_json("app", deps or {"left-pad": "^1.3.0"}), "package-lock.json": lock}


def _in(folder: str, files: dict[str, str]) -> dict[str, str]:
    return {f"{folder}/{name}": text for name, text in files.items()}


BASE: dict[str, str] = {
    **_in("reg-bad", _npm(_lock())), **_in("reg-clean", _npm(_lock())),
    **_in("int-bad", _npm(_lock(integrity="sha512-AAAA"))),
    **_in("int-clean", _npm(_lock(integrity="sha512-AAAA"))),
    **_in("lock-bad", _npm(_lock())), **_in("lock-clean", _npm(_lock())),
    "vcs-bad/requirements.txt": "idna==3.7\n", "vcs-clean/requirements.txt": "idna==3.7\n",
    "idx-bad/requirements.txt": "idna==3.7\n",
    "idx-clean/requirements.txt": "--extra-index-url https://pypi.internal.example/simple\n"
                                  "--trusted-host pypi.internal.example\nidna==3.7\n",
    "th-bad/requirements.txt": "idna==3.7\n",
    "rh-bad/requirements.txt": f"--require-hashes\nidna==3.7 --hash={H1}\n",
    "rh-clean/requirements.txt": f"--require-hashes\nidna==3.7 --hash={H1}\n",
    "pin-bad/requirements.txt": "idna==3.7\n", "pin-clean/requirements.txt": "idna==3.7\n",
    "pin-clean/requirements.in": "idna\n",
}
HEAD: dict[str, str] = {
    # a lockfile entry resolved outside the npm registry (manifest changed too: only that rule fires)
    **_in("reg-bad", _npm(_lock("1.3.1", resolved="https://evil.example/left-pad/-/left-pad-1.3.1.tgz"),
                          {"left-pad": "^1.3.1"})),
    **_in("reg-clean", _npm(_lock("1.3.1"), {"left-pad": "^1.3.1"})),
    # the same version with another hash / a new version with its new hash
    "int-bad/package-lock.json": _lock(integrity="sha512-BBBB"),
    **_in("int-clean", _npm(_lock("1.3.1", integrity="sha512-CCCC"), {"left-pad": "^1.3.1"})),
    # a lockfile version change with no manifest change / with one
    "lock-bad/package-lock.json": _lock("1.3.1"),
    **_in("lock-clean", _npm(_lock("1.3.1"), {"left-pad": "^1.3.1"})),
    "vcs-bad/requirements.txt": "idna==3.7\nmylib @ git+https://github.com/acme/mylib@main\n"
                                "tarlib @ https://downloads.example/tarlib-1.0.tar.gz\n",
    "vcs-clean/requirements.txt": f"idna==3.7\nmylib @ git+https://github.com/acme/mylib@{SHA}\n"
                                  f"tarlib @ https://downloads.example/tarlib-1.0.tar.gz#{HASHED}\n",
    "idx-bad/requirements.txt": f"--extra-index-url https://ci:{TOKEN}@pypi.internal.example/simple\nidna==3.7\n",
    "idx-clean/requirements.txt": "--extra-index-url https://pypi.internal.example/simple\n"
                                  "--trusted-host pypi.internal.example\nidna==3.7\ncertifi==2024.8.30\n",
    "th-bad/requirements.txt": "--trusted-host pypi.internal.example\nidna==3.7\n",
    "rh-bad/requirements.txt": "idna==3.7\n",
    "rh-clean/requirements.txt": f"--require-hashes\nidna==3.8 --hash={H2}\n",
    "pin-bad/requirements.txt": "idna==3.7\nrequests>=2.31\n",
    "pin-clean/requirements.txt": "idna==3.7\nrequests==2.32.3\n",
    "pin-clean/requirements.in": "idna\nrequests>=2.31\n",
}


@pytest.fixture(scope="module")
def findings(index_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[dict[str, Any]]]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PRGUARD_ADVISORY_DIR", str(index_dir))
        repo = GitRepo.on_feature_branch(tmp_path_factory.mktemp("tamper") / "repo", BASE)
        repo.commit(HEAD, "dependency changes")
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            main(["scan", str(repo.path), "--head", "HEAD", "--format", "json"])
        report = json.loads(out.getvalue())
        yield [f for f in report["findings"] if f["check"] == "dependencies"]


def _where(findings: list[dict[str, Any]], rule: str) -> list[tuple[str, int]]:
    return sorted((f["path"], f["line"]) for f in findings if f["rule_id"] == f"dependencies/{rule}")


def test_nothing_in_the_clean_counterparts(findings: list[dict[str, Any]]) -> None:
    assert [(f["path"], f["rule_id"]) for f in findings if "-clean/" in f["path"]] == []


def test_lockfile_entry_outside_the_registry(findings: list[dict[str, Any]]) -> None:
    lock = HEAD["reg-bad/package-lock.json"]
    assert _where(findings, "outside-registry") == [
        ("reg-bad/package-lock.json", line_of(lock, '"node_modules/left-pad"'))]
    [f] = [f for f in findings if f["rule_id"] == "dependencies/outside-registry"]
    assert f["severity"] == "high" and "evil.example" in f["message"]


def test_integrity_changed_with_the_same_version(findings: list[dict[str, Any]]) -> None:
    assert [p for p, _ in _where(findings, "integrity-changed")] == ["int-bad/package-lock.json"]


def test_lockfile_version_change_without_manifest_change(findings: list[dict[str, Any]]) -> None:
    assert [p for p, _ in _where(findings, "lockfile-only-change")] == ["lock-bad/package-lock.json"]
    [f] = [f for f in findings if f["rule_id"] == "dependencies/lockfile-only-change"]
    assert f["severity"] == "medium" and "no manifest" in f["message"]
    assert "left-pad 1.3.0 → 1.3.1" in f["message"]


def test_unpinned_vcs_and_unhashed_url_dependencies(findings: list[dict[str, Any]]) -> None:
    text = HEAD["vcs-bad/requirements.txt"]
    assert _where(findings, "unpinned-source") == [
        ("vcs-bad/requirements.txt", line_of(text, "mylib")),
        ("vcs-bad/requirements.txt", line_of(text, "tarlib"))]


def test_added_extra_index_and_trusted_host(findings: list[dict[str, Any]]) -> None:
    assert _where(findings, "extra-index") == [("idx-bad/requirements.txt", 1)]
    [f] = [f for f in findings if f["rule_id"] == "dependencies/extra-index"]
    assert "pypi.internal.example" in f["message"]
    assert TOKEN not in json.dumps(findings)  # the index URL's credentials are redacted
    assert _where(findings, "trusted-host") == [("th-bad/requirements.txt", 1)]


def test_removed_require_hashes(findings: list[dict[str, Any]]) -> None:
    assert [p for p, _ in _where(findings, "require-hashes-removed")] == ["rh-bad/requirements.txt"]


def test_unpinned_requirement_in_an_application_requirements_file(findings: list[dict[str, Any]]) -> None:
    assert _where(findings, "unpinned-requirement") == [("pin-bad/requirements.txt", 2)]
    [f] = [f for f in findings if f["rule_id"] == "dependencies/unpinned-requirement"]
    assert f["severity"] == "low"

