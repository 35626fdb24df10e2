"""Prompt-safety on a 100-file PR of ordinary Python code, and on the same PR made "LLM code".

The check sends to semgrep only source files that call an LLM/ML SDK, load models or deserialise
(`checks.ai_assets`), so an ordinary PR never starts semgrep; when every file is LLM code, semgrep is the
cost. Both PRs are timed in the same run, the prompt-safety check alone in its own process each time
(`checks.engine.run_check` on `change_from_git`), beside a plain `semgrep` run of the same rules over the
same files.

    .venv/bin/python bench/prompt_safety_code_pr.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.gitrepo import GitRepo  # noqa: E402

ALONE = """
import sys, time
from checks.engine import run_check
from checks.git_change import change_from_git
from checks.prompt_safety import PromptSafetyCheck
started = time.perf_counter()
result = run_check(PromptSafetyCheck(), change_from_git(sys.argv[1]))
print(json.dumps({"seconds": time.perf_counter() - started, "files": result.files_scanned,
                  "findings": len(result.findings), "error": result.error}))
""".replace("import sys, time", "import json, sys, time")


def sources(n: int) -> list[tuple[str, str]]:
    """n ordinary Python modules of the standard library (name, text), by name, each under 40 KB."""
    lib = Path(sysconfig.get_paths()["stdlib"])
    files = sorted((p for p in lib.glob("*.py") if p.stat().st_size < 40_000), key=lambda p: p.name)[:n]
    return [(f"src/{p.name}", p.read_text(encoding="utf-8", errors="replace")) for p in files]


def run_alone(repo: GitRepo) -> dict[str, object]:
    proc = subprocess.run([sys.executable, "-c", ALONE, str(repo.path)], capture_output=True, cwd=ROOT,
                          check=False)
    return json.loads(proc.stdout or b"{}")


def main() -> int:
    files = sources(100)
    kb = sum(len(t) for _, t in files) / 1024
    with tempfile.TemporaryDirectory(prefix="ps-code-") as tmp:
        plain = GitRepo.on_feature_branch(Path(tmp) / "plain", {"README.md": "x\n"})
        plain.commit(dict(files), "100 files")
        llm = GitRepo.on_feature_branch(Path(tmp) / "llm", {"README.md": "x\n"})
        llm.commit({name: "import openai\n" + text for name, text in files}, "100 LLM files")
        a = run_alone(plain)
        b = run_alone(llm)
        from checks.prompt_safety.semgrep.runner import RULES_DIR

        started = time.perf_counter()
        subprocess.run([str(ROOT / ".venv/bin/semgrep"), "scan", "--config", str(RULES_DIR), "--metrics=off",
                        "--disable-version-check", "--json", "--quiet", *[n for n, _ in files]],
                       cwd=llm.path, capture_output=True, check=False,
                       env={**os.environ, "SEMGREP_SEND_METRICS": "off"})
        semgrep_s = time.perf_counter() - started
    print(f"| PR (100 Python files, {kb:.0f} KB) | prompt-safety check (s) | files taken | findings |")
    print("|---|---|---|---|")
    print(f"| ordinary code | {a.get('seconds', 0):.2f} | {a.get('files')} | {a.get('findings')} |")
    print(f"| every file imports openai | {b.get('seconds', 0):.2f} | {b.get('files')} "
          f"| {b.get('findings')} |")
    print(f"| plain `semgrep scan` of the same rules and files | {semgrep_s:.2f} | 100 | — |")
    for name, r in (("ordinary", a), ("llm", b)):
        if r.get("error"):
            print(f"- {name}: error {r['error']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
