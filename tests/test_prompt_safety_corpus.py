"""The AI corpus (tests/ai_corpus) through the real prompt-safety check: every malicious case is caught (by
its expected rule), every clean look-alike stays quiet, and no engine run errors.

One engine run per batch of distinct paths (module-scoped), so semgrep and the model scanners start once.
"""

from __future__ import annotations

import pytest

from tests.ai_corpus import Case, Outcome, load_all, run

CASES = load_all()


@pytest.fixture(scope="module")
def outcomes() -> dict[int, Outcome]:
    found, results = run(CASES)
    errors = [r.error for r in results if r.error]
    assert not errors, f"the check errored on the corpus: {errors}"
    return {id(o.case): o for o in found}


def _describe(outcome: Outcome) -> str:
    shown = [(f.rule_id, f.line, f.severity.value, f.metadata.get("signal")) for f in outcome.findings]
    return f"{outcome.case.path} ({outcome.case.note}): findings {shown}, skipped {outcome.skipped}"


def test_the_corpus_covers_every_text_kind_with_both_verdicts() -> None:
    kinds = {(c.kind, c.malicious) for c in CASES}
    for kind in ("prompt", "agent-rules", "mcp-config", "agent-settings", "dataset"):
        assert {(kind, True), (kind, False)} <= kinds, kind


@pytest.mark.parametrize("case", [c for c in CASES if c.malicious], ids=lambda c: f"{c.kind}:{c.path}")
def test_malicious_case_is_caught(case: Case, outcomes: dict[int, Outcome]) -> None:
    outcome = outcomes[id(case)]
    assert outcome.caught, _describe(outcome)
    assert all(f.metadata.get("owasp", "").startswith("LLM") for f in outcome.findings), _describe(outcome)


@pytest.mark.parametrize("case", [c for c in CASES if not c.malicious], ids=lambda c: f"{c.kind}:{c.path}")
def test_clean_look_alike_stays_quiet(case: Case, outcomes: dict[int, Outcome]) -> None:
    outcome = outcomes[id(case)]
    assert not outcome.flagged, _describe(outcome)
