"""The AI-asset corpus: malicious cases and their clean look-alikes, built in code (nothing downloaded).

Each module of this package defines `CASES: list[Case]` (`text.py`: prompts, rules, agent configs and
datasets; `models.py`: model artifacts; `code.py`: LLM-using code). `load_all()` gathers them, `run()` puts
them through the real prompt-safety check (`checks.engine.run_check` on changes built from the cases, one
engine run per batch of distinct paths, so semgrep starts once per batch) and `score()` turns the outcome into
precision and recall per asset kind. `tests/test_prompt_safety_corpus.py` asserts on it and
`bench/prompt_safety_corpus.py` prints it.

A case is caught when the check reports a finding of severity `low` or above on its path (with
`expect_rule`, a finding of that rule, or a dataset finding whose `metadata["signal"]` is that rule); info
findings (the AI-BOM difference) are not alarms. A case that is only reported as not scanned is not caught.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections import defaultdict
from dataclasses import dataclass, field

from checks.change import Change, ChangedFile, FileStatus, LineSet, looks_binary
from checks.diff import line_count
from checks.engine import CheckResult, run_check
from checks.finding import Finding, Severity, Skipped


@dataclass(frozen=True)
class Case:
    kind: str  # an AssetKind value
    path: str
    data: bytes
    malicious: bool
    note: str
    expect_rule: str | None = None


def load_all() -> list[Case]:
    """Every module's `CASES`, in module-name order (a module without `CASES` is skipped)."""
    cases: list[Case] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        cases += list(getattr(module, "CASES", []))
    return cases


@dataclass
class Outcome:
    case: Case
    findings: list[Finding] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def alarms(self) -> list[Finding]:
        return [f for f in self.findings if f.severity.at_least(Severity.LOW)]

    @property
    def caught(self) -> bool:
        if self.case.expect_rule is None:
            return bool(self.alarms)
        return any(_matches(f, self.case.expect_rule) for f in self.alarms)

    @property
    def flagged(self) -> bool:
        return bool(self.alarms)


def _matches(finding: Finding, rule: str) -> bool:
    signal = finding.metadata.get("signal")
    return finding.rule_id == rule or (signal is not None and f"prompt-safety/{signal}" == rule)


def _changed(case: Case) -> ChangedFile:
    data = case.data
    return ChangedFile(path=case.path, status=FileStatus.ADDED, added_lines=LineSet.whole(line_count(data)),
                       is_binary=looks_binary(data), size=len(data), head_loader=lambda: data)


def batches(cases: list[Case]) -> list[list[Case]]:
    """Cases split so that no batch holds a path twice (first fit)."""
    out: list[tuple[set[str], list[Case]]] = []
    for case in cases:
        for paths, group in out:
            if case.path not in paths:
                paths.add(case.path)
                group.append(case)
                break
        else:
            out.append(({case.path}, [case]))
    return [group for _, group in out]


def run(cases: list[Case]) -> tuple[list[Outcome], list[CheckResult]]:
    """Every case through the real check; results kept so callers can assert no run errored."""
    from checks.prompt_safety import PromptSafetyCheck

    outcomes: list[Outcome] = []
    results: list[CheckResult] = []
    for group in batches(cases):
        change = Change(base="base", head="head", files=[_changed(c) for c in group])
        result = run_check(PromptSafetyCheck(), change, timeout=120)
        results.append(result)
        for case in group:
            outcomes.append(Outcome(case, [f for f in result.findings if f.path == case.path],
                                    [s for s in result.skipped if s.path == case.path]))
    return outcomes, results


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def score(outcomes: list[Outcome]) -> dict[str, Score]:
    """Per asset kind: a malicious case caught is a true positive, a clean one flagged a false positive."""
    table: dict[str, Score] = defaultdict(Score)
    for o in outcomes:
        s = table[o.case.kind]
        if o.case.malicious:
            if o.caught:
                s.tp += 1
            else:
                s.fn += 1
        elif o.flagged:
            s.fp += 1
        else:
            s.tn += 1
    return dict(sorted(table.items()))
