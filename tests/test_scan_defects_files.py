"""`prguard scan` attacked from outside (issue 11, part 1), files' contents and names: plaintext that looked
binary (NULs, UTF-16/32), `fail_on_unscanned`, and keys used as file names. Each test failed before its fix.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli.main import main
from tests.gitrepo import GitRepo
from tests.scanning import scan_json
from tests.test_formats import validate_sarif
from tests.test_scan_defects import Cap, _strict_repo, ghp, openai_key
from tests.test_scan_defects import repo as repo  # the fixture

# --- 3. plaintext secrets do not pass as "binary" --------------------------------------------------------


def test_a_text_file_with_one_nul_byte_is_scanned(capsys: Cap, repo: GitRepo) -> None:
    key = openai_key()
    repo.write("config.py", b"# generated\0\nx = 1\nKEY = '" + key.encode() + b"'\n")

    code, doc, err = scan_json(capsys, repo)
    assert code == 1, err
    assert [(f["path"], f["line"]) for f in doc["findings"]] == [("config.py", 3)]
    repo.commit(message="commit it")
    code, doc, _ = scan_json(capsys, repo, "--head", "HEAD")
    assert code == 1 and [(f["path"], f["line"]) for f in doc["findings"]] == [("config.py", 3)]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_a_utf16_or_utf32_file_with_a_bom_is_scanned_with_decoded_line_numbers(
    capsys: Cap, repo: GitRepo, encoding: str
) -> None:
    key = openai_key()
    text = f"$a = 1\r\n$b = 2\r\n$key = '{key}'\r\n"
    data = text.encode(encoding) if encoding != "utf-16-be" else b"\xfe\xff" + text.encode(encoding)
    repo.commit({"deploy.ps1": data}, "PowerShell script")

    code, doc, err = scan_json(capsys, repo)

    assert code == 1, err
    assert [(f["path"], f["line"]) for f in doc["findings"]] == [("deploy.ps1", 3)]
    assert key not in json.dumps(doc)


def test_a_modified_utf16_file_reports_only_its_new_key(capsys: Cap, tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "repo")
    old, new = openai_key(), openai_key()
    repo.commit({"deploy.ps1": f"$old = '{old}'\r\n".encode("utf-16")}, "old key on main")
    repo.branch("feature")
    repo.commit({"deploy.ps1": f"$old = '{old}'\r\n$new = '{new}'\r\n".encode("utf-16")}, "new key")

    code, doc, _ = scan_json(capsys, repo)

    assert code == 1
    assert [(f["line"], f["metadata"]["redacted"]) for f in doc["findings"]] == [
        (2, f"{new[:4]}…(164 chars)")
    ]


def _u16_no_bom(repo: GitRepo) -> None:
    repo.write("notes.txt", f"key = '{openai_key()}'\r\n".encode("utf-16-le"))  # no BOM: cannot be sure


def test_maybe_text_is_listed_as_not_scanned_and_passes_by_default(capsys: Cap, repo: GitRepo) -> None:
    _u16_no_bom(repo)
    repo.write("logo.bin", bytes(range(256)) * 8)  # plainly binary

    code, doc, _ = scan_json(capsys, repo)

    assert code == 0
    assert doc["skipped"] == [
        {"path": "logo.bin", "reason": "binary file"},
        {"path": "notes.txt", "reason": "binary file that may hold text (not scanned)"},
    ]


def test_fail_on_unscanned_blocks_in_every_format(capsys: Cap, tmp_path: Path) -> None:
    repo = _strict_repo(tmp_path)
    _u16_no_bom(repo)
    repo.write("big.txt", "x = 1\n" * 1000)
    repo.write("logo.bin", bytes(range(256)) * 8)

    code, doc, _ = scan_json(capsys, repo, "--max-file-size", "4096")
    assert code == 1
    assert {s["path"]: s.get("blocking", False) for s in doc["skipped"]} == {
        "big.txt": True,
        "notes.txt": True,
        "logo.bin": False,
    }

    code = main(["scan", str(repo.path), "--max-file-size", "4096"])
    out = capsys.readouterr().out
    assert code == 1
    assert "not scanned (blocking) notes.txt: binary file that may hold text" in out
    assert "not scanned (blocking) big.txt: larger than" in out
    assert "2 not scanned (blocking: fail_on_unscanned)" in out

    code = main(["scan", str(repo.path), "--max-file-size", "4096", "--format", "sarif"])
    sarif = json.loads(capsys.readouterr().out)
    validate_sarif(sarif)
    results = sarif["runs"][0]["results"]
    assert code == 1
    assert sorted(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results) == [
        "big.txt",
        "notes.txt",
    ]
    assert {(r["ruleId"], r["level"]) for r in results} == {("prguard/not-scanned", "error")}


def test_fail_on_unscanned_spares_ignored_paths(capsys: Cap, tmp_path: Path) -> None:
    repo = _strict_repo(tmp_path, "fail_on_unscanned: true\nignore_paths: ['data/**']\n")
    repo.write("data/big.txt", "x = 1\n" * 1000)

    assert scan_json(capsys, repo, "--max-file-size", "4096")[0] == 0


# --- 4. a secret used as a file name is never printed whole ----------------------------------------------


def _all_outputs(capsys: Cap, repo: GitRepo, *args: str) -> tuple[int, dict[str, str]]:
    outputs = {}
    code = 0
    for fmt in ("text", "json", "sarif"):
        code = main(["scan", str(repo.path), "--format", fmt, *args])
        out, err = capsys.readouterr()
        outputs[fmt] = out + err
    return code, outputs


def test_a_key_as_a_file_name_is_reported_and_redacted_everywhere(capsys: Cap, repo: GitRepo) -> None:
    key = openai_key()
    repo.write(f"config/{key}.txt", "harmless = 1\n")
    repo.write(f"big/{key}.bin", b"x" * 5000)  # over the size cap: listed as skipped, by name

    code, outputs = _all_outputs(capsys, repo, "--max-file-size", "4096")

    assert code == 1
    for fmt, out in outputs.items():
        assert key not in out, fmt
        assert key[:40] not in out, fmt
    doc = json.loads(outputs["json"])
    shown = f"config/{key[:4]}…(164 chars).txt"
    assert [(f["rule_id"], f["path"], f["line"]) for f in doc["findings"]] == [
        ("secrets/openai-project-key", shown, 0)
    ]
    assert [s["path"] for s in doc["skipped"]] == [f"big/{key[:4]}…(164 chars).bin"]
    assert f"{shown} (whole file)" in outputs["text"]


def test_a_file_named_after_a_key_found_in_another_file_is_redacted(capsys: Cap, repo: GitRepo) -> None:
    token = ghp()
    repo.write("settings.py", f'TOKEN = "{token}"\n')
    repo.write(f"notes/{token}", "see settings\n")

    code, outputs = _all_outputs(capsys, repo)

    assert code == 1
    assert all(token not in out for out in outputs.values())
    doc = json.loads(outputs["json"])
    assert sorted((f["path"], f["line"]) for f in doc["findings"]) == [
        (f"notes/{token[:4]}…(40 chars)", 0),
        ("settings.py", 1),
    ]


def test_a_key_in_a_file_name_already_on_the_base_is_not_reported_again(capsys: Cap, tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "repo")
    token = ghp()
    repo.commit({f"old/{token}.txt": "a\n"}, "backlog")
    repo.branch("feature")
    repo.commit({f"old/{token}.txt": "a\nb\n"}, "edit it")

    code, outputs = _all_outputs(capsys, repo)

    assert code == 0
    assert all(token not in out for out in outputs.values())


def test_history_decodes_a_utf16_file_a_branch_commit_added_and_a_later_one_removed(
    capsys: Cap, tmp_path: Path
) -> None:
    repo = GitRepo.on_feature_branch(tmp_path / "repo", {"README.md": "x\n"})
    key = openai_key()
    repo.commit({"deploy.ps1": f"$a = 1\r\n$key = '{key}'\r\n".encode("utf-16")}, "PowerShell with a key")
    repo.remove("deploy.ps1")
    repo.commit(message="remove it again")

    code, doc, err = scan_json(capsys, repo, "--history")

    assert code == 1, err
    found = [(f["path"], f["rule_id"]) for f in doc["findings"]]
    assert found == [("deploy.ps1", "secrets/openai-project-key")]
    assert key not in json.dumps(doc)
