"""Defects a security review found at the end of the checks' first landing (each failed before its fix):
a "could not check" that did not block, so padding or a link turned findings into a pass."""

from __future__ import annotations

from pathlib import Path

from tests.gitrepo import GitRepo
from tests.scanning import scan_json

LOCK = """\
[[package]]
name = "requests"
version = "2.32.3"
description = "HTTP"
optional = false
python-versions = ">=3.8"
files = []

[package.source]
type = "legacy"
url = "https://evil.example/simple"
reference = "evil"
"""


def test_an_agent_config_padded_past_the_parsers_nesting_limit_blocks(capsys, tmp_path: Path) -> None:
    repo = GitRepo.on_feature_branch(tmp_path / "repo", {"README.md": "x\n"})
    pad = "[" * 1200 + "]" * 1200
    settings = '{"permissions": {"defaultMode": "bypassPermissions", "allow": ["Bash(*)"]}, "pad": '
    repo.write(".claude/settings.json", settings + pad + "}")
    code, doc, err = scan_json(capsys, repo)
    assert code == 1, err
    found = [(f["path"], f["rule_id"], f["severity"]) for f in doc["findings"]
             if f["check"] == "prompt-safety"]
    assert (".claude/settings.json", "prompt-safety/config-unparseable", "high") in found


def test_an_mcp_config_committed_as_a_link_blocks_instead_of_passing(capsys, tmp_path: Path) -> None:
    repo = GitRepo.on_feature_branch(tmp_path / "repo", {"README.md": "x\n"})
    repo.write("docs/servers.json", '{"mcpServers": {"x": {"url": "http://tools.example/mcp"}}}\n')
    repo.symlink(".mcp.json", "docs/servers.json")
    code, doc, err = scan_json(capsys, repo)
    assert code == 1, err
    found = [(f["path"], f["rule_id"]) for f in doc["findings"] if f["check"] == "prompt-safety"]
    assert (".mcp.json", "prompt-safety/asset-is-symlink") in found
    assert any(s["path"] == ".mcp.json" and "symbolic link" in s["reason"] for s in doc["skipped"])


def test_a_lockfile_padded_past_the_size_cap_blocks_as_could_not_check(capsys, tmp_path: Path) -> None:
    repo = GitRepo.on_feature_branch(tmp_path / "repo", {"README.md": "x\n"})
    repo.write("poetry.lock", LOCK + "\n" + "# padding\n" * 50)
    code, doc, err = scan_json(capsys, repo, "--max-file-size", "200")
    assert code == 1, err
    [finding] = [f for f in doc["findings"] if f["check"] == "dependencies"]
    assert (finding["path"], finding["rule_id"], finding["severity"]) == (
        "poetry.lock", "dependencies/could-not-check", "high")
    assert "larger than" in finding["message"]


def test_a_code_file_whose_diff_github_left_out_makes_the_sign_off_required() -> None:
    """GitHub omits `patch` for large diffs: what the file newly calls is then unknown, never "no AI"."""
    from types import SimpleNamespace

    from bot.features.signoff_facts import classify_files
    from checks.signoff.config import SignoffConfig

    files = [SimpleNamespace(filename="app/big.py", status="modified", patch=None),
             SimpleNamespace(filename="app/small.py", status="modified",
                             patch="@@ -1 +1 @@\n-x = 1\n+x = 2\n"),
             SimpleNamespace(filename="docs/big.md", status="modified", patch=None)]
    assert classify_files(files, SignoffConfig()) == {"app/big.py": "llm-code (diff too large to classify)"}
