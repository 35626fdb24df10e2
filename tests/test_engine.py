"""What the engine promises every check: added lines only, errors surface, skips kept, per-check ignores."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pytest

from checks import registry
from checks.change import Change, ChangedFile, FileStatus, LineSet
from checks.context import CheckContext
from checks.engine import create_checks, run_check, run_checks
from checks.finding import Finding, Severity, Skipped, make_fingerprint
from checks.policy import CheckPolicy, Policy


class WordCheck:
    """A real check of our own: flags every line containing `word` (on any line, added or not)."""

    title = "Word"

    def __init__(self, name: str = "word", word: str = "FORBIDDEN") -> None:
        self.name = name
        self.word = word

    def applies_to(self, file: ChangedFile) -> bool:
        return not file.is_binary

    def run(self, files: Sequence[ChangedFile], ctx: CheckContext) -> Iterable[Finding | Skipped]:
        for file in files:
            text = file.head_text() or ""
            for number, line in enumerate(text.splitlines(), 1):
                if self.word in line:
                    fp = make_fingerprint(f"{self.name}/word", file.path, line)
                    yield Finding(f"{self.name}/word", Severity.HIGH, file.path, number,
                                  "word", "found the word", fp)
                    yield Finding(f"{self.name}/word", Severity.HIGH, file.path, number,
                                  "word", "found the word again", fp)  # a duplicate the engine drops


class BrokenCheck(WordCheck):
    def run(self, files: Sequence[ChangedFile], ctx: CheckContext) -> Iterable[Finding | Skipped]:
        raise RuntimeError("engine exploded")


def changed(path: str, text: str, added: list[tuple[int, int]] | None = None) -> ChangedFile:
    data = text.encode()
    lines = LineSet(added) if added is not None else LineSet.whole(text.count("\n"))
    status = FileStatus.MODIFIED if added is not None else FileStatus.ADDED
    return ChangedFile(path=path, status=status, added_lines=lines, head_loader=lambda: data)


def test_only_findings_on_added_lines_are_kept_once_each() -> None:
    text = "FORBIDDEN old\nok\nFORBIDDEN new\n"
    result = run_check(WordCheck(), Change("b", "h", [changed("a.py", text, added=[(3, 3)])]))
    assert [(f.path, f.line) for f in result.findings] == [("a.py", 3)]
    assert result.findings[0].check == "word", "the engine names the check that found it"
    assert result.error is None


def test_a_check_that_raises_is_an_error_not_a_pass() -> None:
    result = run_check(BrokenCheck(), Change("b", "h", [changed("a.py", "FORBIDDEN\n")]))
    assert result.error == "RuntimeError: engine exploded"
    assert result.findings == []


def test_change_level_skips_are_reported_by_every_check() -> None:
    change = Change("b", "h", [changed("a.py", "x\n")], skipped=[Skipped("big.bin", "larger than the cap")])
    assert run_check(WordCheck(), change).skipped == [Skipped("big.bin", "larger than the cap")]


def test_run_checks_applies_the_policy_ignores_per_check() -> None:
    change = Change("b", "h", [changed("vendor/x.py", "FORBIDDEN\n"), changed("app.py", "FORBIDDEN\n")])
    checks = [WordCheck("one"), WordCheck("two")]
    policy = Policy(checks={"one": CheckPolicy(ignore_paths=("vendor/**",))})

    one, two = run_checks(checks, change, policy=policy)
    assert [f.path for f in one.findings] == ["app.py"]
    assert [f.path for f in two.findings] == ["app.py", "vendor/x.py"]


def test_a_check_that_cannot_be_built_becomes_an_errored_result(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode() -> WordCheck:
        raise ImportError("engine missing")

    monkeypatch.setitem(registry.REGISTRY, "exploding", explode)
    checks, broken = create_checks(["secrets", "exploding"])
    assert [c.name for c in checks] == ["secrets"]
    assert [(r.check, r.error) for r in broken] == [
        ("exploding", "could not load: ImportError: engine missing")
    ]
