"""Webhook ingest: deliveries per second and latency of one `prguard serve` process, beside a bare reference
receiver on the same stack, in the same run.

The load comes from `wrk` (C, one thread, keep-alive connections; installed with apt-get when missing), so the
sender does not starve the server the way a Python client does. Every request is the real `pull_request`
payload of tests/fixtures (~28 KB), signed with HMAC-SHA256, with its own `X-GitHub-Delivery` id (a counter
per wrk thread, from a Lua script): each one is new work, answered 202 and queued. The reference receiver
(bench/ingest_reference.py) does only the HMAC check, a SET NX and an XADD, on uvicorn + uvloop + httptools +
redis-py/hiredis like prguard. Both write to the same Redis under private key prefixes, deleted afterwards.

    .venv/bin/python bench/webhook_ingest.py [--seconds 10] [--connections 16,32] [--rounds 3] [--no-write]

Each receiver is measured `--rounds` times, alternating which goes first (the machine's load drifts); the
table reports each one's median round and lists every round.

Prints a markdown table and replaces the `## Webhook ingest` section of docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import redis

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "webhooks" / "pull_request" / "opened.payload.json"
DOC = ROOT / "docs" / "BENCHMARKS.md"
SECTION = "## Webhook ingest"
SECRET = "bench-ingest-secret"
PRGUARD = "prguard serve"
REFERENCE = "reference (HMAC + SET NX + XADD)"

LUA = r"""
local body = io.open(os.getenv("INGEST_BODY"), "rb"):read("*a")
local signature = os.getenv("INGEST_SIGNATURE")
local threads = {}
local counter = 0
local tag = "t"
function setup(thread)
  thread:set("tag", "t" .. #threads)
  table.insert(threads, thread)
end
function init(args)
  counter = 0
end
function request()
  counter = counter + 1
  return wrk.format("POST", "/webhook", {
    ["Content-Type"] = "application/json",
    ["X-GitHub-Event"] = "pull_request",
    ["X-GitHub-Delivery"] = os.getenv("INGEST_RUN") .. "-" .. tag .. "-" .. counter,
    ["X-Hub-Signature-256"] = signature,
  }, body)
end
statuses = {}
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses")
    for code, n in pairs(s) do counts[tostring(code)] = (counts[tostring(code)] or 0) + n end
  end
  local parts = {}
  for code, n in pairs(counts) do table.insert(parts, string.format('"%s": %d', code, n)) end
  io.write(string.format(
    'RESULT {"requests": %d, "seconds": %.3f, "p50_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f, ' ..
    '"errors": %d, "statuses": {%s}}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.status + summary.errors.timeout, table.concat(parts, ", ")))
end
"""


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "wrk"],
        check=True,
        capture_output=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )
    return shutil.which("wrk") or sys.exit("wrk could not be installed")


def wait_ready(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not start")


def run_wrk(
    wrk: str, url: str, body_file: Path, signature: str, seconds: int, connections: int, workdir: Path
) -> dict:
    script = workdir / "ingest.lua"
    script.write_text(LUA)
    env = {
        **os.environ,
        "INGEST_BODY": str(body_file),
        "INGEST_SIGNATURE": signature,
        "INGEST_RUN": uuid.uuid4().hex[:12],
    }
    out = subprocess.run(
        [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(script), url],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    match = re.search(r"^RESULT (.*)$", out, re.M)
    if not match:
        raise SystemExit(f"wrk printed no result:\n{out}")
    return json.loads(match.group(1))


def measure(
    name: str,
    argv: list[str],
    env: dict[str, str],
    port: int,
    args: argparse.Namespace,
    wrk: str,
    body_file: Path,
    signature: str,
    workdir: Path,
    stream: str,
    connections: int,
) -> dict:
    db = redis.Redis.from_url(args.redis_url)
    proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(f"http://127.0.0.1:{port}/healthz")
        run_wrk(
            wrk, f"http://127.0.0.1:{port}", body_file, signature, 2, connections, workdir
        )  # warm-up
        before = db.xlen(stream)
        result = run_wrk(
            wrk, f"http://127.0.0.1:{port}", body_file, signature, args.seconds, connections, workdir
        )
        result["queued"] = db.xlen(stream) - before
    finally:
        proc.terminate()
        proc.wait(20)
    result["name"] = name
    result["connections"] = connections
    result["rate"] = result["requests"] / result["seconds"]
    return result


def counts(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def clear(redis_url: str, prefix: str) -> None:
    db = redis.Redis.from_url(redis_url)
    for key in db.scan_iter(match=f"{prefix}*", count=10_000):
        db.delete(key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", default="16,32",
                        help="wrk connections, comma-separated: each count is a measurement of its own")
    parser.add_argument("--rounds", type=int, default=3,
                        help="measure each receiver this many times, alternating which goes first (median)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    wrk = ensure_wrk()
    body = FIXTURE.read_bytes()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    prefixes = [f"bench-ingest-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    results: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        body_file = workdir / "body.json"
        body_file.write_bytes(body)
        env = {
            **os.environ,
            "GITHUB_WEBHOOK_SECRET": SECRET,
            "REDIS_URL": args.redis_url,
            "PRGUARD_REDIS_PREFIX": prefixes[0],
            "PRGUARD_LOG_LEVEL": "WARNING",
        }

        def prguard(port: int) -> tuple[list[str], dict[str, str], str]:
            argv = [sys.executable, "-m", "bot.cli.main", "serve", "--host", "127.0.0.1", "--port", str(port)]
            return argv, env, f"{prefixes[0]}:jobs"

        def reference(port: int) -> tuple[list[str], dict[str, str], str]:
            argv = [sys.executable, str(ROOT / "bench" / "ingest_reference.py"), str(port), args.redis_url,
                    prefixes[1], SECRET]
            return argv, dict(os.environ), f"{prefixes[1]}:jobs"

        receivers = [(PRGUARD, prguard), (REFERENCE, reference)]
        for connections in counts(args.connections):
            for round_no in range(args.rounds):
                # alternate which goes first, so a drift in the machine's load favours neither
                for name, make in receivers if round_no % 2 == 0 else receivers[::-1]:
                    port = free_port()
                    argv, proc_env, stream = make(port)
                    result = measure(name, argv, proc_env, port, args, wrk, body_file, signature, workdir,
                                     stream, connections)
                    result["round"] = round_no + 1
                    results.append(result)
                    # empty the stream between runs: it holds ~1.5 GB of bodies after one, and at its MAXLEN
                    # trimming would hide what a run queued
                    clear(args.redis_url, stream.rsplit(":", 1)[0])
    table = render(results, args)
    print(table)
    if not args.no_write:
        text = DOC.read_text()
        pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.M | re.S)
        DOC.write_text(
            pattern.sub(lambda _m: table.rstrip("\n") + "\n\n", text) if pattern.search(text)
            else text + "\n" + table + "\n"
        )


def median_of(results: list[dict], name: str) -> dict:
    """The round of `name` with the median rate (its own p50/p99 go with it, so a row is one real run)."""
    runs = sorted((r for r in results if r["name"] == name), key=lambda r: r["rate"])
    return runs[(len(runs) - 1) // 2]


def render(results: list[dict], args: argparse.Namespace) -> str:
    load = os.getloadavg()[0]
    lines = [
        SECTION,
        "",
        f"`.venv/bin/python bench/webhook_ingest.py --seconds {args.seconds} "
        f"--connections {args.connections} --rounds {args.rounds}` — "
        f"{time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, one server process each, load average {load:.1f} at the end.",
        "wrk (1 thread, keep-alive) sends the real `pull_request` payload (~28 KB), signed, with a new "
        "delivery id per request; both servers write to the same Redis, emptied between runs. All share the "
        f"machine's cores. For each number of connections, each receiver is measured {args.rounds} times, "
        "alternating which goes first; the table gives each one's median round, then every round.",
        "",
        "| receiver | connections | requests | deliveries/s | p50 ms | p99 ms | statuses | queued |",
        "|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    summary, rounds = [], []
    for connections in counts(args.connections):
        mine = [r for r in results if r["connections"] == connections]
        medians = [median_of(mine, PRGUARD), median_of(mine, REFERENCE)]
        for r in medians:
            statuses = ", ".join(f"{code}×{n}" for code, n in sorted(r["statuses"].items()))
            lines.append(
                f"| {r['name']} | {connections} | {r['requests']} | {r['rate']:.0f} | {r['p50_ms']:.2f} "
                f"| {r['p99_ms']:.2f} | {statuses} | {r['queued']} |"
            )
        summary.append(f"**{medians[0]['rate'] / medians[1]['rate']:.2f}×** with {connections} connections")
        for round_no in sorted({r["round"] for r in mine}):
            ours = next(r for r in mine if r["round"] == round_no and r["name"] == PRGUARD)
            ref = next(r for r in mine if r["round"] == round_no and r["name"] == REFERENCE)
            rounds.append(f"| {connections} | {round_no} | {ours['rate']:.0f} ({ours['p99_ms']:.1f}) | "
                          f"{ref['rate']:.0f} ({ref['p99_ms']:.1f}) | {ours['rate'] / ref['rate']:.2f}× |")
    lines += ["", "Every round (deliveries/s, p99 ms):", "",
              "| connections | round | prguard serve | reference | ratio |", "|---:|---:|---:|---:|---:|",
              *rounds]
    goals = []
    for connections in counts(args.connections):
        mine = [r for r in results if r["connections"] == connections]
        ours, ref = median_of(mine, PRGUARD), median_of(mine, REFERENCE)
        met = ours["rate"] >= 4000 and ours["p99_ms"] <= 20 and ours["rate"] >= 0.8 * ref["rate"]
        goals.append(f"{connections} connections: {'met' if met else '**missed**'}")
    lines += [
        "",
        "Goals (issue 11: ≥ 4,000/s, p99 ≤ 20 ms, ≥ 0.8 × the reference in the same run), on the medians: "
        + "; ".join(goals) + ". Single rounds vary: the machine's cores are shared by wrk, Redis and the "
        "server, and its load drifts, which is why the receivers alternate and the table takes medians. "
        "What prguard does beyond the reference: it validates the JSON (simdjson, no Python objects), logs "
        "the installation, repository, PR and head SHA of each delivery, bounds body memory and read time "
        "for unauthenticated clients (its head and body deadlines are one sweep per loop, not a timer per "
        "request), writes a 4-day dedupe mark and the PR's newest head in the same script as the XADD, and "
        "counts every outcome for `/metrics`. The scripts of deliveries that reach Redis in the same "
        "event-loop turn share one pipeline (`bot/runtime/batcher.py`): in an A/B of 8 runs each it cut the "
        "receiver's CPU per delivery from ~195 to ~165 µs at the same median throughput.",
    ]
    lines += [
        "",
        f"prguard answers {', '.join(summary)} the reference's deliveries per second (medians of the same "
        "run). `queued` counts stream entries written during the measured run (both queue one per "
        "delivery; prguard's workers route it to the features afterwards, off the receiver's clock).",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
