"""The scale-out benchmark's results and their rendering (bench/scale_out.py runs the bursts).

Why a module of its own: the bench drives processes (the double, the receiver, the workers) and measures; what
it measured (`Burst`) and how it reads in docs/BENCHMARKS.md (the tables, the CPU ceiling, the section text)
change for other reasons, and together they did not fit in one file of reasonable size.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.e2e_latency import percentile

SECTION = "## Scale-out"
ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Burst:
    """What one burst measured: wall time, per-PR latencies, CPU per process, jobs and incidents."""

    workers: int
    concurrency: int
    latency_ms: float
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)
    jobs: Counter[str] = field(default_factory=Counter)
    incidents: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    rss_mb: list[float] = field(default_factory=list)
    duplicate_runs: int = 0


def tables(bursts: list[Burst], args: argparse.Namespace) -> list[str]:
    """The three tables of one latency: timings, CPU per process (with the ceiling), jobs and incidents."""
    latency = (f"the double adds **{bursts[0].latency_ms:g} ms** to every API call" if bursts[0].latency_ms
               else "**no added GitHub latency** (the double answers at loopback speed)")
    base = bursts[0].seconds
    rows = [
        f"{len(bursts[0].latencies)} PRs, {latency}:", "",
        "| worker processes | concurrency each | PRs | seconds | PRs/s | speed-up | per-PR p50 | per-PR p95 "
        "| API calls/PR |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for b in bursts:
        speedup = base / b.seconds if b.seconds else float("nan")
        rows.append(f"| {b.workers} | {b.concurrency} | {args.prs} | {b.seconds:.2f} "
                    f"| {args.prs / b.seconds:.1f} | {speedup:.2f}× | {percentile(b.latencies, .5):.2f} s "
                    f"| {percentile(b.latencies, .95):.2f} s | {b.requests / (args.prs or 1):.1f} |")
    names = sorted({k for b in bursts for k in b.cpu if k.startswith("worker")})
    columns = ["receiver", *names, "double", "redis", "bench"]
    rows += ["", "CPU seconds during each burst (% = share of the burst's wall time × cores):", "",
             "| workers × concurrency | " + " | ".join(columns) + " | other processes | machine busy |",
             "|---:|" + "---:|" * (len(columns) + 2)]
    cores = os.cpu_count() or 1
    for b in bursts:
        ours = sum(b.cpu.get(c, 0.0) for c in columns)
        other = max(0.0, b.cpu["machine"] - ours)
        cells = [b.cpu.get(c) for c in columns] + [other, b.cpu["machine"]]
        rows.append(f"| {b.workers}×{b.concurrency} | " + " | ".join(
            "–" if v is None else f"{v:.1f} ({100 * v / (b.seconds * cores):.0f}%)" for v in cells) + " |")
    rows += ["", ceiling(bursts[0], args.prs, cores)]
    rows += ["", "| workers × concurrency | jobs done per process (feature) | peak RSS per process "
             "| incidents |", "|---:|---|---|---|"]
    for b in bursts:
        jobs = ", ".join(f"{k}: {v}" for k, v in sorted(b.jobs.items()))
        incidents = ", ".join(f"{k}: {v}" for k, v in sorted(b.incidents.items())) or "none"
        rss = ", ".join(f"{mb:.0f} MB" for mb in b.rss_mb)
        rows.append(f"| {b.workers}×{b.concurrency} | {jobs} | {rss} | {incidents}; "
                    f"duplicate check runs: {b.duplicate_runs} |")
    return rows


def ceiling(one: Burst, prs: int, cores: int) -> str:
    """What the CPU costs of the first run allow on this machine if nothing else ran on it."""
    worker = sum(v for k, v in one.cpu.items() if k.startswith("worker")) / prs
    rest = sum(one.cpu[k] for k in ("receiver", "double", "redis")) / prs
    single = 1 / worker  # a worker's Python runs under one GIL: about one core per process
    double = min(2 / worker, cores / (worker + rest))
    return (f"CPU budget from the first run: {1000 * worker:.0f} ms of worker CPU per PR (one process ≈ one "
            f"core: at best {single:.1f} PRs/s) plus {1000 * rest:.0f} ms in the receiver, the double and "
            f"Redis. On {cores} otherwise idle cores two processes could reach at best {double:.1f} PRs/s: "
            f"a CPU ceiling of **{double / single:.2f}×** for two processes over one.")


def section(bursts: list[Burst], args: argparse.Namespace, load_before: float) -> str:
    """The whole `## Scale-out` section: the command, the machine, what was measured, tables per latency."""
    return "\n".join([
        SECTION, "",
        f"`.venv/bin/python bench/scale_out.py --prs {args.prs} --workers {args.workers} --concurrency "
        f"{args.concurrency} --github-latency-ms {args.github_latency_ms}` — {time.strftime('%Y-%m-%d')}, "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, load average "
        f"{load_before:.1f} before / {os.getloadavg()[0]:.1f} after.", "",
        f"A burst of {args.prs} signed `pull_request.opened` deliveries (distinct PRs of {args.files} small "
        "Python files, one leaking a token; default policy, all four checks) sent to one `prguard serve`; "
        "time from the first delivery until the GitHub double shows the four check runs of every PR "
        "completed. "
        "Workers are separate `prguard worker --concurrency C` processes sharing one Redis (private key "
        f"prefix), warmed up with {args.warmup} PRs each. The double runs in its own process. Each delivery "
        "makes three jobs, as in production: routing the delivery, then the scan and the sign-off. All "
        "processes share the machine's cores; `other processes` is whatever else ran on the machine.", "",
        *[row for ms in dict.fromkeys(b.latency_ms for b in bursts)
          for row in [*tables([b for b in bursts if b.latency_ms == ms], args), ""]],
    ])


def write_section(text: str) -> Path:
    """Replace this benchmark's own section of docs/BENCHMARKS.md (or append it)."""
    path = ROOT / "docs" / "BENCHMARKS.md"
    lines = path.read_text().splitlines(keepends=True)
    start_i = next((i for i, line in enumerate(lines) if line.strip() == SECTION), None)
    if start_i is None:
        path.write_text("".join(lines).rstrip("\n") + "\n\n" + text)
        return path
    end_i = next((i for i in range(start_i + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    rest = "\n" + "".join(lines[end_i:]) if end_i < len(lines) else ""
    path.write_text("".join(lines[:start_i]) + text + rest)
    return path
