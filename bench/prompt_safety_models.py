# ruff: noqa: E501
"""Model artifacts: (1) the pickle bypass corpus through prguard's walker and the maintained scanners,
(2) time and peak RSS of `prguard scan` on a change adding a 200 MB model (streamed over the size cap).

    .venv/bin/python bench/prompt_safety_models.py [--engines-python /path/to/venv/bin/python] [--mb 200]

Engines (fickling, picklescan, modelscan, modelaudit) are run from another interpreter that has them
installed (they are not prguard dependencies), with `PROMPTFOO_DISABLE_TELEMETRY=1`. Prints markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ENGINE_RUNNER = r'''
import json, sys, os, io, contextlib, logging
logging.disable(logging.CRITICAL)
paths = sys.argv[1:]
out = {}
def verdict(fn, p):
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return fn(p)
    except Exception as e:
        return "error:" + type(e).__name__
def picklescan_(p):
    from picklescan.scanner import scan_file_path
    r = scan_file_path(p)
    return "flag" if (r.issues_count or r.scan_err) else "pass"
def fickling_(p):
    import fickling
    try:
        ok = fickling.is_likely_safe(p)
    except Exception:
        return "flag"
    return "pass" if ok else "flag"
def modelscan_(p):
    from modelscan.modelscan import ModelScan
    from modelscan.settings import DEFAULT_SETTINGS
    r = ModelScan(settings=DEFAULT_SETTINGS).scan(p)
    return "flag" if r["issues"] or r["errors"] else ("pass" if r["summary"]["scanned"]["total_scanned"] else "skip")
def modelaudit_(p):
    from modelaudit.core import scan_model_directory_or_file
    r = scan_model_directory_or_file(p)
    issues = getattr(r, "issues", None) if not isinstance(r, dict) else r.get("issues")
    sev = [str(getattr(i, "severity", i.get("severity") if isinstance(i, dict) else "")).lower() for i in issues or []]
    return "flag" if any(("critical" in s or "warning" in s or "error" in s) for s in sev) else "pass"
for name, fn in (("picklescan", picklescan_), ("fickling", fickling_), ("modelscan", modelscan_), ("modelaudit", modelaudit_)):
    out[name] = {p: verdict(fn, p) for p in paths}
print(json.dumps(out))
'''


def engines_table(python: str) -> str:
    from checks.prompt_safety.models.pickle import scan_bytes
    from tests.ai_corpus import Case
    from tests.ai_corpus.models import PICKLE_CASES, TORCH_STATE, npy, torch_zip

    benign = [Case("model", "benign/state_dict.pt", torch_zip(TORCH_STATE), False, "BENIGN: torch state dict zip"),
              Case("model", "benign/state.pkl", TORCH_STATE, False, "BENIGN: plain pickle of a state dict"),
              Case("model", "benign/num.npy", npy("<f4", (2,), b"\0" * 8), False, "BENIGN: numeric npy")]
    fixtures = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "models"
    benign += [Case("model", f"benign/{p.name}", p.read_bytes(), False, f"BENIGN (real library output): {p.name}")
               for p in sorted(fixtures.glob("*")) if p.suffix in (".joblib", ".npy", ".npz")]
    PICKLE_CASES = [*PICKLE_CASES, *benign]

    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for case in PICKLE_CASES:
            p = Path(tmp) / case.path.replace("/", "_")
            p.write_bytes(case.data)
            paths.append(str(p))
        env = {**os.environ, "PROMPTFOO_DISABLE_TELEMETRY": "1", "HOME": tmp}
        started = time.perf_counter()
        proc = subprocess.run([python, "-c", ENGINE_RUNNER, *paths], capture_output=True, text=True, env=env,
                              timeout=600)
        engine_s = time.perf_counter() - started
        try:
            results = json.loads(proc.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            return f"engines failed: {proc.stderr[-500:]}"
    from checks.prompt_safety.models import scan as model_scan

    names = ["prguard", *results]
    rows = ["| case | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    caught = dict.fromkeys(names, 0)
    started = time.perf_counter()
    ours = {}
    for case in PICKLE_CASES:
        ours[case.path] = _prguard(case, model_scan)
    ours_s = time.perf_counter() - started
    for case, path in zip(PICKLE_CASES, paths, strict=True):
        cells = [ours[case.path], *(results[n][path] for n in results)]
        for n, c in zip(names, cells, strict=True):
            caught[n] += c == "flag"
        rows.append(f"| {case.note} | " + " | ".join(cells) + " |")
    bad = len(PICKLE_CASES) - len(benign)
    tp = dict.fromkeys(names, 0)
    fp = dict.fromkeys(names, 0)
    for case, path in zip(PICKLE_CASES, paths, strict=True):
        for n in names:
            verdict = ours[case.path] if n == "prguard" else results[n][path]
            if verdict == "flag":
                (tp if case.malicious else fp)[n] += 1
    rows.append("| **malicious caught** | " + " | ".join(f"**{tp[n]}/{bad}**" for n in names) + " |")
    rows.append("| **benign flagged** | " + " | ".join(f"**{fp[n]}/{len(benign)}**" for n in names) + " |")
    del caught
    del scan_bytes
    return "\n".join(rows) + f"\n\nprguard {ours_s:.2f} s for the corpus; the four engines {engine_s:.1f} s together."


def _prguard(case, model_scan) -> str:
    from checks.change import Change, ChangedFile, FileStatus, LineSet
    from checks.context import CheckContext

    f = ChangedFile(path=case.path, status=FileStatus.ADDED, added_lines=LineSet.whole(1), is_binary=True,
                    size=len(case.data), head_loader=lambda: case.data)
    items = list(model_scan.scan_model(f, CheckContext(Change("b", "h", [f]), files=[f])))
    sev = {getattr(i, "severity", None) for i in items}
    return "flag" if any(s is not None and s.value in ("critical", "high") for s in sev) else "pass"


def big_model_run(mb: int) -> str:
    """`prguard scan` (a subprocess: its own peak RSS) on a repo whose branch adds an `mb` MB PyTorch zip."""
    import zipfile

    from tests.ai_corpus.models import TORCH_STATE

    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        repo.mkdir()
        git = ["git", "-C", str(repo), "-c", "user.email=b@x", "-c", "user.name=b"]
        subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
        (repo / "README.md").write_text("x\n")
        subprocess.run([*git, "add", "."], check=True)
        subprocess.run([*git, "commit", "-qm", "base"], check=True)
        subprocess.run([*git, "checkout", "-qb", "feature"], check=True)
        (repo / "models").mkdir()
        with zipfile.ZipFile(repo / "models" / "big.pt", "w", zipfile.ZIP_STORED) as zf:
            zf.writestr("archive/data.pkl", TORCH_STATE)
            with zf.open("archive/data/0", "w", force_zip64=True) as member:
                block = os.urandom(1 << 20)
                for _ in range(mb):
                    member.write(block)
        subprocess.run([*git, "add", "."], check=True)
        subprocess.run([*git, "commit", "-qm", "model"], check=True)
        rows = ["| head | wall s | peak RSS MB, prguard process | peak RSS MB, largest git child | "
                "prompt-safety findings on big.pt |", "|---|---|---|---|---|"]
        for label, extra in (("baseline: empty change (--head main)", ["--head", "main"]), ("worktree", []),
                             ("commit (--head HEAD), loose object", ["--head", "HEAD"]),
                             ("commit (--head HEAD), packed (after git gc)", ["--head", "HEAD"])):
            if "packed" in label:
                subprocess.run([*git, "gc", "-q"], check=True)
            cmd = [sys.executable, "-c", RSS_RUNNER, "scan", str(repo), "--format", "json", *extra]
            started = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
            wall = time.perf_counter() - started
            own, child = proc.stderr.strip().splitlines()[-1].split()
            doc = json.loads(proc.stdout)
            rules = sorted({f["rule_id"].split("/")[-1] for f in doc["findings"] if f["path"] == "models/big.pt"})
            rows.append(f"| {label} | {wall:.1f} | {int(own) / 1024:.0f} | {int(child) / 1024:.0f} | "
                        f"{', '.join(rules) or '-'} |")
        return "\n".join(rows)


RSS_RUNNER = (
    "import resource, sys\n"
    "from bot.cli.main import main\n"
    "code = main(sys.argv[1:])\n"
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
    "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engines-python", default="/tmp/engvenv/bin/python")
    parser.add_argument("--mb", type=int, default=200)
    args = parser.parse_args()
    if Path(args.engines_python).exists():
        print("### Pickle bypass corpus: prguard vs the maintained scanners\n")
        print(engines_table(args.engines_python))
    print(f"\n### prguard scan on a branch adding a {args.mb} MB PyTorch zip\n")
    print(big_model_run(args.mb))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
