"""prguard's AI-infrastructure IaC rules: each rule fires on its bad fixture, on the marked line, and not on
its good fixture.

Fixtures live in tests/fixtures/iac_ai/<rule id>/{bad,good}/<file name the rule expects>. The line the finding
must point at carries a `# expect` comment (HCL and YAML both allow it); a bad file without a marker expects a
file-level finding (line 0).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from checks.finding import Severity
from checks.iac.ai_rules import RULES, applies, scan_file

FIXTURES = Path(__file__).parent / "fixtures" / "iac_ai"
RULE_IDS = [rule.id for rule in RULES]
#: Severities as documented in docs/rules/iac.md, written out here so a changed severity fails a test.
SEVERITIES = {
    "PRG-AI-001": "critical",
    "PRG-AI-002": "high",
    "PRG-AI-003": "high",
    "PRG-AI-004": "medium",
    "PRG-AI-005": "high",
    "PRG-AI-006": "high",
    "PRG-AI-007": "critical",
    "PRG-AI-008": "high",
    "PRG-AI-009": "critical",
    "PRG-AI-010": "high",
    "PRG-AI-011": "medium",
    "PRG-AI-012": "critical",
    "PRG-AI-013": "critical",
    "PRG-AI-014": "critical",
    "PRG-AI-015": "critical",
    "PRG-AI-016": "critical",
    "PRG-AI-017": "high",
    "PRG-AI-018": "medium",
    "PRG-AI-019": "high",
    "PRG-AI-020": "critical",
    "PRG-AI-021": "high",
    "PRG-AI-022": "medium",
    "PRG-AI-023": "medium",
    "PRG-AI-024": "medium",
    "PRG-AI-025": "medium",
    "PRG-AI-026": "medium",
    "PRG-AI-027": "medium",
    "PRG-AI-028": "medium",
    "PRG-AI-029": "medium",
    "PRG-AI-030": "critical",
    "PRG-AI-031": "high",
    "PRG-AI-032": "critical",
    "PRG-AI-033": "critical",
    "PRG-AI-034": "medium",
    "PRG-AI-035": "medium",
    "PRG-AI-036": "critical",
    "PRG-AI-037": "high",
    "PRG-AI-038": "medium",
    "PRG-AI-039": "high", "PRG-AI-040": "medium",
}


def _case(rule_id: str, side: str) -> tuple[str, str]:
    files = sorted((FIXTURES / rule_id.lower() / side).rglob("*"))
    files = [f for f in files if f.is_file()]
    assert len(files) == 1, f"{rule_id}/{side} must hold exactly one fixture"
    return files[0].name, files[0].read_text()


def _scan(rule_id: str, side: str) -> tuple[str, list]:
    name, text = _case(rule_id, side)
    path = f"infra/{name}"
    assert applies(path)
    return text, scan_file(path, text)


def test_at_least_25_rules_with_unique_ids() -> None:
    assert len(RULE_IDS) >= 25
    assert len(set(RULE_IDS)) == len(RULE_IDS)
    assert set(SEVERITIES) == set(RULE_IDS)


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_rule_fires_on_bad_fixture_at_marked_line(rule_id: str) -> None:
    text, findings = _scan(rule_id, "bad")
    expected = [n for n, line in enumerate(text.splitlines(), start=1) if line.rstrip().endswith("# expect")]
    hits = [f for f in findings if f.rule_id == rule_id]
    assert hits, f"{rule_id} did not fire; got {[(f.rule_id, f.line) for f in findings]}"
    assert sorted({f.line for f in hits}) == (expected or [0])
    for f in hits:
        assert f.severity == Severity(SEVERITIES[rule_id])
        assert f.end_line is not None and f.end_line >= f.line
        assert f.metadata["engine"] == "prguard" and f.metadata["owasp"] and f.metadata["resource"]
        assert f.remediation and f.message and f.path == f"infra/{_case(rule_id, 'bad')[0]}"
        assert "notarealkey" not in f.message and "notarealtoken" not in f.message


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_rule_silent_on_good_fixture(rule_id: str) -> None:
    _text, findings = _scan(rule_id, "good")
    assert [f for f in findings if f.rule_id == rule_id] == []
