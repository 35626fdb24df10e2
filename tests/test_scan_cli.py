"""`prguard scan` end to end: real git repositories, the real CLI (in-process and as a subprocess).

Engine-facing behaviour is tested with `ForbiddenCheck`, a small check of our own that implements the Check
protocol (it flags lines holding FORBIDDEN or DISCOURAGED); the acceptance test at the end runs the real
secrets check on generated keys.
"""

from __future__ import annotations

import json
import os
import pty
import select
import shlex
import string
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli.main import main
from checks import registry
from checks.change import ChangedFile
from checks.context import CheckContext
from checks.finding import Finding, Severity, make_fingerprint
from checks.secrets.rules import RULES
from tests.gitrepo import GitRepo
from tests.scanning import scan, scan_json
from tests.secrets_keys import github_token, pick, private_key_pem, rand
from tests.test_formats import validate_sarif

PROJECT = Path(__file__).resolve().parents[1]
WORDS = {"FORBIDDEN": Severity.HIGH, "DISCOURAGED": Severity.LOW}


class ForbiddenCheck:
    """Flags FORBIDDEN (high) and DISCOURAGED (low) on any line of a text file."""

    name = "forbidden"
    title = "Forbidden words"

    def applies_to(self, file: ChangedFile) -> bool:
        return not file.is_binary

    def run(self, files: Sequence[ChangedFile], ctx: CheckContext) -> Iterator[Finding]:
        for file in files:
            for number, line in enumerate((file.head_text() or "").splitlines(), start=1):
                for word, severity in WORDS.items():
                    if word in line:
                        yield Finding(
                            rule_id=f"forbidden/{word.lower()}",
                            severity=severity,
                            path=file.path,
                            line=number,
                            title=f"{word.title()} word",
                            message=f"The line holds {word}.",
                            fingerprint=make_fingerprint(f"forbidden/{word.lower()}", file.path, line),
                            remediation="Remove the word.",
                        )


class BrokenCheck:
    name = "broken"
    title = "Broken"

    def applies_to(self, file: ChangedFile) -> bool:
        return True

    def run(self, files: Sequence[ChangedFile], ctx: CheckContext) -> Iterator[Finding]:
        raise RuntimeError("boom")


@pytest.fixture
def only_forbidden(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make our test check the only registered one (plus one announced but not built)."""
    monkeypatch.setattr(registry, "REGISTRY", {"forbidden": ForbiddenCheck, "later": None})


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return GitRepo.on_feature_branch(
        tmp_path / "repo", {"app.py": "print('FORBIDDEN already on main')\nok = 1\n"})


def as_json(capsys: pytest.CaptureFixture[str], repo: GitRepo, *args: str) -> tuple[int, dict[str, Any]]:
    code, doc, _ = scan_json(capsys, repo, *args)
    return code, doc


@pytest.mark.usefixtures("only_forbidden")
def test_clean_change_exits_0(capsys: pytest.CaptureFixture[str], repo: GitRepo) -> None:
    repo.commit({"clean.py": "x = 1\n"}, "clean")

    code, out, err = scan(capsys, repo)

    assert code == 0, err
    assert out.startswith("No findings · 1 file scanned")
    assert "not available yet: later" in out
    assert err == ""


@pytest.mark.usefixtures("only_forbidden")
def test_only_lines_the_branch_added_are_reported(capsys: pytest.CaptureFixture[str], repo: GitRepo) -> None:
    repo.commit({"app.py": "print('FORBIDDEN already on main')\nok = 1\nnew = 'FORBIDDEN'\n"}, "add one")

    code, out, _ = scan(capsys, repo)

    assert code == 1
    lines = out.splitlines()
    assert lines[0] == "app.py"
    assert lines[1].split() == ["app.py:3", "high", "forbidden/forbidden", "Forbidden", "word"]
    assert ":1 " not in out
    assert "1 finding (1 high), 1 blocking" in out


@pytest.mark.usefixtures("only_forbidden")
def test_scan_from_a_subdirectory_reports_repository_paths(
    capsys: pytest.CaptureFixture[str], repo: GitRepo
) -> None:
    repo.commit({"src/pkg/mod.py": "FORBIDDEN\n", "top.py": "FORBIDDEN\n"}, "two")

    code, doc = as_json(capsys, repo, "--fail-on", "high")
    code_sub = main(["scan", str(repo.path / "src" / "pkg"), "--format", "json"])
    doc_sub = json.loads(capsys.readouterr().out)

    assert code == code_sub == 1
    assert (
        [f["path"] for f in doc_sub["findings"]]
        == [f["path"] for f in doc["findings"]]
        == [
            "src/pkg/mod.py",
            "top.py",
        ]
    )


@pytest.mark.usefixtures("only_forbidden")
def test_fail_on_threshold(capsys: pytest.CaptureFixture[str], repo: GitRepo) -> None:
    repo.write("notes.md", "this is DISCOURAGED\n")  # low, uncommitted and untracked

    assert scan(capsys, repo)[0] == 0
    assert scan(capsys, repo, "--fail-on", "low")[0] == 1
    repo.write("more.md", "FORBIDDEN\n")
    assert scan(capsys, repo)[0] == 1
    assert scan(capsys, repo, "--fail-on", "critical")[0] == 0


@pytest.mark.usefixtures("only_forbidden")
def test_staged_scans_only_the_index(capsys: pytest.CaptureFixture[str], repo: GitRepo) -> None:
    repo.write("staged.py", "FORBIDDEN = 1\n")
    repo.add("staged.py")
    repo.write("unstaged.py", "FORBIDDEN = 2\n")

    code, doc = as_json(capsys, repo, "--staged")

    assert code == 1
    assert doc["head"] == "index" and doc["base"] == repo.head()
    assert [(f["path"], f["line"]) for f in doc["findings"]] == [("staged.py", 1)]
    repo.git("reset", "--quiet")
    assert as_json(capsys, repo, "--staged")[0] == 0


@pytest.mark.usefixtures("only_forbidden")
def test_json_to_output_file(capsys: pytest.CaptureFixture[str], repo: GitRepo, tmp_path: Path) -> None:
    head = repo.commit({"a.py": "FORBIDDEN\n", "b.bin": b"\x00" * 10}, "two files")
    repo.write("big.txt", "x" * 5000)
    target = tmp_path / "report.json"

    code, out, err = scan(
        capsys, repo, "--format", "json", "--output", str(target), "--max-file-size", "4096"
    )

    assert code == 1
    assert out == ""
    assert err == f"prguard: 1 finding (1 blocking) written to {target}\n"
    doc = json.loads(target.read_text())
    assert list(doc) == ["version", "base", "head", "findings", "skipped", "errors"]
    assert doc["version"] == 1 and doc["head"] == "worktree"
    assert doc["base"] == repo.git("rev-parse", "main") != head
    assert doc["findings"][0]["rule_id"] == "forbidden/forbidden"
    assert doc["findings"][0]["severity"] == "high"
    assert doc["skipped"] == [{"path": "big.txt", "reason": "larger than the 4 KiB size cap (4.9 KiB)"}]
    assert doc["errors"] == []


@pytest.mark.usefixtures("only_forbidden")
def test_committed_range_with_head(capsys: pytest.CaptureFixture[str], repo: GitRepo) -> None:
    head = repo.commit({"a.py": "FORBIDDEN\n"}, "committed")
    repo.write("uncommitted.py", "FORBIDDEN\n")

    code, doc = as_json(capsys, repo, "--head", "HEAD")

    assert code == 1
    assert doc["head"] == head
    assert [f["path"] for f in doc["findings"]] == ["a.py"]


@pytest.mark.usefixtures("only_forbidden")
def test_sarif_from_the_cli_validates(capsys: pytest.CaptureFixture[str], repo: GitRepo) -> None:
    repo.commit({"dir with space/a.py": "FORBIDDEN\nDISCOURAGED\n"}, "two findings")

    code, out, _ = scan(capsys, repo, "--format", "sarif")

    assert code == 1
    doc = json.loads(out)
    validate_sarif(doc)
    run = doc["runs"][0]
    assert [r["ruleId"] for r in run["results"]] == ["forbidden/forbidden", "forbidden/discouraged"]
    uri = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "dir%20with%20space/a.py"
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == repo.path.resolve().as_uri() + "/"
    assert run["invocations"][0]["executionSuccessful"] is True


def test_a_check_that_errors_fails_loudly(
    capsys: pytest.CaptureFixture[str], repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry, "REGISTRY", {"forbidden": ForbiddenCheck, "broken": BrokenCheck})
    repo.commit({"a.py": "fine\n"}, "fine")

    code, doc = as_json(capsys, repo)
    _, _, err = scan(capsys, repo)

    assert code == 2
    assert doc["errors"] == [{"check": "broken", "message": "RuntimeError: boom"}]
    assert err == "prguard: check broken did not finish: RuntimeError: boom\n"
    code, out, _ = scan(capsys, repo, "--format", "sarif")
    assert code == 2
    assert json.loads(out)["runs"][0]["invocations"][0]["executionSuccessful"] is False


def test_repository_errors_exit_2_with_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    empty = GitRepo.init(tmp_path / "empty")
    trunk = GitRepo.init(tmp_path / "trunk", branch="trunk")
    trunk.commit({"a": "a\n"}, "first")
    cases = [
        ([str(plain)], "not a git repository"),
        ([str(empty.path)], "no commits yet"),
        ([str(trunk.path)], "no default branch"),
        ([str(trunk.path), "--base", "nope"], "unknown revision 'nope'"),
    ]
    for args, reason in cases:
        code = main(["scan", *args])
        out, err = capsys.readouterr()
        assert code == 2, args
        assert out == ""
        assert err.startswith("prguard: ") and reason in err and err.count("\n") == 1, err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], repo: GitRepo) -> None:
    for args in (
        ["--fail-on", "severe"],
        ["--format", "xml"],
        ["--max-file-size", "0"],
        ["--timeout", "0"],
        ["--timeout", "soon"],
        ["--staged", "--head", "x"],
    ):
        with pytest.raises(SystemExit) as exc:
            main(["scan", str(repo.path), *args])
        assert exc.value.code == 2
        assert "error:" in capsys.readouterr().err


@pytest.mark.usefixtures("only_forbidden")
def test_policy_comes_from_the_base_branch(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    repo = GitRepo.on_feature_branch(
        tmp_path / "repo", {".github/prguard.yml": "ignore_paths:\n  - vendor/**\n"}, "policy")
    repo.commit({"vendor/lib.py": "FORBIDDEN\n"}, "vendored")
    assert scan(capsys, repo)[0] == 0  # ignored by the base policy
    # a branch that rewrites the policy to ignore everything does not get its way
    repo.commit({".github/prguard.yml": "ignore_paths:\n  - '**'\n", "src/app.py": "FORBIDDEN\n"}, "sneaky")

    code, doc = as_json(capsys, repo)

    assert code == 1
    assert [f["path"] for f in doc["findings"]] == ["src/app.py"]


@pytest.mark.usefixtures("only_forbidden")
def test_invalid_base_policy_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    repo = GitRepo.on_feature_branch(
        tmp_path / "repo", {".github/prguard.yml": "fail_on: high\nfial_on: low\n"}, "typo in policy")

    code, out, err = scan(capsys, repo)

    assert code == 2 and out == ""
    assert err.startswith("prguard: .github/prguard.yml line 2: ") and "fial_on" in err
    assert err.count("\n") == 1


def test_per_check_policy_with_the_real_secrets_check(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    repo = GitRepo.on_feature_branch(
        tmp_path / "repo", {".github/prguard.yml": "checks:\n  secrets:\n    fail_on: critical\n"}, "policy")
    repo.commit({"config.py": f'GITHUB_TOKEN = "{github_token()}"\n'}, "a token")

    code, doc = as_json(capsys, repo)
    assert code == 0  # high finding, below this repository's threshold for secrets
    assert [f["rule_id"] for f in doc["findings"]] == ["secrets/github-token"]
    assert as_json(capsys, repo, "--fail-on", "high")[0] == 1  # the command line overrides the policy

    repo.switch("main")
    repo.commit({".github/prguard.yml": "checks:\n  secrets: false\n"}, "secrets off")
    repo.switch("feature")
    repo.git("rebase", "--quiet", "main")
    code, out, _ = scan(capsys, repo)
    assert code == 0
    assert "disabled by policy: secrets" in out


# ------------------------------------------------------------------------------- subprocess and terminals


def prguard_command() -> tuple[list[str], dict[str, str]]:
    """The installed `prguard` script when there is one, else `python -m bot.cli.main` from this checkout."""
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    script = Path(sys.executable).with_name("prguard")
    if script.exists():
        return [str(script)], env
    env["PYTHONPATH"] = str(PROJECT)
    return [sys.executable, "-m", "bot.cli.main"], env


def test_subprocess_piped_output_is_plain_and_tty_output_is_coloured(repo: GitRepo) -> None:
    repo.commit({"config.py": f'token = "{github_token()}"\n'}, "a token")
    command, env = prguard_command()
    args = [*command, "scan", str(repo.path)]

    piped = subprocess.run(args, capture_output=True, env=env, timeout=120, check=False)
    assert piped.returncode == 1, piped.stderr
    assert b"\x1b[" not in piped.stdout
    assert b"config.py:1  high" in piped.stdout
    assert piped.stderr == b""

    assert b"\x1b[31mhigh" in run_in_terminal(args, env)
    assert b"\x1b[" not in run_in_terminal(args, {**env, "NO_COLOR": "1"})


def run_in_terminal(args: list[str], env: dict[str, str]) -> bytes:
    """Run `args` with a pseudo-terminal as stdout (what a developer's shell gives it); return its output."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(args, stdout=follower, stderr=subprocess.PIPE, env={**env, "TERM": "xterm"})
        os.close(follower)
        chunks = []
        deadline = time.monotonic() + 60
        while True:
            ready, _, _ = select.select([leader], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                proc.kill()
                raise AssertionError(f"{args} wrote nothing more for 60 s: {b''.join(chunks)[-500:]!r}")
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        proc.wait(timeout=60)
        assert proc.stderr is not None
        proc.stderr.close()
        return b"".join(chunks)
    finally:
        os.close(leader)


def test_subprocess_not_a_repository(tmp_path: Path) -> None:
    command, env = prguard_command()

    proc = subprocess.run(
        [*command, "scan", str(tmp_path)], capture_output=True, env=env, timeout=120, check=False
    )

    assert proc.returncode == 2
    assert proc.stdout == b""
    assert proc.stderr.decode() == f"prguard: {tmp_path}: not a git repository (or a bare one)\n"


def test_pre_commit_hook_blocks_a_commit_that_adds_a_token(repo: GitRepo) -> None:
    """The hook's entry from .pre-commit-hooks.yaml, installed as a plain git hook, on real `git commit`s."""
    hook = next(h for h in yaml.safe_load((PROJECT / ".pre-commit-hooks.yaml").read_text())
                if h["id"] == "prguard")
    assert (hook["id"], hook["language"], hook["pass_filenames"]) == ("prguard", "python", False)
    assert hook["entry"] == "prguard scan --staged"
    command, env = prguard_command()
    entry = [*command, *shlex.split(hook["entry"])[1:]]
    script = repo.path / ".git" / "hooks" / "pre-commit"
    pythonpath = f"PYTHONPATH={shlex.quote(env['PYTHONPATH'])} " if "PYTHONPATH" in env else ""
    script.write_text(f"#!/bin/sh\n{pythonpath}exec {shlex.join(entry)}\n")
    script.chmod(0o755)
    before = repo.head()

    repo.write("config.py", f'TOKEN = "{github_token()}"\n')
    repo.add("config.py")
    blocked = repo.run_git("commit", "-m", "add a token")
    assert blocked.returncode != 0
    assert b"secrets/github-token" in blocked.stdout + blocked.stderr
    assert repo.head() == before

    repo.git("rm", "--quiet", "--cached", "config.py")
    repo.write("clean.py", "x = 1\n")
    repo.add("clean.py")
    assert repo.run_git("commit", "-m", "clean").returncode == 0
    # `git commit -a` stages through a temporary index (GIT_INDEX_FILE): the hook must see it too
    repo.write("clean.py", f'x = 1\nTOKEN = "{github_token()}"\n')
    assert repo.run_git("commit", "-a", "-m", "sneak a token in").returncode != 0


# ----------------------------------------------------------------------------- the acceptance test


def _random(alphabet: str, length: int) -> str:
    return pick(length, alphabet)


_ALNUM = string.ascii_letters + string.digits
_URLSAFE = _ALNUM + "_-"



def aws_secret_access_key() -> str:
    """40 random base64 characters with at least one digit.

    The secrets check wants a digit in a format-exact value (its filter against word-like fillers); about
    1 random 40-character value in 1,000 has none and is not reported. Requiring a digit keeps this test
    deterministic; that rare miss belongs to the secrets check's own tests.
    """
    return rand(40, _ALNUM + "/+")


def generated_keys() -> dict[str, str]:
    """Fresh keys in each provider's real format (never a real key), keyed by the rule that must find them."""
    pem = private_key_pem(2048, traditional=True)
    return {
        "secrets/openai-project-key": "sk-proj-" + _random(_URLSAFE, 74) + "T3BlbkFJ" + _random(_URLSAFE, 74),
        "secrets/anthropic-api-key": "sk-ant-api03-" + _random(_URLSAFE, 93) + "AA",
        "secrets/huggingface-token": "hf_" + _random(string.ascii_letters, 34),
        "secrets/aws-access-key-id": "AKIA" + _random(string.ascii_uppercase + "234567", 16),
        "secrets/aws-secret-access-key": aws_secret_access_key(),
        "secrets/github-token": github_token(),
        "secrets/private-key": pem,
    }


def test_acceptance_generated_keys_found_once_placeholders_ignored_nothing_leaks(
    capsys: pytest.CaptureFixture[str], repo: GitRepo
) -> None:
    keys = generated_keys()
    assert set(keys) <= set(RULES), "the secrets check no longer has one of the rules this test expects"
    source = f'''import anthropic
from openai import OpenAI

client = OpenAI(api_key="{keys["secrets/openai-project-key"]}")
claude = anthropic.Anthropic(api_key="{keys["secrets/anthropic-api-key"]}")
HF_TOKEN = "{keys["secrets/huggingface-token"]}"
aws_access_key_id = "{keys["secrets/aws-access-key-id"]}"
aws_secret_access_key = "{keys["secrets/aws-secret-access-key"]}"
GITHUB_TOKEN = "{keys["secrets/github-token"]}"
DEPLOY_KEY = """{keys["secrets/private-key"]}"""
'''
    placeholders = """# Placeholders and documentation examples: none of these is a credential
OPENAI_API_KEY = "sk-xxxx"
ANTHROPIC_API_KEY = "YOUR_API_KEY"
openai_key = "<OPENAI_API_KEY>"
client = OpenAI(api_key="sk-proj-...")
HF_TOKEN = "hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
GITHUB_TOKEN = "ghp_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
"""
    repo.commit({"src/settings.py": source, "docs/placeholders.py": placeholders}, "add settings")

    outputs = []
    for fmt in ("json", "text", "sarif"):
        code, out, err = scan(capsys, repo, "--format", fmt)
        assert code == 1, err
        outputs.append(out + err)
        if fmt == "json":
            doc = json.loads(out)

    assert doc["errors"] == []
    rules = Counter(f["rule_id"] for f in doc["findings"])
    found = sorted((f["path"], f["line"], f["rule_id"]) for f in doc["findings"])
    assert rules == Counter(list(keys)), found  # each key exactly once, under its own rule
    assert {f["path"] for f in doc["findings"]} == {"src/settings.py"}  # placeholders produce nothing
    source_lines = source.splitlines()
    expected_lines = {
        rule: next(n for n, line in enumerate(source_lines, 1) if key.splitlines()[0] in line)
        for rule, key in keys.items()
    }
    assert {f["rule_id"]: f["line"] for f in doc["findings"]} == expected_lines
    sensitive = [k for k in keys.values() if "\n" not in k]
    pem_body = [ln for ln in keys["secrets/private-key"].splitlines() if len(ln) >= 16 and "-----" not in ln]
    for text in outputs:
        for value in sensitive + pem_body:
            assert value not in text
