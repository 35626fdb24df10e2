"""LLM-code rules on a 100-file PR of ordinary Python code: how much of the prompt-safety check is semgrep.

    .venv/bin/python bench/prompt_safety_code.py [--files 100] [--repeat 3]

The PR adds N ordinary Python files (the interpreter's own standard library, files of 2-40 KB, taken in
name order: real code, reproducible on any machine with the same Python). Two versions of that PR:
  - "ordinary": the files as they are. The check sends to semgrep only files the AI-asset classifier calls
    LLM code, so here semgrep may not run at all;
  - "llm": the same files with `import openai` as their first line, so every file is LLM code and goes to
    semgrep (the worst case: a PR of 100 LLM-using files).
In the same run, each repeat times, for each version:
  1. the whole prompt-safety check (`checks.engine.run_check(PromptSafetyCheck(), change)`),
  2. its semgrep part alone (`checks.prompt_safety.semgrep.scan`: materialize + one semgrep + parsing),
  3. plain `semgrep scan --config <rules> --json <files>` on a copy of the files (offline flags only).
Prints a markdown table of medians and the share of the check's time spent in semgrep.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from checks.change import Change, ChangedFile, FileStatus, LineSet
from checks.context import CheckContext
from checks.diff import line_count
from checks.engine import run_check
from checks.prompt_safety.semgrep import RULES_DIR, scan
from checks.prompt_safety.semgrep.runner import environment, semgrep_binary


def ordinary_files(count: int) -> dict[str, bytes]:
    lib = Path(sysconfig.get_paths()["stdlib"])
    picked: dict[str, bytes] = {}
    for path in sorted(lib.glob("*.py")):
        size = path.stat().st_size
        if 2_000 <= size <= 40_000:
            picked[f"src/{path.name}"] = path.read_bytes()
        if len(picked) == count:
            break
    return picked


def change_of(files: dict[str, bytes]) -> Change:
    return Change(base="base", head="head", files=[
        ChangedFile(path=p, status=FileStatus.ADDED, added_lines=LineSet.whole(line_count(d)), size=len(d),
                    head_loader=lambda d=d: d) for p, d in files.items()])


def time_check(files: dict[str, bytes]) -> tuple[float, int]:
    from checks.prompt_safety import PromptSafetyCheck

    started = time.perf_counter()
    result = run_check(PromptSafetyCheck(), change_of(files), timeout=300)
    if result.error:
        raise SystemExit(f"the check failed: {result.error}")
    return time.perf_counter() - started, len(result.findings)


def time_semgrep_part(files: dict[str, bytes]) -> tuple[float, int]:
    change = change_of(files)
    ctx = CheckContext(change, files=change.files)
    started = time.perf_counter()
    try:
        out = list(scan(change.files, ctx))
    finally:
        ctx.workspace.close()
    return time.perf_counter() - started, len(out)


def plain_semgrep_command(paths: list[str], home: Path) -> tuple[list[str], dict[str, str]]:
    """Plain `semgrep scan` of prguard's rules over `paths` (offline flags only) and its environment; shared
    with bench/per_check.py."""
    argv = [semgrep_binary(), "scan", "--config", str(RULES_DIR), "--json", "--quiet", "--metrics=off",
            "--disable-version-check", *paths]
    return argv, {"PATH": os.environ.get("PATH", ""), "HOME": str(home), **environment(home)}


def time_plain(files: dict[str, bytes]) -> tuple[float, int]:
    root = Path(tempfile.mkdtemp(prefix="bench-semgrep-"))
    home = root / "home"
    home.mkdir()
    try:
        for p, d in files.items():
            (root / p).parent.mkdir(parents=True, exist_ok=True)
            (root / p).write_bytes(d)
        argv, env = plain_semgrep_command(list(files), home)
        started = time.perf_counter()
        proc = subprocess.run(argv, cwd=root, env=env, capture_output=True, check=False)
        took = time.perf_counter() - started
        if proc.returncode not in (0, 1):
            raise SystemExit(f"semgrep failed: {proc.stderr.decode()[-300:]}")
        return took, proc.stdout.count(b'"check_id"')
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    ordinary = ordinary_files(args.files)
    versions = {"ordinary": ordinary, "llm": {p: b"import openai\n" + d for p, d in ordinary.items()}}
    size = sum(map(len, ordinary.values()))
    rows: dict[tuple[str, str], list[float]] = {}
    counts: dict[tuple[str, str], int] = {}
    for _ in range(args.repeat):
        for version, files in versions.items():
            for name, fn in (("whole check", time_check), ("semgrep part", time_semgrep_part),
                             ("plain semgrep", time_plain)):
                took, n = fn(files)
                rows.setdefault((version, name), []).append(took)
                counts[(version, name)] = n
    med = {k: statistics.median(v) for k, v in rows.items()}
    print(f"{len(ordinary)} files, {size / 1024:.0f} KB of Python (stdlib), {args.repeat} run(s) each, "
          f"{os.cpu_count()} CPUs, machine shared with other jobs (figures taken under load)\n")
    print("| PR | what | median s | min s | max s | output |")
    print("|---|---|---:|---:|---:|---|")
    for (version, name), values in rows.items():
        unit = "findings" if name == "whole check" else "results" if name == "plain semgrep" else "items"
        print(f"| {version} | {name} | {med[(version, name)]:.2f} | {min(values):.2f} | {max(values):.2f} "
              f"| {counts[(version, name)]} {unit} |")
    for version in versions:
        check, part, plain = (med[(version, n)] for n in ("whole check", "semgrep part", "plain semgrep"))
        print(f"\n{version}: whole check {check:.2f} s; semgrep part {part:.2f} s measured alone "
              f"({part / check:.0%} of the check's time); plain semgrep {plain:.2f} s "
              f"(prguard's materialize + parsing around it: {part - plain:+.2f} s)")


if __name__ == "__main__":
    main()
