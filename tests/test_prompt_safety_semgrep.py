"""The LLM-code semgrep rules, end to end: one real semgrep run over every rule's bad and good file.

Each `tests/fixtures/semgrep_llm/<rule>/bad.*` marks the line before every expected finding with
`# ruleid: <rule>` (semgrep's own test convention); `good.*` must produce nothing. The files are committed
to a real git repository, read back as a `Change` by `checks.git_change`, and scanned by
`checks.prompt_safety.semgrep.scan` through a `CheckContext`: the same path the check takes in a job.
The same run also holds the evasions a PR could try (a `# nosemgrep` comment, a default-ignored
directory, a path starting with "-") and a file semgrep cannot parse.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from checks.change import Change
from checks.context import CheckContext
from checks.finding import Finding, Severity, Skipped
from checks.git_change import change_from_git
from checks.prompt_safety.semgrep import RULES_DIR, SemgrepError, applies, scan
from checks.prompt_safety.semgrep.results import parse_output
from tests.gitrepo import GitRepo

FIXTURES = Path(__file__).parent / "fixtures" / "semgrep_llm"
RULES = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())
#: what a user sees per rule: severity and OWASP LLM id (stated here, not read from the rules)
EXPECTED = {
    "trust-remote-code": (Severity.HIGH, "LLM03"),
    "torch-load-unsafe": (Severity.HIGH, "LLM03"),
    "hf-unpinned-revision": (Severity.MEDIUM, "LLM03"),
    "pickle-load-downloaded": (Severity.HIGH, "LLM03"),
    "llm-output-to-sink": (Severity.HIGH, "LLM05"),
    "llm-output-to-sink-js": (Severity.HIGH, "LLM05"),
    "untrusted-input-in-system-prompt": (Severity.MEDIUM, "LLM01"),
    "untrusted-input-in-system-prompt-js": (Severity.MEDIUM, "LLM01"),
    "langchain-allow-dangerous-code": (Severity.HIGH, "LLM06"),
    "langchain-allow-dangerous-deserialization": (Severity.HIGH, "LLM03"),
    "llm-endpoint-tls-disabled": (Severity.HIGH, "LLM02"),
    "agent-shell-tool": (Severity.HIGH, "LLM06"),
    "agent-tool-runs-shell": (Severity.HIGH, "LLM06"),
}
TORCH_BAD = "import torch\nstate = torch.load('ckpt.pt')\n"
#: files a PR could add to hide code from semgrep, each holding one torch.load finding on line 2
EVASIONS = {
    "vendor/loader.py": TORCH_BAD,  # semgrep's default ignores skip vendor/ in a directory scan
    "tests/load_test.py": TORCH_BAD,
    "-dash.py": TORCH_BAD,  # reads as an option unless passed safely
    "nosem.py": "import torch\nstate = torch.load('ckpt.pt')  # nosemgrep\n",
}
BROKEN = "broken.py"


def expected_lines(path: Path) -> set[tuple[str, int]]:
    """(rule, line) pairs marked in a bad file: each `ruleid:` comment names the next line."""
    marks = set()
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        found = re.search(r"ruleid: (\S+)", line)
        if found:
            marks.add((found.group(1), number + 1))
    return marks


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Change, list[Finding], list[Skipped]]:
    repo = GitRepo.on_feature_branch(tmp_path_factory.mktemp("repo"), {"README.md": "base\n"})
    files = {f"rules/{p.relative_to(FIXTURES)}": p.read_text() for p in FIXTURES.rglob("*") if p.is_file()}
    files.update(EVASIONS)
    files[BROKEN] = "import torch\ndef (:\ntorch.load('x.pt')\n"  # the torch.load is in what fails to parse
    # the PR also adds a .semgrepignore hiding everything; it is not code, so it never reaches the tree
    files[".semgrepignore"] = "*\n"
    repo.commit(files, "add llm code")
    change = change_from_git(repo.path, "main", head="HEAD")
    code = [f for f in change.files if applies(f.path)]
    ctx = CheckContext(change, files=change.files)
    try:
        out = list(scan(code, ctx))
    finally:
        ctx.workspace.close()
    return change, [o for o in out if isinstance(o, Finding)], [o for o in out if isinstance(o, Skipped)]


@pytest.mark.parametrize("rule", RULES)
def test_bad_file_finds_exactly_the_marked_lines(scanned, rule: str) -> None:
    _, findings, _ = scanned
    bad = next((FIXTURES / rule).glob("bad.*"))
    path = f"rules/{rule}/{bad.name}"
    marks = expected_lines(bad)
    assert marks, f"{bad} marks no expected finding"
    got = {(f.rule_id.removeprefix("prompt-safety/"), f.line) for f in findings if f.path == path}
    assert got == marks
    severity, owasp = EXPECTED[rule]
    for f in findings:
        if f.path == path:
            assert f.severity is severity
            assert f.metadata["owasp"] == owasp and f"[OWASP {owasp}]" in f.title
            assert f.remediation and f.message and f.fingerprint
            assert str(f.line) not in f.fingerprint or len(f.fingerprint) == 16


@pytest.mark.parametrize("rule", RULES)
def test_good_file_finds_nothing(scanned, rule: str) -> None:
    _, findings, _ = scanned
    good = next((FIXTURES / rule).glob("good.*"))
    path = f"rules/{rule}/{good.name}"
    assert [(f.rule_id, f.line) for f in findings if f.path == path] == []


def test_every_rule_states_owasp_severity_title_and_fix() -> None:
    shipped = [r for f in sorted(RULES_DIR.glob("*.yml")) for r in yaml.safe_load(f.read_text())["rules"]]
    assert sorted(r["id"] for r in shipped) == sorted(EXPECTED)
    for rule in shipped:
        meta = rule["metadata"]
        assert (Severity(meta["prguard-severity"]), meta["owasp"]) == EXPECTED[rule["id"]], rule["id"]
        assert meta["title"] and meta["fix"] and meta["cwe"] and rule["message"], rule["id"]


def test_every_rule_has_a_fixture_pair() -> None:
    assert set(RULES) == set(EXPECTED)
    for rule in RULES:
        assert list((FIXTURES / rule).glob("bad.*")) and list((FIXTURES / rule).glob("good.*")), rule


@pytest.mark.parametrize("path", sorted(EVASIONS))
def test_a_pr_cannot_hide_code_from_semgrep(scanned, path: str) -> None:
    _, findings, _ = scanned
    found = [(f.rule_id, f.line) for f in findings if f.path == path]
    assert found == [("prompt-safety/torch-load-unsafe", 2)]


def test_a_file_semgrep_cannot_parse_is_reported_not_silent(scanned) -> None:
    _, _, skipped = scanned
    reasons = [s.reason for s in skipped if s.path == BROKEN]
    assert len(reasons) == 1 and reasons[0].startswith("partly scanned") and "lines 2-3" in reasons[0]
    assert [s.path for s in skipped] == [BROKEN]


def test_only_source_files_apply() -> None:
    assert applies("app/main.py") and applies("web/chat.tsx") and applies("x.mjs")
    assert not applies("README.md") and not applies(".semgrepignore") and not applies("model.pt")


def test_fingerprints_survive_moved_lines(tmp_path: Path) -> None:
    """The same match one line lower (semgrep's report for the file after an edit above it) keeps its
    fingerprint: no line number in it. Parses hand-written reports, so no extra semgrep run."""
    def finding(text: str, line: int) -> Finding:
        root = tmp_path / str(line)
        root.mkdir()
        (root / "a.py").write_text(text)
        report = {"results": [{"check_id": "torch-load-unsafe", "path": "a.py", "start": {"line": line},
                               "end": {"line": line}, "extra": {"message": "m", "severity": "ERROR",
                                                                "metadata": {"owasp": "LLM03"}}}],
                  "errors": [], "paths": {"scanned": ["a.py"]}}
        (found,) = parse_output(report, root, ["a.py"])
        assert isinstance(found, Finding)
        return found

    first, moved = finding(TORCH_BAD, 2), finding("\n" + TORCH_BAD, 3)
    assert (first.line, moved.line) == (2, 3)
    assert first.fingerprint == moved.fingerprint
    assert first.severity is Severity.HIGH  # semgrep's ERROR when a rule states no prguard severity


def test_a_report_error_tied_to_no_file_fails_the_run(tmp_path: Path) -> None:
    report = {"results": [], "errors": [{"level": "error", "type": "Rule parse error", "message": "bad"}]}
    with pytest.raises(SemgrepError, match="Rule parse error"):
        list(parse_output(report, tmp_path, ["a.py"]))


def test_a_target_semgrep_left_out_is_reported(tmp_path: Path) -> None:
    report = {"results": [], "errors": [], "paths": {"scanned": ["a.py"]}}
    assert list(parse_output(report, tmp_path, ["a.py", "b.py"])) == [
        Skipped("b.py", "not scanned by the LLM-code rules: semgrep left it out")]
