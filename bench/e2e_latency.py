"""End-to-end latency: signed delivery → last of the four check runs completed on the GitHub double.

The App runs as it does in production, as two processes: `prguard serve` (the receiver) and `prguard worker
--concurrency 1`, with a real Redis (a private key prefix) and the GitHub double (real HTTP on loopback, in
this process). For a 10-file and a 300-file PR (each file a small Python module, one of them leaking a token)
it measures, over `--runs` fresh PRs each, the time from sending `pull_request.opened` to the moment the
double shows all four runs completed, and the receiver's latency per delivery: the client-side round trip and
the receiver's own `ms` from its log, over every delivery of the runs plus `--redeliveries` redeliveries of
each (same X-GitHub-Delivery: GitHub's redelivery, answered from the dedupe mark).

    .venv/bin/python bench/e2e_latency.py [--runs 5] [--redeliveries 20] [--no-write]

Prints a table and replaces the `## End-to-end latency` section of docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import statistics
import string
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e_stack import CHECKS, pr_payload  # noqa: E402
from tests.github_double.double import GitHubDouble  # noqa: E402
from tests.redis_server import delete_prefix, free_port, reachable  # noqa: E402
from tests.webhooks import json_body, send  # noqa: E402

SECTION = "## End-to-end latency"
ALNUM = string.ascii_letters + string.digits


def module(i: int) -> bytes:
    body = "".join(f"def f{i}_{n}(x):\n    return x * {n} + {i}\n\n" for n in range(10))
    return f'"""Module {i}."""\n\nimport os\n\n{body}'.encode()


def leak() -> bytes:
    token = "ghp_" + "".join(secrets.choice(ALNUM) for _ in range(36))
    return f"import os\n\nTOKEN = '{token}'\n".encode()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    return subprocess.Popen([sys.executable, "-m", "bot.cli.main", *args], cwd=ROOT, env=env,
                            stdout=handle, stderr=subprocess.STDOUT)


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.005)


def completed(double: GitHubDouble, head_sha: str) -> bool:
    for name in CHECKS:
        runs = double.check_runs("octo/repo", head_sha, name)
        if not runs or runs[-1].status != "completed":
            return False
    return True


def one_run(double: GitHubDouble, inst: int, files: int, url: str, secret: str, client: httpx.Client,
            redeliveries: int, round_trips: list[float]) -> float:
    changes: dict[str, tuple[bytes | None, bytes | None]] = {
        f"pkg{files}/mod_{i:03}.py": (None, module(i)) for i in range(files - 1)
    }
    changes[f"pkg{files}/settings_{uuid.uuid4().hex[:6]}.py"] = (None, leak())
    pr = double.create_pull_request("octo/repo", changes=changes, head=f"feature-{uuid.uuid4().hex[:8]}")
    body = json_body(pr_payload(pr, inst))
    delivery = str(uuid.uuid4())
    started = time.perf_counter()
    reply = send(url, "pull_request", body, secret, delivery, client)
    round_trips.append((time.perf_counter() - started) * 1000)
    if reply.status_code != 202:
        raise SystemExit(f"receiver answered {reply.status_code}: {reply.text}")
    wait_until(lambda: completed(double, pr.head_sha), 120, f"{files}-file PR check runs")
    elapsed = time.perf_counter() - started
    conclusion = double.check_run("octo/repo", pr.head_sha, "prguard/secrets").conclusion
    if conclusion != "failure":
        raise SystemExit(f"expected the leaked token to fail prguard/secrets, got {conclusion}")
    for _ in range(redeliveries):  # GitHub's redelivery of the same delivery: deduplicated
        t0 = time.perf_counter()
        again = send(url, "pull_request", body, secret, delivery, client)
        round_trips.append((time.perf_counter() - t0) * 1000)
        if again.status_code != 200:
            raise SystemExit(f"redelivery answered {again.status_code}")
    return elapsed


def receiver_ms(log: Path) -> list[float]:
    values = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("event") == "webhook.delivery" and "ms" in record:
            values.append(float(record["ms"]))
    return values


def write_section(text: str, section: str = SECTION) -> Path:
    """Replace the `section` heading's part of docs/BENCHMARKS.md with `text` (appended when missing)."""
    path = ROOT / "docs" / "BENCHMARKS.md"
    current = path.read_text() if path.exists() else "# Benchmarks\n"
    lines = current.splitlines(keepends=True)
    start_i = next((i for i, line in enumerate(lines) if line.strip() == section), None)
    if start_i is None:
        updated = current.rstrip("\n") + "\n\n" + text
    else:
        end_i = next((i for i in range(start_i + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        rest = "\n" + "".join(lines[end_i:]) if end_i < len(lines) else ""
        updated = "".join(lines[:start_i]) + text + rest
    path.parent.mkdir(exist_ok=True)
    path.write_text(updated)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--redeliveries", type=int, default=20)
    parser.add_argument("--sizes", default="10,300")
    parser.add_argument("--redis-url", default=os.environ.get("PRGUARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/BENCHMARKS.md alone")
    args = parser.parse_args()
    if args.redis_url.startswith("redis://127.0.0.1:6379") and not reachable("127.0.0.1", 6379):
        raise SystemExit("Redis is not reachable on 127.0.0.1:6379 (set --redis-url)")
    sizes = [int(s) for s in args.sizes.split(",")]
    prefix = f"prguard-bench-{uuid.uuid4().hex[:8]}"
    results: dict[int, list[float]] = {}
    round_trips: list[float] = []
    with GitHubDouble() as double, tempfile.TemporaryDirectory() as tmp:
        inst = double.add_installation("octo")
        double.add_repo("octo/repo", installation_id=inst, files={"README.md": b"bench\n"})
        port = free_port()
        env = {**os.environ, "GITHUB_APP_ID": str(double.app_id),
               "GITHUB_PRIVATE_KEY": double.private_key_pem, "GITHUB_WEBHOOK_SECRET": double.webhook_secret,
               "GITHUB_API_URL": double.base_url,
               "REDIS_URL": args.redis_url, "PRGUARD_REDIS_PREFIX": prefix, "PRGUARD_LOG_LEVEL": "INFO"}
        web_log, worker_log = Path(tmp) / "web.log", Path(tmp) / "worker.log"
        web = start(["serve", "--host", "127.0.0.1", "--port", str(port)], env, web_log)
        worker = start(["worker", "--concurrency", "1"], env, worker_log)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until(lambda: _healthy(url), 30, "the receiver")
            with httpx.Client(timeout=15) as client:
                one_run(double, inst, 10, url, double.webhook_secret, client, 0, [])  # warm-up, not counted
                for size in sizes:
                    results[size] = [one_run(double, inst, size, url, double.webhook_secret, client,
                                             args.redeliveries, round_trips) for _ in range(args.runs)]
        finally:
            for proc in (worker, web):
                proc.terminate()
            for proc in (worker, web):
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
            delete_prefix(args.redis_url, prefix)
        server_ms = receiver_ms(web_log)

    rows = [(size, statistics.median(v), min(v), max(v)) for size, v in results.items()]
    deliveries = len(round_trips)
    table = [
        "| PR size | median delivery → last check run completed | min | max | runs |",
        "|---|---|---|---|---|",
        *[f"| {size} files | {med:.2f} s | {lo:.2f} s | {hi:.2f} s | {args.runs} |"
          for size, med, lo, hi in rows],
        "",
        "| receiver latency per delivery | p50 | p99 | max | deliveries |",
        "|---|---|---|---|---|",
        f"| client round trip (POST /webhook → reply) | {percentile(round_trips, .5):.2f} ms "
        f"| {percentile(round_trips, .99):.2f} ms | {max(round_trips):.2f} ms | {deliveries} |",
        f"| inside the receiver (its `ms` log field) | {percentile(server_ms, .5):.2f} ms "
        f"| {percentile(server_ms, .99):.2f} ms | {max(server_ms):.2f} ms | {len(server_ms)} |",
    ]
    section = "\n".join([
        SECTION, "",
        f"`bench/e2e_latency.py` ({time.strftime('%Y-%m-%d')}, {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}): `prguard serve` and one "
        "`prguard worker --concurrency 1` as separate processes, a real Redis, the GitHub double over "
        "loopback HTTP. Each run is a fresh PR of small Python files, one of which leaks a token (so "
        "`prguard/secrets` fails with an annotation); time from sending the signed `pull_request.opened` "
        "to the double showing all four check runs completed. Receiver latency covers every delivery of "
        f"those runs plus {args.redeliveries} GitHub-style redeliveries of each (same delivery id, "
        "deduplicated; the same single Redis round trip as a queued one).", "",
        *table, "",
    ])
    print(section)
    if not args.no_write:
        print(f"wrote {write_section(section)}")
    return 0


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False



if __name__ == "__main__":
    sys.exit(main())
