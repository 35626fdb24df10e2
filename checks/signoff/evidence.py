"""Evidence rules (`evidence:` in the policy) and the red-team/eval result files they read.

A rule triggers on asset kinds or path globs among the PR's AI paths and then needs a file of the PR matching
`require_paths`; with `min_pass_rate`, such a file must also be a result prguard can read — promptfoo's JSON
(`promptfoo eval -o results.json`) or garak's JSONL report — whose pass rate reaches the threshold. Parsing is
static (json only); a file that is neither format is "unreadable", which never counts as met.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from checks.paths import PathMatcher

MAX_RESULT_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class RedTeamResult:
    path: str
    tool: str  # "promptfoo" | "garak"
    passed: int
    total: int
    failed_categories: tuple[str, ...] = ()

    @property
    def pass_rate(self) -> float:
        return self.passed / self.total if self.total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "tool": self.tool,
            "passed": self.passed,
            "total": self.total,
            "pass_rate": round(self.pass_rate, 4),
            "failed_categories": list(self.failed_categories),
        }


def parse_promptfoo(path: str, data: bytes) -> RedTeamResult | None:
    """promptfoo's `-o results.json`: `results.stats` (successes/failures/errors) or, failing that, the
    per-test `results.results[].success`; failed categories from each failed test's plugin or metric."""
    try:
        doc = json.loads(data)
    except ValueError:
        return None
    inner = doc.get("results") if isinstance(doc, dict) else None
    if not isinstance(inner, dict):
        return None
    rows = inner.get("results") if isinstance(inner.get("results"), list) else []
    failed: Counter[str] = Counter()
    for row in rows:
        if isinstance(row, dict) and row.get("success") is False:
            meta = row.get("metadata") or (row.get("testCase") or {}).get("metadata") or {}
            category = (
                meta.get("pluginId")
                or meta.get("category")
                or (row.get("gradingResult") or {}).get("reason")
                or "unknown"
            )
            failed[str(category)[:80]] += 1
    stats = inner.get("stats")
    if isinstance(stats, dict) and isinstance(stats.get("successes"), int):
        passed = int(stats["successes"])
        total = passed + int(stats.get("failures") or 0) + int(stats.get("errors") or 0)
    elif rows:
        passed = sum(1 for r in rows if isinstance(r, dict) and r.get("success") is True)
        total = len(rows)
    else:
        return None
    return RedTeamResult(path, "promptfoo", passed, total, tuple(sorted(failed)))


def parse_garak(path: str, data: bytes) -> RedTeamResult | None:
    """garak's JSONL report: the `entry_type: "eval"` lines carry `probe`, `detector`, `passed`, `total`."""
    passed = total = 0
    failed: set[str] = set()
    seen = False
    for line in data.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("entry_type") == "eval":
            seen = True
            p, t = int(entry.get("passed") or 0), int(entry.get("total") or 0)
            passed, total = passed + p, total + t
            if p < t:
                failed.add(str(entry.get("probe", "unknown"))[:80])
    return RedTeamResult(path, "garak", passed, total, tuple(sorted(failed))) if seen else None


def parse_result(path: str, data: bytes) -> RedTeamResult | None:
    if len(data) > MAX_RESULT_BYTES:
        return None
    if path.lower().endswith(".jsonl"):
        return parse_garak(path, data)
    return parse_promptfoo(path, data)


@dataclass(frozen=True)
class RuleOutcome:
    name: str
    triggered_by: tuple[str, ...]
    met: bool
    why: str
    evidence: tuple[RedTeamResult, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "triggered_by": list(self.triggered_by),
            "met": self.met,
            "why": self.why,
            "evidence": [e.to_dict() for e in self.evidence],
        }


@dataclass
class EvidenceInput:
    ai_paths: Mapping[str, str]  # path -> asset kind
    changed: Sequence[str]  # every path the PR changes (head side)
    results: Mapping[str, RedTeamResult | None] = field(default_factory=dict)  # parsed result files


def result_candidates(rules: Sequence[Mapping[str, Any]], changed: Sequence[str]) -> list[str]:
    """The changed files some `min_pass_rate` rule may read (so the caller fetches only those)."""
    globs = [g for r in rules if r.get("min_pass_rate") is not None for g in r.get("require_paths") or ()]
    matcher = PathMatcher(globs)
    return [p for p in changed if matcher(p)]


def evaluate_rules(rules: Sequence[Mapping[str, Any]], facts: EvidenceInput) -> list[RuleOutcome]:
    out: list[RuleOutcome] = []
    for rule in rules:
        kinds = set(rule.get("when_kinds") or ())
        when = PathMatcher(rule.get("when_paths") or ())
        triggers = tuple(p for p, k in facts.ai_paths.items() if k in kinds or when(p))
        if not triggers:
            continue
        name = str(rule["name"])
        need = PathMatcher(rule.get("require_paths") or ())
        present = [p for p in facts.changed if need(p)]
        if rule.get("require_paths") and not present:
            out.append(
                RuleOutcome(
                    name, triggers, False, f"no file matching {', '.join(rule['require_paths'])} in this PR"
                )
            )
            continue
        threshold = rule.get("min_pass_rate")
        if threshold is None:
            out.append(RuleOutcome(name, triggers, True, f"present: {', '.join(present[:5])}"))
            continue
        parsed = [r for p in present if (r := facts.results.get(p)) is not None]
        if not parsed:
            out.append(
                RuleOutcome(
                    name,
                    triggers,
                    False,
                    "no readable promptfoo or garak result among " + ", ".join(present[:5]),
                )
            )
            continue
        best = max(parsed, key=lambda r: r.pass_rate)
        met = best.pass_rate >= float(threshold)
        why = (
            f"pass rate {best.pass_rate:.2%} in {best.path} ({best.tool}) "
            f"{'≥' if met else '<'} {float(threshold):.2%}"
        )
        if best.failed_categories:
            why += f"; failed: {', '.join(best.failed_categories[:8])}"
        out.append(RuleOutcome(name, triggers, met, why, tuple(parsed)))
    return out
