"""Benchmark: prguard's AI-infrastructure IaC rules (checks.iac.ai_rules.scan_file) on a PR-sized file set.

The set is the rules' own test fixtures (tests/fixtures/iac_ai: 40 bad + 40 good files — Kubernetes, Helm
values, compose, Terraform, tfvars, LiteLLM, Kong, Envoy), i.e. a PR touching 80 IaC files. Rows: a fresh
interpreter importing the rules and scanning one Terraform file (import + hcl2 grammar: paid once per worker
process), then warm scans of the whole set beside the floor any parser pays — plain `yaml.safe_load_all`
(C loader) and `hcl2.loads` on the same bytes. Best of N runs.

    .venv/bin/python bench/iac_ai_rules.py
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import hcl2  # noqa: E402
import yaml  # noqa: E402

from checks.iac.ai_rules import applies, scan_file  # noqa: E402

RUNS = 5
FIXTURES = ROOT / "tests" / "fixtures" / "iac_ai"


def files() -> list[tuple[str, str]]:
    out = []
    for path in sorted(FIXTURES.rglob("*")):
        rel = path.relative_to(FIXTURES).as_posix()
        if path.is_file() and applies(rel):
            out.append((rel, path.read_text()))
    return out


def best(fn) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def plain(batch: list[tuple[str, str]]) -> None:
    for path, text in batch:
        try:
            if path.endswith((".tf", ".tfvars")):
                hcl2.loads(text)
            else:
                list(yaml.load_all(text, Loader=yaml.CSafeLoader))
        except Exception:  # the parse-error fixture
            pass


def cold() -> float:
    code = ("import time; t = time.perf_counter(); from checks.iac.ai_rules import scan_file; "
            "scan_file('m/variables.tf', 'variable \"openai_api_key\" {\\n  default = \"x\"\\n}\\n'); "
            "print(time.perf_counter() - t)")
    runs = [float(subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                                 check=True).stdout) for _ in range(3)]
    return min(runs)


def main() -> None:
    batch = files()
    tf = [f for f in batch if f[0].endswith((".tf", ".tfvars"))]
    yml = [f for f in batch if not f[0].endswith((".tf", ".tfvars"))]
    rows = [("cold start: import + first Terraform scan (fresh process)", cold(), None)]
    for label, subset in ((f"all {len(batch)} files", batch), (f"{len(tf)} Terraform files", tf),
                          (f"{len(yml)} YAML files", yml)):
        ours = best(lambda s=subset: [scan_file(p, t) for p, t in s])
        floor = best(lambda s=subset: plain(s))
        rows.append((f"warm: {label}", ours, floor))
    print("| case | prguard AI rules (s) | plain yaml/hcl2 load (s) | ratio |")
    print("|---|---|---|---|")
    for label, ours, floor in rows:
        ratio = f"{ours / floor:.2f}×" if floor else "—"
        print(f"| {label} | {ours:.3f} | {'—' if floor is None else f'{floor:.3f}'} | {ratio} |")


if __name__ == "__main__":
    main()
