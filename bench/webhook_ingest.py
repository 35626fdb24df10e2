"""Webhook ingest: how fast `prguard serve` verifies, deduplicates and queues signed deliveries.

Starts `prguard serve` (as `python -m bot.cli.main serve`) against a real Redis with a private key prefix,
then sends real `pull_request` payloads (tests/fixtures/webhooks, one head SHA and delivery id each), signed
with HMAC-SHA256, from this separate process over loopback HTTP with httpx, at a few concurrency levels.
Prints a table and replaces the `## Webhook ingest` section of docs/BENCHMARKS.md.

    .venv/bin/python bench/webhook_ingest.py [--n 2000] [--redis-url redis://127.0.0.1:6379/0] [--no-write]

Client latency is the whole HTTP round trip seen by the sender; server time is the receiver's own `ms` field
of its `webhook.delivery` log line (signature check, JSON parse, routing, the Redis script).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import platform
import re
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "webhooks" / "pull_request" / "opened.payload.json"
DOC = ROOT / "docs" / "BENCHMARKS.md"
SECTION = "## Webhook ingest"


@dataclass
class Row:
    scenario: str
    concurrency: int
    n: int
    seconds: float
    latencies_ms: list[float]
    statuses: dict[int, int]

    @property
    def rate(self) -> float:
        return self.n / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bodies(n: int, start: int) -> list[tuple[str, bytes]]:
    """`n` distinct pull_request.synchronize deliveries (own PR number, head SHA and delivery id each)."""
    template = json.loads(FIXTURE.read_bytes())
    out = []
    for i in range(start, start + n):
        template["action"] = "synchronize"
        template["number"] = template["pull_request"]["number"] = 1000 + i
        template["pull_request"]["head"]["sha"] = hashlib.sha1(str(i).encode()).hexdigest()
        out.append((str(uuid.uuid4()), json.dumps(template).encode()))
    return out


async def send_all(url: str, secret: bytes, deliveries: list[tuple[str, bytes]], concurrency: int) -> Row:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    for item in deliveries:
        queue.put_nowait(item)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def sender() -> None:
            while not queue.empty():
                delivery, body = queue.get_nowait()
                headers = {
                    "Content-Type": "application/json",
                    "X-GitHub-Event": "pull_request",
                    "X-GitHub-Delivery": delivery,
                    "X-Hub-Signature-256": "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest(),
                }
                started = time.perf_counter()
                reply = await client.post("/webhook", content=body, headers=headers)
                latencies.append((time.perf_counter() - started) * 1000)
                statuses[reply.status_code] = statuses.get(reply.status_code, 0) + 1

        began = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return Row("", concurrency, len(deliveries), elapsed, latencies, statuses)


def server_times(log_path: Path, outcome: str) -> list[float]:
    times = []
    for line in log_path.read_text(errors="replace").splitlines():
        if '"webhook.delivery"' in line:
            record = json.loads(line)
            if record.get("outcome") == outcome:
                times.append(float(record["ms"]))
    return times


def write_section(text: str) -> None:
    DOC.parent.mkdir(parents=True, exist_ok=True)
    current = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(current):
        updated = pattern.sub(lambda _m: text, current, count=1)
    else:
        updated = current.rstrip("\n") + "\n\n" + text
    DOC.write_text(updated)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="deliveries per scenario (default 2000)")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/BENCHMARKS.md alone")
    args = parser.parse_args()

    prefix = f"bench-ingest-{uuid.uuid4().hex[:8]}"
    secret = secrets.token_hex(20)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_file = Path(tempfile.mkstemp(prefix="prguard-bench-", suffix=".log")[1])
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "GITHUB_WEBHOOK_SECRET": secret,
        "REDIS_URL": args.redis_url,
        "PRGUARD_REDIS_PREFIX": prefix,
        "PRGUARD_LOG_LEVEL": "INFO",
    }
    with log_file.open("w") as log_handle:
        server = subprocess.Popen(
            [sys.executable, "-m", "bot.cli.main", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log_handle,
        )
    db = redis.Redis.from_url(args.redis_url)
    rows: list[Row] = []
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"prguard serve did not start:\n{log_file.read_text()}")
            time.sleep(0.1)
        asyncio.run(send_all(url, secret.encode(), bodies(50, 10**6), 4))  # warm-up, not reported
        first = bodies(args.n, 0)
        batches = {("queued", 1): first, ("queued", 8): bodies(args.n, args.n), ("duplicate", 8): first}
        for (scenario, concurrency), batch in batches.items():  # duplicate: the first run's deliveries again
            row = asyncio.run(send_all(url, secret.encode(), batch, concurrency))
            row.scenario = scenario
            rows.append(row)
        queued = db.xlen(f"{prefix}:jobs")
    finally:
        server.terminate()
        server.wait(15)
        keys = list(db.scan_iter(match=f"{prefix}*", count=5000))
        for i in range(0, len(keys), 1000):
            db.delete(*keys[i : i + 1000])
        db.close()

    server_queued = server_times(log_file, "queued")
    server_dup = server_times(log_file, "duplicate")
    log_file.unlink()
    expected_queued = 50 + 2 * args.n
    header = (
        "| scenario | connections | deliveries | deliveries/s | client p50 ms | client p99 ms | statuses |\n"
        "|---|---:|---:|---:|---:|---:|---|"
    )
    lines = [header]
    for row in rows:
        statuses = ", ".join(f"{code}×{count}" for code, count in sorted(row.statuses.items()))
        lines.append(
            f"| {row.scenario} | {row.concurrency} | {row.n} | {row.rate:,.0f} | {row.pct(0.50):.2f} | "
            f"{row.pct(0.99):.2f} | {statuses} |"
        )
    table = "\n".join(lines)

    def q(values: list[float], p: float) -> float:
        return sorted(values)[min(len(values) - 1, int(p * len(values)))] if values else float("nan")

    server_line = (
        f"Receiver's own time per delivery (its `webhook.delivery` log `ms`): queued p50 "
        f"{q(server_queued, 0.5):.2f} ms / p99 {q(server_queued, 0.99):.2f} ms; duplicate p50 "
        f"{q(server_dup, 0.5):.2f} ms / p99 {q(server_dup, 0.99):.2f} ms."
    )
    check = (
        f"Stream entries after the run: {queued} (expected {expected_queued}: every 202 is durably queued)."
    )
    load = os.getloadavg()[0]
    machine = (
        f"{platform.machine()}, {os.cpu_count()} CPUs (shared), Python {platform.python_version()}, "
        f"Redis at {args.redis_url.split('@')[-1]}, one uvicorn process, INFO logging, "
        f"load average {load:.1f} at the end"
    )
    print(table)
    print(server_line)
    print(check)
    if not args.no_write:
        section = (
            f"{SECTION}\n\n`.venv/bin/python bench/webhook_ingest.py --n {args.n}` — "
            f"{time.strftime('%Y-%m-%d', time.gmtime())}, {machine}.\n"
            "Signed real `pull_request` payloads (~28 KB) sent over loopback HTTP from a separate process; "
            "each delivery is verified (HMAC-SHA256), parsed, routed and queued with one Redis script. "
            "The sender shares the machine's cores with the receiver and Redis.\n\n"
            f"{table}\n\n{server_line}\n{check}\n\n"
        )
        write_section(section)
        print(f"wrote the '{SECTION}' section of {DOC.relative_to(ROOT)}")
    return 0 if queued == expected_queued else 1


if __name__ == "__main__":
    sys.exit(main())
