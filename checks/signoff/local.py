"""The facts document of a local change (`prguard scan --explain`): what a Rego policy would see for it,
without GitHub (no PR number, reviews, sign-offs or commit signatures: those exist only on GitHub)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from checks.ai_assets import AssetClassifier, AssetKind
from checks.change import Change, FileStatus
from checks.engine import CheckResult
from checks.policy import Policy
from checks.signoff.config import SignoffConfig
from checks.signoff.evidence import EvidenceInput, evaluate_rules, parse_result, result_candidates
from checks.signoff.facts import facts_document


def _added_text(file: Any) -> str:
    try:
        data = file.head_bytes()
    except Exception:  # too large or unreadable: no added text, the file is still listed
        return ""
    if data is None:
        return ""
    lines = data.decode("utf-8", "replace").splitlines()
    return "\n".join(lines[n - 1] for n in file.added_lines if 0 < n <= len(lines))


def local_facts(change: Change, results: Iterable[CheckResult], policy: Policy) -> dict[str, Any]:
    config = SignoffConfig.from_extra(policy.extra)
    classifier = AssetClassifier()
    extra = config.required_matcher()
    ai: dict[str, str] = {}
    added: dict[str, str] = {}
    for f in change.files:
        text = _added_text(f) if f.status is not FileStatus.REMOVED and not f.is_symlink else ""
        kind = classifier.classify(f.path, text.encode() if text else None)
        if kind is not None and kind != AssetKind.EVAL_RESULT:
            ai[f.path] = str(kind)
            added[f.path] = text
        elif extra(f.path):
            ai[f.path] = "policy"
    changed = [f.path for f in change.files if f.status is not FileStatus.REMOVED]
    parsed = {}
    for path in result_candidates(config.evidence, changed)[:20]:
        f = next(x for x in change.files if x.path == path)
        data = f.head_bytes() if not f.is_symlink else None
        parsed[path] = parse_result(path, data) if data is not None else None
    rules = evaluate_rules(config.evidence, EvidenceInput(ai, changed, parsed))
    results = list(results)
    findings = [
        {
            "check": r.check,
            "fingerprint": x.fingerprint,
            "severity": x.severity.value,
            "rule": x.rule_id,
            "path": x.path,
            "blocking": x.severity.at_least(policy.fail_on_for(r.check)),
            "waived": False,
        }
        for r in results
        for x in r.findings
    ]
    return facts_document(
        head=change.head or "",
        base_ref=change.base or "",
        files=[
            {"path": f.path, "status": str(f.status.value if hasattr(f.status, "value") else f.status)}
            for f in change.files
        ],
        ai_paths=ai,
        findings=findings,
        checks={
            f"prguard/{r.check}": ("error" if r.error else "findings" if r.findings else "clean")
            for r in results
        },
        redteam=[r.to_dict() for r in parsed.values() if r is not None],
        rules=[r.to_dict() for r in rules],
        added=added,
        aibom=_aibom(change) if ai else [],
    )


def _aibom(change: Change) -> list[str]:
    from checks.aibom.diff import summary_lines

    try:
        return summary_lines(change)
    except Exception as exc:  # said, never shown as "no difference"
        return [f"(the AI-BOM difference could not be computed: {type(exc).__name__})"]
