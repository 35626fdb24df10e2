"""The secrets check as a user sees it: what it reports on added lines, once, redacted, with its rule."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from checks.change import Change, ChangedFile, FileStatus, LineSet
from checks.engine import run_check
from checks.finding import Finding, Severity, Skipped
from checks.git_change import change_from_git
from checks.secrets import SecretsCheck
from checks.secrets.check import secret_fingerprint
from checks.secrets.rules import RULES
from tests.secrets_keys import CASES, NEGATIVES, private_key_pem, rand, seed_note, truncated


def changed(path: str, text: str, added: LineSet | None = None) -> ChangedFile:
    data = text.encode()
    lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    return ChangedFile(
        path=path,
        status=FileStatus.ADDED,
        added_lines=added if added is not None else LineSet.whole(lines),
        size=len(data),
        head_loader=lambda: data,
    )


def scan(text: str, path: str = "app/settings.py", added: LineSet | None = None) -> list[Finding]:
    result = run_check(SecretsCheck(), Change("base", "head", [changed(path, text, added)]))
    assert result.error is None, result.error
    return result.findings


def assert_redacted(findings: list[Finding], secrets: list[str]) -> None:
    for f in findings:
        blob = "\n".join([f.title, f.message, f.remediation, repr(f), str(f), repr(f.to_dict())])
        for s in secrets:
            assert s not in blob
            assert s[:8] not in blob or len(s) <= 8


@pytest.mark.parametrize("case", CASES, ids=[f"{c.rule_id.split('/')[1]}-{i}" for i, c in enumerate(CASES)])
def test_each_detector_finds_a_generated_key_once_with_its_rule(case):
    key, line = case.line()
    findings = scan(f"import os\n\n{line}\n")
    assert [(f.rule_id, f.line) for f in findings] == [(case.rule_id, 3)], seed_note()
    f = findings[0]
    rule = RULES[case.rule_id]
    assert f.check == "secrets" and f.severity is rule.severity and f.severity.at_least(Severity.HIGH)
    assert f.fingerprint == secret_fingerprint(case.rule_id, "app/settings.py", key)
    assert "CWE-798" in f.metadata["cwe"]
    if rule.llm:
        assert "LLM02:2025" in f.metadata["owasp"]
    assert key[:4] in f.message and f"({len(key)} chars)" in f.message
    assert "Revoke or rotate" in f.remediation and "pragma: allowlist secret" in f.remediation
    assert_redacted(findings, [key])


@pytest.mark.parametrize("line", NEGATIVES)
@pytest.mark.parametrize("path", ["app/settings.py", "deploy/.env", "config/app.yaml", "web/app.js"])
def test_placeholders_and_documentation_examples_produce_nothing(line, path):
    assert scan(f"{line}\n", path) == []


@pytest.mark.parametrize("case", CASES[:30], ids=[c.rule_id.split("/")[1] for c in CASES[:30]])
def test_truncated_keys_produce_nothing(case):
    findings = scan(truncated(case) + "\n")
    assert [f for f in findings if f.severity.at_least(Severity.HIGH)] == [], seed_note()


def test_wrong_length_and_filler_keys_produce_nothing():
    lines = [
        f'k = "sk-ant-api03-{rand(60)}AA"',
        f'k = "gsk_{rand(40)}"',
        f'k = "hf_{rand(20)}"',
        f'k = "pplx-{rand(30)}"',
        'k = "sk-proj-' + "abc123" * 12 + "T3BlbkFJ" + "abc123" * 12 + '"',
    ]
    found = scan("\n".join(lines) + "\n")
    assert [f for f in found if f.severity.at_least(Severity.MEDIUM)] == [], seed_note()


def test_openai_client_call_is_not_silenced_by_the_indirect_reference_filter():
    key = f"sk-proj-{rand(74)}T3BlbkFJ{rand(74)}"
    findings = scan(f'from openai import OpenAI\nclient = OpenAI(api_key="{key}")\n')
    assert [(f.rule_id, f.line) for f in findings] == [("secrets/openai-project-key", 2)]


def test_one_finding_per_span_most_specific_rule_wins():
    key = f"sk-ant-api03-{rand(93)}AA"
    # keyword ("api_key"), base64 entropy and the Anthropic detector all match this value
    findings = scan(f'ANTHROPIC_API_KEY = "{key}"\napi_key: "{key}"\n', "config/app.yaml")
    assert [(f.rule_id, f.line) for f in findings] == [
        ("secrets/anthropic-api-key", 1),
        ("secrets/anthropic-api-key", 2),
    ]
    assert len({f.fingerprint for f in findings}) == 1  # same secret, same file: one fingerprint


def test_aws_key_pair_github_token_and_pem_each_listed_once():
    akid = "AKIA" + rand(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    secret = rand(40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+")
    ghp = "ghp_" + rand(36)
    pem = private_key_pem()
    text = (
        "import boto3\n"
        f'session = boto3.Session(aws_access_key_id="{akid}", aws_secret_access_key="{secret}")\n'
        f'GITHUB_TOKEN = "{ghp}"\n'
        f'KEY = """{pem}"""\n'
    )
    findings = scan(text)
    got = sorted((f.rule_id, f.line) for f in findings)
    pem_lines = pem.count("\n")
    assert got == [
        ("secrets/aws-access-key-id", 2),
        ("secrets/aws-secret-access-key", 2),
        ("secrets/github-token", 3),
        ("secrets/private-key", 4),
    ], seed_note()
    private = next(f for f in findings if f.rule_id == "secrets/private-key")
    assert private.severity is Severity.CRITICAL and private.end_line == 4 + pem_lines - 1
    body = "".join(pem.splitlines()[1:-1])
    assert_redacted(findings, [akid, secret, ghp, body, *pem.splitlines()[1:-1]])


def test_private_key_placeholders_and_parser_code_are_not_critical():
    text = (
        'HEADER = "-----BEGIN RSA PRIVATE KEY-----"\n'
        "doc = '''\n-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----\n'''\n"
    )
    assert [f for f in scan(text) if f.severity.at_least(Severity.MEDIUM)] == []


@pytest.mark.parametrize(
    "template",
    [
        'OPENAI_API_KEY = "{key}"  # pragma: allowlist secret',
        "# pragma: allowlist nextline secret\nOPENAI_API_KEY = '{key}'",
        "OPENAI_API_KEY: {key}  # pragma: allowlist secret",
    ],
)
def test_allowlist_pragma_is_honoured(template):
    key = f"sk-proj-{rand(74)}T3BlbkFJ{rand(74)}"
    path = "config/app.yaml" if ": " in template.split("#")[0] else "app/settings.py"
    assert scan(template.format(key=key) + "\n", path) == []


def test_allowlist_nextline_cannot_hide_a_line_after_code():
    key = f"sk-proj-{rand(74)}T3BlbkFJ{rand(74)}"
    text = f"x = 1  # pragma: allowlist nextline secret\nOPENAI_API_KEY = '{key}'\n"
    assert [f.rule_id for f in scan(text)] == ["secrets/openai-project-key"]


def test_only_added_lines_are_reported_and_context_may_come_from_unchanged_lines():
    old_key = f"gsk_{rand(52)}"
    new_key = rand(40)
    text = f'GROQ = "{old_key}"\ncohere:\n  api_key: {new_key}\n'
    findings = scan(text, "config/app.yaml", added=LineSet([(3, 3)]))
    assert [(f.rule_id, f.line) for f in findings] == [("secrets/cohere-api-key", 3)]


def test_keyword_and_entropy_findings_are_not_high():
    findings = scan('db_password = "Tr0ub4dor&3xq!"\nblob = "q8Zr2LmX0vBn7TyW4kPe9sJd1HaG5cF"\n')
    assert {f.rule_id: f.severity for f in findings} == {
        "secrets/secret-keyword": Severity.MEDIUM,
        "secrets/base64-high-entropy-string": Severity.LOW,
    }


def test_fingerprint_is_stable_when_lines_move():
    key = f"pplx-{rand(48)}"
    a = scan(f'K = "{key}"\n')
    b = scan(f'import os\n\n\nK = "{key}"\n')
    assert a[0].fingerprint == b[0].fingerprint and a[0].line != b[0].line


def test_binary_files_are_reported_as_skipped_not_dropped():
    check = SecretsCheck()
    binary = ChangedFile("img/logo.png", FileStatus.ADDED, LineSet.whole(1), is_binary=True)
    sneaky = ChangedFile("blob.dat", FileStatus.ADDED, LineSet.whole(1), head_loader=lambda: b"AKIA\0\x01")
    assert check.applies_to(binary)
    result = run_check(check, Change("b", "h", [binary, sneaky]))
    assert Skipped("img/logo.png", "binary file") in result.skipped
    assert Skipped("blob.dat", "binary file") in result.skipped


def test_an_error_inside_the_scan_never_carries_the_line(monkeypatch):
    key = f"sk-proj-{rand(74)}T3BlbkFJ{rand(74)}"
    import checks.secrets.check as check_module

    def boom(path, data, added):
        raise ValueError(f"bad line {data.decode()}")

    monkeypatch.setattr(check_module, "scan_bytes", boom)
    result = run_check(SecretsCheck(), Change("b", "h", [changed("a.py", f'k = "{key}"\n')]))
    assert result.error is not None and "a.py" in result.error and key not in result.error
    assert key[:8] not in result.error


def test_scan_cli_on_a_git_repo_lists_each_secret_once_and_redacts(tmp_path: Path):
    repo = tmp_path / "repo"
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True, timeout=60)
    (repo / "README.md").write_text("hello\n")
    subprocess.run([*git, "add", "-A"], check=True, timeout=60)
    subprocess.run([*git, "commit", "-q", "-m", "base"], check=True, timeout=60)
    keys = {
        "secrets/openai-project-key": f"sk-proj-{rand(74)}T3BlbkFJ{rand(74)}",
        "secrets/anthropic-api-key": f"sk-ant-api03-{rand(93)}AA",
        "secrets/huggingface-token": "hf_" + rand(34, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"),
        "secrets/aws-access-key-id": "AKIA" + rand(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
        "secrets/aws-secret-access-key": rand(40),
        "secrets/github-token": "ghp_" + rand(36),
    }
    body = "\n".join(
        [
            f'client = OpenAI(api_key="{keys["secrets/openai-project-key"]}")',
            f'ANTHROPIC_API_KEY = "{keys["secrets/anthropic-api-key"]}"',
            f'HF_TOKEN = "{keys["secrets/huggingface-token"]}"',
            f'aws_access_key_id = "{keys["secrets/aws-access-key-id"]}"',
            f'aws_secret_access_key = "{keys["secrets/aws-secret-access-key"]}"',
            f'GITHUB_TOKEN = "{keys["secrets/github-token"]}"',
            'PLACEHOLDER = "sk-xxxx"',
            'api_key = "YOUR_API_KEY"',
        ]
    )
    (repo / "app.py").write_text(body + "\n")
    (repo / "id_rsa").write_text(private_key_pem())
    subprocess.run([*git, "add", "-A"], check=True, timeout=60)
    subprocess.run([*git, "commit", "-q", "-m", "add secrets"], check=True, timeout=60)
    change = change_from_git(repo, "main~1")
    findings = run_check(SecretsCheck(), change).findings
    assert sorted(f.rule_id for f in findings) == sorted([*keys, "secrets/private-key"]), seed_note()
    assert_redacted(findings, list(keys.values()))


def test_a_crafted_long_line_stays_fast_finds_the_key_and_says_it_was_partly_scanned():
    ghp = "ghp_" + rand(36)
    line = ('password="' + "a" * 50 + " //x") * 6000 + f' token="{ghp}"'
    result = run_check(SecretsCheck(), Change("b", "h", [changed("bundle.min.js", line + "\n")]))
    assert [f.rule_id for f in result.findings] == ["secrets/github-token"]
    assert any(s.path == "bundle.min.js" and "partly scanned" in s.reason for s in result.skipped)
