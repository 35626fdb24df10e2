"""`prguard scan` attacked from outside (issue 11, part 1): each test failed before its fix.

Real git repositories and the real secrets check; keys are generated (tests/secrets_keys.py). Sections 3
(contents that looked binary) and 4 (keys as file names) are in tests/test_scan_defects_files.py.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bot.cli.main import main
from bot.github import pulls
from bot.github.pulls import PullContext, base_policy
from checks import git_run
from checks.policy import PolicyError
from tests.github_double import GitHubDouble
from tests.github_double.testing import SAMPLE_REPO, sample_pr
from tests.github_double.testing import installation_client as installation
from tests.gitrepo import GitRepo
from tests.scanning import scan_json
from tests.secrets_keys import TOKEN, rand
from tests.secrets_keys import github_token as ghp

DISABLE = "checks:\n  secrets: false\n"
Cap = pytest.CaptureFixture[str]


def openai_key() -> str:
    return f"sk-proj-{rand(74, TOKEN)}T3BlbkFJ{rand(74, TOKEN)}"



def _strict_repo(tmp_path: Path, policy: str = "fail_on_unscanned: true\n") -> GitRepo:
    return GitRepo.on_feature_branch(tmp_path / "repo", {".github/prguard.yml": policy}, "strict policy")


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return GitRepo.on_feature_branch(tmp_path / "repo", {"README.md": "hello\n"})


# --- 1. --staged reads the policy from the base, not from HEAD --------------------------------------------


def test_staged_ignores_a_policy_the_branch_committed(capsys: Cap, repo: GitRepo) -> None:
    repo.commit({".github/prguard.yml": DISABLE}, "switch the hook off")
    key = openai_key()
    repo.write("app.py", f'KEY = "{key}"\n')
    repo.add("app.py")

    code, doc, err = scan_json(capsys, repo, "--staged")

    assert code == 1, err
    assert [f["rule_id"] for f in doc["findings"]] == ["secrets/openai-project-key"]


def test_staged_uses_the_default_branch_policy(capsys: Cap, tmp_path: Path) -> None:
    repo = GitRepo.on_feature_branch(
        tmp_path / "repo", {".github/prguard.yml": "ignore_paths: ['vendor/**']\n"}, "policy on main")
    repo.commit({".github/prguard.yml": "ignore_paths: ['**']\n"}, "ignore everything")
    repo.write("vendor/lib.py", f'KEY = "{openai_key()}"\n')
    repo.write("app.py", f'KEY = "{openai_key()}"\n')
    repo.add()

    code, doc, _ = scan_json(capsys, repo, "--staged")

    assert code == 1
    assert [f["path"] for f in doc["findings"]] == ["app.py"]


def test_staged_first_commit_uses_defaults_not_the_staged_policy(capsys: Cap, tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "repo")
    repo.write(".github/prguard.yml", DISABLE)
    repo.write("app.py", f'KEY = "{openai_key()}"\n')
    repo.add()

    code, doc, err = scan_json(capsys, repo, "--staged")

    assert code == 1, err
    assert [f["path"] for f in doc["findings"]] == ["app.py"]


def test_staged_on_the_default_branch_uses_its_policy(capsys: Cap, tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "repo")
    repo.commit({".github/prguard.yml": "ignore_paths: ['fixtures/**']\n"}, "first commit")
    repo.write("fixtures/key.py", f'KEY = "{openai_key()}"\n')
    repo.add()

    code, doc, err = scan_json(capsys, repo, "--staged")

    assert (code, doc["findings"]) == (0, []), err


def test_staged_without_a_default_branch(capsys: Cap, tmp_path: Path) -> None:
    """The only branch is the default in all but name; once another branch exists, --base must say which."""
    repo = GitRepo.init(tmp_path / "repo", branch="trunk")
    repo.commit({".github/prguard.yml": "ignore_paths: ['fixtures/**']\n"}, "first commit")
    repo.write("fixtures/key.py", f'KEY = "{openai_key()}"\n')
    repo.add()
    assert scan_json(capsys, repo, "--staged")[0] == 0

    repo.git("branch", "other")
    code, _, err = scan_json(capsys, repo, "--staged")
    assert code == 2
    assert "--base" in err and len(err.strip().splitlines()) == 1
    assert scan_json(capsys, repo, "--staged", "--base", "trunk")[0] == 0


# --- 2. every malformed policy is a PolicyError; a huge one is refused unread -----------------------------


@pytest.mark.parametrize(
    "policy",
    [
        b"fail_on: high\x01\n",
        b"fail_on: high\n\x00",
        b"ignore_paths: ['\x07']\n",
        b"fail_on: \xff\n",
        b"checks:\n\tsecrets: false\n",
        b"\x85",
        b"fail_on: high\x1b[2K\n",
    ],
)
def test_a_malformed_base_policy_exits_2_with_one_line(capsys: Cap, tmp_path: Path, policy: bytes) -> None:
    repo = GitRepo.on_feature_branch(tmp_path / "repo", {".github/prguard.yml": policy}, "broken policy")
    repo.commit({"app.py": "x = 1\n"}, "change")

    code = main(["scan", str(repo.path), "--format", "json"])
    out, err = capsys.readouterr()

    assert code == 2
    assert out == ""
    assert err.startswith("prguard: .github/prguard.yml") and len(err.splitlines()) == 1


def test_a_huge_base_policy_is_refused_without_reading_it(
    capsys: Cap, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = GitRepo.on_feature_branch(
        tmp_path / "repo", {".github/prguard.yml": b"# pad\n" * 200_000}, "1.2 MB policy")
    repo.commit({"app.py": "x = 1\n"}, "change")
    calls: list[tuple[str, ...]] = []
    real = git_run.git

    def spy(root: str, *args: str, stdin: bytes | None = None) -> bytes:
        calls.append(args)
        return real(root, *args, stdin=stdin)

    monkeypatch.setattr(git_run, "git", spy)
    code = main(["scan", str(repo.path)])
    _, err = capsys.readouterr()

    assert code == 2
    assert "policy too large: 1200000 bytes" in err
    assert [c for c in calls if c[:2] == ("cat-file", "-s")]  # the spy does see the policy being sized
    assert not [c for c in calls if c[:2] == ("cat-file", "blob")]


# --- 2, in the App: the same errors are PolicyErrors (a failed run), and size is checked first ------------


def _pull(pr: Any) -> PullContext:
    return PullContext(number=pr.number, head_sha=pr.head_sha, base_sha=pr.base_sha, base_ref="main",
                       html_url="https://github.invalid/octo/repo", changed_files=1)  # fmt: skip


async def test_app_a_control_character_in_the_base_policy_is_a_policy_error(
    github_double: GitHubDouble,
) -> None:
    inst_id, pr = sample_pr(github_double)
    github_double.set_content(SAMPLE_REPO, ".github/prguard.yml", b"fail_on: high\x01\n", ref="main")
    async with installation(github_double, inst_id) as gh:
        with pytest.raises(PolicyError, match="control character U\\+0001"):
            await base_policy(gh, "octo", "repo", _pull(pr))


async def test_app_a_huge_base_policy_is_refused_from_its_size(
    github_double: GitHubDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    inst_id, pr = sample_pr(github_double)
    github_double.set_content(SAMPLE_REPO, ".github/prguard.yml", b"# pad\n" * 200_000, ref="main")

    def never(text: object) -> None:
        raise AssertionError(f"{len(text) if isinstance(text, bytes) else text!r} bytes were downloaded")

    monkeypatch.setattr(pulls, "parse_policy", never)
    async with installation(github_double, inst_id) as gh:
        with pytest.raises(PolicyError, match="policy too large: 1200000 bytes"):
            await base_policy(gh, "octo", "repo", _pull(pr))
    # one metadata request, never the raw download
    assert len(github_double.requests(method="GET", path_regex=r"/contents/")) == 1


async def test_app_a_small_base_policy_still_applies(github_double: GitHubDouble) -> None:
    inst_id, pr = sample_pr(github_double)
    github_double.set_content(SAMPLE_REPO, ".github/prguard.yml", DISABLE, ref="main")
    async with installation(github_double, inst_id) as gh:
        policy, source = await base_policy(gh, "octo", "repo", _pull(pr))
    assert not policy.enabled("secrets") and "on `main`" in source


# --- 5. lossless JSON paths, unreadable untracked directories, errors in the user's terms ----------------


def test_json_writes_a_non_utf8_file_name_losslessly(
    capsysbinary: pytest.CaptureFixture[bytes], repo: GitRepo
) -> None:
    (repo.path / os.fsdecode(b"caf\xe9.py")).write_text(f'T = "{ghp()}"\n')
    (repo.path / os.fsdecode(b"big\xff.txt")).write_bytes(b"x" * 5000)

    code = main(["scan", str(repo.path), "--format", "json", "--max-file-size", "4096"])
    raw = capsysbinary.readouterr().out

    assert code == 1
    text = raw.decode("utf-8")  # strict: the document is valid UTF-8
    assert "\\udc" not in text  # no lone surrogates for strict parsers to choke on
    doc = json.loads(text)
    assert [(f["path"], f["uri"]) for f in doc["findings"]] == [("caf\\xe9.py", "caf%E9.py")]
    assert doc["skipped"][0]["path"] == "big\\xff.txt" and doc["skipped"][0]["uri"] == "big%FF.txt"


def test_an_untracked_directory_git_cannot_open_is_listed_as_not_scanned(
    capsys: Cap, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """git only warns about a directory it cannot open (EACCES) and leaves its files out of the listing."""
    repo = _strict_repo(tmp_path)
    repo.write("private/key.py", f'T = "{ghp()}"\n')
    real = subprocess.run

    def unreadable(cmd: list[str], *args: Any, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        proc = real(cmd, *args, **kwargs)
        if "ls-files" in cmd and "--others" in cmd:
            kept = [n for n in proc.stdout.split(b"\0") if n and not n.startswith(b"private/")]
            warning = b"warning: could not open directory 'private/': Permission denied\n"
            return subprocess.CompletedProcess(cmd, 0, b"".join(n + b"\0" for n in kept), warning)
        return proc

    monkeypatch.setattr(subprocess, "run", unreadable)
    code, doc, _ = scan_json(capsys, repo)

    assert code == 1  # fail_on_unscanned: true on the base
    assert doc["skipped"] == [
        {"path": "private", "reason": "could not be read: git cannot open this directory", "blocking": True}
    ]


def test_errors_name_the_users_mistake(capsys: Cap, repo: GitRepo) -> None:
    assert git_run._subcommand(["-c", "a=b", "-c", "c=d", "diff", "--raw"]) == "diff"
    for args, message in (
        (["--base", ""], "prguard: --base needs a branch, tag or commit, not an empty string\n"),
        (["--head", " "], "prguard: --head needs a branch, tag or commit, not an empty string\n"),
    ):
        code = main(["scan", str(repo.path), *args])
        assert (code, capsys.readouterr().err) == (2, message)
    repo.write("file.txt", "x\n")
    code = main(["scan", str(repo.path / "file.txt")])
    assert code == 2
    assert capsys.readouterr().err.endswith(
        "file.txt is a file: give a directory of the repository (default: .)\n"
    )
