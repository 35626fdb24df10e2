"""Every AI-infrastructure rule is documented (what, why, fix, bad/good example, its severity and OWASP id)
under the anchor its findings link to, and has a positive and a negative test fixture."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from checks.iac.ai_rules import RULES

ROOT = Path(__file__).parent.parent
DOC = (ROOT / "docs" / "rules" / "iac.md").read_text()
FIXTURES = ROOT / "tests" / "fixtures" / "iac_ai"


def _section(anchor: str) -> str:
    start = DOC.find(f'<a id="{anchor}"></a>')
    assert start >= 0, f"docs/rules/iac.md has no anchor {anchor}"
    end = DOC.find('<a id="', start + 1)
    return DOC[start : end if end > 0 else len(DOC)]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_has_a_doc_section(rule) -> None:
    assert rule.doc == rule.id.lower() and rule.doc_url.endswith(f"docs/rules/iac.md#{rule.doc}")
    section = _section(rule.doc)
    assert f"## {rule.id} — {rule.title}" in section
    assert f"**Severity** {rule.severity.value}" in section and f"**OWASP** {rule.owasp}" in section
    for part in ("**What:**", "**Why:**", "**Fix:**", "```"):
        assert part in section, f"{rule.id}: no {part}"
    assert re.search(r"^# (bad|good)", section, re.M), f"{rule.id}: example has no bad/good snippet"
    assert f"| [{rule.id}](#{rule.doc}) | {rule.severity.value} | {rule.owasp} | {rule.title} |" in DOC


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_has_positive_and_negative_fixture(rule) -> None:
    for side in ("bad", "good"):
        files = [p for p in (FIXTURES / rule.doc / side).glob("*") if p.is_file()]
        assert len(files) == 1, f"{rule.id}: expected one {side} fixture"


def test_no_orphan_sections_or_fixtures() -> None:
    ids = {rule.doc for rule in RULES}
    assert set(re.findall(r'<a id="(prg-ai-\d+)"></a>', DOC)) == ids
    assert {p.name for p in FIXTURES.iterdir() if p.is_dir()} == ids
