"""Precision and recall of the prompt-safety check on the AI corpus (tests/ai_corpus), per asset kind.

Every case (prompts, agent rules, MCP configs, agent settings, datasets, and the model and LLM-code cases the
other modules add) goes through the real check (`checks.engine.run_check`); a malicious case counts as caught
only with its expected rule, a clean one as a false alarm with any finding of severity low or above.

    .venv/bin/python bench/prompt_safety_corpus.py          # markdown table, then misses and false alarms

The corpus was written together with the rules, so these are on-corpus figures (regression numbers), not a
held-out estimate.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.ai_corpus import load_all, run, score


def main() -> int:
    cases = load_all()
    started = time.perf_counter()
    outcomes, results = run(cases)
    seconds = time.perf_counter() - started
    table = score(outcomes)
    print("| asset kind | cases (malicious / clean) | caught | missed | false alarms | precision | recall |")
    print("|---|---|---|---|---|---|---|")
    total = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    for kind, s in table.items():
        print(f"| {kind} | {s.tp + s.fn} / {s.fp + s.tn} | {s.tp} | {s.fn} | {s.fp} | {s.precision:.3f} "
              f"| {s.recall:.3f} |")
        for key in total:
            total[key] += getattr(s, key)
    tp, fp, fn = total["tp"], total["fp"], total["fn"]
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    print(f"| **all** | {tp + fn} / {fp + total['tn']} | {tp} | {fn} | {fp} | {precision:.3f} | "
          f"{recall:.3f} |")
    print(f"\n{len(cases)} cases in {len(results)} engine run(s), {seconds:.2f} s.")
    errors = [r.error for r in results if r.error]
    for error in errors:
        print(f"- check error: {error}")
    for o in outcomes:
        if o.case.malicious and not o.caught:
            print(f"- missed: {o.case.kind} {o.case.path} ({o.case.note}); skipped: "
                  f"{[s.reason for s in o.skipped]}")
        elif not o.case.malicious and o.flagged:
            print(f"- false alarm: {o.case.kind} {o.case.path} ({o.case.note}): "
                  f"{sorted({f.rule_id for f in o.alarms})}")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
