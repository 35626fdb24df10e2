"""Novelty modes and file-level findings: what the engine keeps, and how every output shows it.

`MarkerCheck` is a real check of our own: each line holding PROBLEM is a finding spanning that line and the
next two (a "block"), and a file holding WHOLEFILE gets one finding about the whole file (line 0). Its
`novelty` is set per instance, so the same check shows what each mode keeps.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from githubkit.compat import type_validate_python
from githubkit_schemas.v2026_03_10.models import (
    ReposOwnerRepoCheckRunsCheckRunIdPatchBodyAnyof0 as PatchBody0,
)
from githubkit_schemas.v2026_03_10.models import (
    ReposOwnerRepoCheckRunsCheckRunIdPatchBodyAnyof1 as PatchBody1,
)

from bot.cli.main import main
from bot.github.render import report_for_result
from checks import registry
from checks.base import Novelty
from checks.change import Change, ChangedFile, FileStatus, LineSet
from checks.context import CheckContext
from checks.engine import CheckResult, run_check
from checks.finding import Finding, Severity, Skipped, make_fingerprint
from checks.policy import CheckPolicy, Policy
from tests.gitrepo import GitRepo
from tests.scanning import scan_json
from tests.test_formats import validate_sarif


class MarkerCheck:
    name = "marker"
    title = "Markers"

    def __init__(self, novelty: Novelty = Novelty.ADDED_LINE) -> None:
        self.novelty = novelty
        self.runs: list[tuple[str, list[str]]] = []  # (ctx.side, paths) of each run

    def applies_to(self, file: ChangedFile) -> bool:
        return not file.is_binary

    def run(self, files: Sequence[ChangedFile], ctx: CheckContext) -> Iterator[Finding | Skipped]:
        self.runs.append((ctx.side, [f.path for f in files]))
        for file in files:
            text = file.head_text() or ""
            lines = text.splitlines()
            if "WHOLEFILE" in text:
                yield Finding("marker/whole", Severity.HIGH, file.path, 0, "Whole-file problem",
                              "The file as a whole is the problem.",
                              make_fingerprint("marker/whole", file.path, "whole"))
            for number, line in enumerate(lines, 1):
                if "PROBLEM" in line:
                    yield Finding("marker/block", Severity.HIGH, file.path, number, "Problem block",
                                  f"A block starts with {line.strip()!r}.",
                                  make_fingerprint("marker/block", file.path, line),
                                  end_line=min(number + 2, len(lines)))


def modified(path: str, head: str, added: list[int], base: str | None = None,
             status: FileStatus = FileStatus.MODIFIED, old_path: str | None = None) -> ChangedFile:
    return ChangedFile(path=path, status=status, added_lines=LineSet((n, n) for n in added),
                       old_path=old_path, head_loader=lambda: head.encode(),
                       base_loader=(lambda: base.encode()) if base is not None else None)


BLOCKS = "resource PROBLEM one {\n  a = 1\n  b = 2\n}\nresource PROBLEM two {\n  c = 3\n}\n"


def test_added_line_keeps_findings_on_added_lines_only() -> None:
    change = Change("b", "h", [modified("main.tf", BLOCKS, added=[3])])
    assert run_check(MarkerCheck(), change).findings == []


def test_touches_added_keeps_a_block_whose_range_holds_an_added_line() -> None:
    change = Change("b", "h", [modified("main.tf", BLOCKS, added=[3])])
    result = run_check(MarkerCheck(Novelty.TOUCHES_ADDED), change)
    assert [(f.line, f.end_line) for f in result.findings] == [(1, 3)]  # block two (5..7) was not touched
    assert result.findings[0].check == "marker", "the engine fills in the check's name"


def test_file_level_findings_are_kept_when_the_change_added_to_the_file() -> None:
    """A whole-file finding counts on a file the change added or added lines to; a file only renamed or
    re-moded (no added line) introduces nothing, and a removed file or one outside the change never counts."""
    for novelty in (Novelty.ADDED_LINE, Novelty.TOUCHES_ADDED):
        change = Change("b", "h", [
            modified("model.txt", "WHOLEFILE\n", added=[1]),
            modified("renamed.txt", "WHOLEFILE\n", added=[]),  # only renamed or re-moded: nothing new
            ChangedFile("gone.txt", FileStatus.REMOVED, LineSet()),
        ])

        class Elsewhere(MarkerCheck):
            def run(self, files: Sequence[ChangedFile], ctx: CheckContext) -> Iterator[Finding | Skipped]:
                yield from super().run(files, ctx)
                for path in ("gone.txt", "not/in/change.txt"):
                    yield Finding("marker/whole", Severity.HIGH, path, 0, "t", "m", "fp-" + path)

        result = run_check(Elsewhere(novelty), change)
        assert [(f.path, f.line, f.file_level) for f in result.findings] == [("model.txt", 0, True)], novelty


def test_baseline_keeps_only_what_the_base_run_did_not_find_even_across_a_rename() -> None:
    check = MarkerCheck(Novelty.BASELINE)
    change = Change("b", "h", [
        modified("app.tf", "PROBLEM old\nPROBLEM new\n", added=[2], base="PROBLEM old\n"),
        modified("new.tf", "x\nPROBLEM kept\nPROBLEM fresh\n", added=[1, 3], base="PROBLEM kept\n",
                 status=FileStatus.RENAMED, old_path="old.tf"),
        modified("added.tf", "PROBLEM brand new\n", added=[1], status=FileStatus.ADDED),
    ])
    result = run_check(check, change)
    assert result.error is None
    assert [(f.path, f.line) for f in result.findings] == [("added.tf", 1), ("app.tf", 2), ("new.tf", 3)]
    head_run, base_run = check.runs
    assert head_run == ("head", ["app.tf", "new.tf", "added.tf"])
    assert base_run == ("base", ["app.tf", "new.tf"]), "base content under the head path; added files absent"


def test_an_error_on_either_side_of_a_baseline_check_is_the_checks_error() -> None:
    class FailsOnBase(MarkerCheck):
        def run(self, files: Sequence[ChangedFile], ctx: CheckContext) -> Iterator[Finding | Skipped]:
            if ctx.side == "base":
                raise RuntimeError("base side broke")
            yield from super().run(files, ctx)

    change = Change("b", "h", [modified("a.tf", "PROBLEM\n", added=[1], base="x\n")])
    result = run_check(FailsOnBase(Novelty.BASELINE), change)
    assert result.error == "RuntimeError: base side broke"
    assert result.findings == [], "without the base run nothing can be told new"


def test_a_generator_still_yielding_at_the_deadline_is_stopped_and_reported() -> None:
    closed: list[bool] = []

    class Slow(MarkerCheck):
        def run(self, files: Sequence[ChangedFile], ctx: CheckContext) -> Iterator[Finding | Skipped]:
            try:
                for i in range(1000):
                    time.sleep(0.05)
                    yield Skipped(f"f{i}", "slow")
            finally:
                closed.append(True)

    started = time.monotonic()
    result = run_check(Slow(), Change("b", "h", [modified("a.tf", "x\n", added=[1])]), timeout=0.3)
    assert result.error == "did not finish within 0.3 s"
    assert time.monotonic() - started < 2
    assert closed == [True], "the generator was closed, not left suspended"


def test_an_unknown_novelty_is_an_error_not_a_default() -> None:
    check = MarkerCheck("every-line")  # type: ignore[arg-type]
    result = run_check(check, Change("b", "h", [modified("a.tf", "PROBLEM\n", [1])]))
    assert result.error is not None and "every-line" in result.error


# ------------------------------------------------------------------------ through `prguard scan` and outputs


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    repo = GitRepo.init(tmp_path / "repo")
    filler = "".join(f"# filler line {i}\n" for i in range(20))
    repo.commit({"infra/main.tf": BLOCKS, "src/old.tf": "PROBLEM legacy\n" + filler,
                 "src/app.tf": "PROBLEM before\n" + filler}, "base")
    repo.branch("feature")
    return repo


def use(monkeypatch: pytest.MonkeyPatch, check: MarkerCheck) -> None:
    monkeypatch.setattr(registry, "REGISTRY", {"marker": lambda: check})


def as_json(capsys: pytest.CaptureFixture[str], repo: GitRepo, *args: str) -> tuple[int, dict[str, Any]]:
    code, doc, _ = scan_json(capsys, repo, *args)
    return code, doc


def test_baseline_through_prguard_scan_across_a_rename(
    capsys: pytest.CaptureFixture[str], repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    check = MarkerCheck(Novelty.BASELINE)
    use(monkeypatch, check)
    repo.move("src/old.tf", "src/renamed.tf")
    repo.write("src/renamed.tf", (repo.path / "src/renamed.tf").read_text() + "PROBLEM introduced\n")
    repo.write("src/app.tf", (repo.path / "src/app.tf").read_text() + "PROBLEM also new\n")
    repo.commit(message="rename and add")

    code, doc = as_json(capsys, repo, "--head", "HEAD")

    assert code == 1 and doc["errors"] == []
    assert sorted((f["path"], f["line"]) for f in doc["findings"]) == [
        ("src/app.tf", 22), ("src/renamed.tf", 22)
    ], "the problems the base already had (before, legacy) are not reported"
    assert check.runs[1] == ("base", ["src/app.tf", "src/renamed.tf"])


def test_touches_added_and_file_level_findings_in_text_json_and_sarif(
    capsys: pytest.CaptureFixture[str], repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    use(monkeypatch, MarkerCheck(Novelty.TOUCHES_ADDED))
    repo.write("infra/main.tf", BLOCKS.replace("  a = 1\n", "  a = 1\n  public = true\n"))  # adds line 3
    repo.write("models/weights.txt", "WHOLEFILE\n")

    code, doc = as_json(capsys, repo)
    assert code == 1
    found = [(f["path"], f["line"], f["end_line"], f["file_level"]) for f in doc["findings"]]
    assert found == [("infra/main.tf", 1, 3, False), ("models/weights.txt", 0, 0, True)]
    assert all(f["check"] == "marker" for f in doc["findings"])

    assert main(["scan", str(repo.path)]) == 1
    text = capsys.readouterr().out.splitlines()
    assert text[text.index("models/weights.txt") + 1].split()[:3] == ["models/weights.txt", "(whole", "file)"]
    assert any(line.strip().startswith("infra/main.tf:1 ") for line in text)

    assert main(["scan", str(repo.path), "--format", "sarif"]) == 1
    sarif = json.loads(capsys.readouterr().out)
    validate_sarif(sarif)
    locations = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]:
                 r["locations"][0]["physicalLocation"] for r in sarif["runs"][0]["results"]}
    assert locations["infra/main.tf"]["region"] == {"startLine": 1, "endLine": 3}
    assert "region" not in locations["models/weights.txt"]


def test_a_file_level_finding_in_a_check_run() -> None:
    whole = Finding("marker/whole", Severity.HIGH, "models/model.bin", 0, "Unsafe model", "Pickle opcodes.",
                    "f" * 16, check="marker")
    block = Finding("marker/block", Severity.LOW, "infra/main.tf", 4, "Problem block", "m", "e" * 16,
                    end_line=9, check="marker")
    result = CheckResult(check="marker", title="Markers", findings=[whole, block], files_scanned=2)
    blob = "https://github.com/octo/repo/blob/abc"

    report = report_for_result(result, fail_on=Severity.HIGH, blob_base=blob)

    annotation = next(a for a in report.annotations if a["path"] == "models/model.bin")
    assert (annotation["start_line"], annotation["end_line"]) == (1, 1), "GitHub needs a line: line 1"
    assert annotation["title"] == "[high] Unsafe model (whole file)"
    assert f"[`models/model.bin (whole file)`]({blob}/models/model.bin)" in report.summary
    assert "#L0" not in report.summary
    assert f"({blob}/infra/main.tf#L4-L9)" in report.summary
    for body in report.requests():
        type_validate_python(PatchBody0 | PatchBody1, body)


def test_policy_ignores_apply_to_findings_anywhere_and_ctx_carries_settings_and_services() -> None:
    seen: list[Any] = []

    class Engine(MarkerCheck):
        def run(self, files: Sequence[ChangedFile], ctx: CheckContext) -> Iterator[Finding | Skipped]:
            seen.append((ctx.side, ctx.policy.fail_on, dict(ctx.services)))
            if ctx.side == "head":  # a tree engine reporting on files beyond those it was handed
                for path in ("vendor/lib.tf", "docs/new.tf"):
                    yield Finding("marker/block", Severity.HIGH, path, 3, "t", "m", "fp-" + path)

    change = Change("b", "h", [modified("a.tf", "x\n", added=[1], base="y\n")])
    policy = Policy(checks={"marker": CheckPolicy(fail_on=Severity.LOW, ignore_paths=("vendor/**",))})

    result = run_check(Engine(Novelty.BASELINE), change, policy=policy, services={"index": "advisories"})

    assert [f.path for f in result.findings] == ["docs/new.tf"]
    settings = (Severity.LOW, {"index": "advisories"})
    assert seen == [("head", *settings), ("base", *settings)]
