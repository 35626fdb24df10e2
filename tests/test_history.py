"""`prguard scan --history` end to end on real git repositories: secrets in every commit of the branch.

The issue's acceptance: a token added in one commit and removed in the next is reported (text, JSON and
SARIF name the commit; exit 1); the same token never committed, or already on the base, is not a history
finding; a token still in the head is reported once; the commit cap lists the rest as not scanned; and the
engine keeps findings that name a commit of the change's history, and only those. The pre-push hook is run
by a real `git push`.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from checks.change import Change, LineSet
from checks.engine import run_check
from checks.finding import Finding, Severity
from checks.history import CommitFile, History, HistoryCommit
from checks.secrets.check import SecretsCheck
from tests.gitrepo import GitRepo
from tests.scanning import scan, scan_json
from tests.secrets_keys import github_token
from tests.test_formats import validate_sarif
from tests.test_scan_cli import prguard_command

PROJECT = Path(__file__).resolve().parents[1]



@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return GitRepo.on_feature_branch(tmp_path / "repo", {"README.md": "hello\n", "app.py": "x = 1\n"})


def as_json(capsys: pytest.CaptureFixture[str], repo: GitRepo, *args: str) -> tuple[int, dict[str, Any]]:
    code, doc, err = scan_json(capsys, repo, *args)
    assert err == "" or code == 2, err
    return code, doc


def added_then_removed(repo: GitRepo, token: str) -> str:
    """Commit 1 adds `leak.py` with the token; commit 2 deletes it. Returns commit 1's SHA."""
    first = repo.commit({"leak.py": f'TOKEN = "{token}"\n'}, "add a token")
    repo.remove("leak.py")
    repo.commit(message="remove the token")
    return first


# ----------------------------------------------------------------------------------------------- acceptance
def test_a_token_added_then_removed_is_reported_with_its_commit(
    capsys: pytest.CaptureFixture[str], repo: GitRepo
) -> None:
    token = github_token()
    first = added_then_removed(repo, token)

    assert scan(capsys, repo)[0] == 0, "without --history the head is clean"
    code, doc = as_json(capsys, repo, "--history")
    assert code == 1
    (finding,) = doc["findings"]
    assert (finding["rule_id"], finding["severity"]) == ("secrets/github-token", "high")
    assert finding["path"] == "leak.py"
    assert (finding["line"], finding["file_level"]) == (0, True)
    assert finding["metadata"]["commit"] == first
    assert first[:12] in finding["message"]
    assert "removing the line does not remove it from history" in finding["message"]
    assert finding["remediation"].startswith("Rotate it: removing the line does not remove it from history.")

    code, text, err = scan(capsys, repo, "--history")
    assert code == 1, err
    assert "leak.py (whole file)  high      secrets/github-token" in text
    assert first[:12] in text
    code, sarif_out, _ = scan(capsys, repo, "--history", "--format", "sarif")
    assert code == 1
    sarif = json.loads(sarif_out)
    validate_sarif(sarif)
    (result,) = sarif["runs"][0]["results"]
    assert first[:12] in result["message"]["text"]
    assert "region" not in result["locations"][0]["physicalLocation"]
    for output in (json.dumps(doc), text, sarif_out):
        assert token not in output


def test_a_token_never_committed_is_not_a_history_finding(
    capsys: pytest.CaptureFixture[str], repo: GitRepo
) -> None:
    token = github_token()
    repo.commit({"other.py": "y = 2\n"}, "unrelated")
    repo.write("local.py", f'TOKEN = "{token}"\n')  # only in the working tree

    code, doc = as_json(capsys, repo, "--history")

    assert code == 1
    (finding,) = doc["findings"]
    assert (finding["path"], finding["line"]) == ("local.py", 1), "the head finding, once"
    assert "commit" not in finding["metadata"]


def test_a_token_the_base_already_had_is_not_reported(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    repo = GitRepo.init(tmp_path / "repo")
    token = github_token()
    repo.commit({"config.py": f'TOKEN = "{token}"\n'}, "base with a token")
    repo.branch("feature")
    repo.commit({"config.py": f'if True:\n    TOKEN = "{token}"\n'}, "re-indent it")  # an "added" line
    repo.commit({"config.py": f'TOKEN = "{token}"\n'}, "back")

    code, doc = as_json(capsys, repo, "--history")

    assert (code, doc["findings"]) == (0, [])


def test_a_token_still_in_the_head_is_reported_once(
    capsys: pytest.CaptureFixture[str], repo: GitRepo
) -> None:
    token = github_token()
    repo.commit({"keys.py": f'TOKEN = "{token}"\n'}, "add a token")
    repo.commit({"keys.py": f'# keys\nTOKEN = "{token}"\n', "b.py": "b = 1\n"}, "more")

    for mode in ((), ("--head", "HEAD")):
        code, doc = as_json(capsys, repo, "--history", *mode)
        assert code == 1
        assert [(f["path"], f["line"], "commit" in f["metadata"]) for f in doc["findings"]] == [
            ("keys.py", 2, False)
        ]


def test_the_same_token_in_two_commits_is_reported_once_naming_the_first(
    capsys: pytest.CaptureFixture[str], repo: GitRepo
) -> None:
    token = github_token()
    first = repo.commit({"a.py": f'T = "{token}"\n'}, "one")
    repo.commit({"a.py": "T = None\n", "b.py": f'T = "{token}"\n'}, "moved")
    repo.commit({"b.py": "T = None\n"}, "gone")

    code, doc = as_json(capsys, repo, "--history")

    assert code == 1
    assert [(f["path"], f["metadata"]["commit"]) for f in doc["findings"]] == [("a.py", first)]


def test_the_commit_cap_lists_the_rest_as_not_scanned(
    capsys: pytest.CaptureFixture[str], repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    shas = [repo.commit({f"f{i}.py": f"v = {i}\n"}, f"c{i}") for i in range(3)]
    shas.append(added_then_removed(repo, github_token()))  # commits 4 and 5: past a cap of 3

    code, doc = as_json(capsys, repo, "--history", "--max-commits", "3")
    assert (code, doc["findings"]) == (0, [])
    (note,) = doc["skipped"]
    assert note["path"] == "(2 more commits)"
    assert "at most 3 commits" in note["reason"] and shas[3][:12] in note["reason"]

    monkeypatch.setenv("PRGUARD_HISTORY_MAX_COMMITS", "3")
    assert as_json(capsys, repo, "--history")[1]["skipped"] == doc["skipped"]
    assert as_json(capsys, repo, "--history", "--max-commits", "5")[0] == 1, "the option wins"
    monkeypatch.setenv("PRGUARD_HISTORY_MAX_COMMITS", "lots")
    code, _, err = scan(capsys, repo, "--history")
    assert code == 2
    assert err == "prguard: PRGUARD_HISTORY_MAX_COMMITS must be a whole number of commits, not 'lots'\n"


def test_binary_and_oversize_blobs_a_commit_added_are_listed(
    capsys: pytest.CaptureFixture[str], repo: GitRepo
) -> None:
    # plainly binary (a NUL alone no longer makes text binary: tests/test_scan_defects.py)
    blob = bytes(range(256)) * 2 + github_token().encode()
    repo.commit({"blob.bin": blob, "big.txt": "x = 1\n" * 400}, "add")
    first = repo.head()
    repo.remove("blob.bin")
    repo.remove("big.txt")
    repo.commit(message="remove")

    code, doc = as_json(capsys, repo, "--history", "--max-file-size", "1000")

    assert (code, doc["findings"]) == (0, [])
    assert {(s["path"], s["reason"].split(";")[0]) for s in doc["skipped"]} == {
        ("blob.bin", "binary file"),
        ("big.txt", "larger than the 1000 bytes size cap (2.3 KiB)"),
    }
    assert all(f"added in commit {first[:12]}" in s["reason"] for s in doc["skipped"])


def test_staged_history_uses_the_default_branch_merge_base(
    capsys: pytest.CaptureFixture[str], repo: GitRepo
) -> None:
    first = added_then_removed(repo, github_token())
    repo.write("ok.py", "ok = 1\n")
    repo.add("ok.py")

    code, doc = as_json(capsys, repo, "--staged", "--history")

    assert code == 1
    assert [f["metadata"].get("commit") for f in doc["findings"]] == [first]


# ------------------------------------------------------------------------------------- the engine mechanism
def _finding(path: str, commit: str | None) -> Finding:
    meta = {"commit": commit} if commit else {}
    return Finding("w/x", Severity.HIGH, path, 0, "x", "x", f"fp-{path}", metadata=meta)


class _Reporter:
    """A check that reports fixed findings, to see what the engine keeps."""

    name = "reporter"
    title = "Reporter"

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings

    def applies_to(self, file: object) -> bool:
        return True

    def run(self, files: object, ctx: object) -> list[Finding]:
        return self.findings


def test_the_engine_keeps_findings_naming_a_commit_of_the_history_and_drops_the_rest() -> None:
    history = History(commits=[HistoryCommit("a" * 40, (CommitFile("gone.py", b"x\n", LineSet.whole(1)),))])
    check = _Reporter([_finding("gone.py", "a" * 40), _finding("other.py", "b" * 40),
                       _finding("nowhere.py", None)])

    kept = run_check(check, Change("base", "head", [], history=history)).findings
    assert [(f.path, f.metadata["commit"]) for f in kept] == [("gone.py", "a" * 40)]
    assert run_check(check, Change("base", "head", [])).findings == [], "no history: nothing names a commit"


def test_history_bytes_scanned_equal_bytes_added(repo: GitRepo) -> None:
    from checks.git_history import history_from_git

    base = repo.git("rev-parse", "main")
    added = b"".join(f"line {i} = {i}\n".encode() for i in range(50))
    for i in range(5):
        repo.commit({f"n{i}.py": added}, f"c{i}")
    history = history_from_git(str(repo.path), base, repo.head())

    run_check(SecretsCheck(), Change(base, repo.head(), [], history=history))

    assert history.added_bytes == 5 * len(added)
    assert history.scanned_bytes == history.added_bytes


# -------------------------------------------------------------------------------------------- pre-push hook
def test_the_pre_push_hook_blocks_a_push_whose_commits_added_a_token(tmp_path: Path, repo: GitRepo) -> None:
    """The `prguard-history` entry of .pre-commit-hooks.yaml as a plain git pre-push hook, on `git push`."""
    hooks = {h["id"]: h for h in yaml.safe_load((PROJECT / ".pre-commit-hooks.yaml").read_text())}
    hook = hooks["prguard-history"]
    assert (hook["entry"], hook["stages"], hook["pass_filenames"]) == (
        "prguard scan --history --head HEAD", ["pre-push"], False)
    remote = GitRepo(tmp_path / "remote.git")
    remote.path.mkdir()
    remote.git("init", "--quiet", "--bare")
    repo.git("remote", "add", "origin", str(remote.path))
    repo.git("push", "--quiet", "origin", "main")
    command, env = prguard_command()
    script = repo.path / ".git" / "hooks" / "pre-push"
    pythonpath = f"PYTHONPATH={shlex.quote(env['PYTHONPATH'])} " if "PYTHONPATH" in env else ""
    entry = [*command, *shlex.split(hook["entry"])[1:]]
    script.write_text(f"#!/bin/sh\n{pythonpath}exec {shlex.join(entry)}\n")
    script.chmod(0o755)

    repo.commit({"clean.py": "x = 1\n"}, "clean")
    assert repo.run_git("push", "--quiet", "origin", "feature").returncode == 0
    added_then_removed(repo, github_token())
    blocked = repo.run_git("push", "--quiet", "origin", "feature")
    assert blocked.returncode != 0
    assert b"secrets/github-token" in blocked.stdout + blocked.stderr
