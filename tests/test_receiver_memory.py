"""A large authentic delivery does not leave the receiver holding its memory: `prguard serve` as a process,
RSS read from /proc. (Unauthenticated floods are tests/test_receiver_hardening.py.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.redis_server import free_port
from tests.webhooks import fixture_body, fixture_payload, send, wait_healthy

ROOT = Path(__file__).resolve().parents[1]
SECRET = "memory-test-secret"
pytestmark = pytest.mark.timeout(90)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_a_20_mb_signed_delivery_is_queued_and_its_memory_given_back(
    redis_url: str, redis_prefix: str
) -> None:
    """Measured: the reused JSON parser kept ~100 MB after a 25 MB payload until large bodies got a parser of
    their own; now RSS is back within 40 MB of idle right after the answer (its body leaves with the job)."""
    port = free_port()
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "GITHUB_WEBHOOK_SECRET": SECRET,
           "REDIS_URL": redis_url, "PRGUARD_REDIS_PREFIX": redis_prefix, "PORT": str(port)}
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli.main", "serve", "--host", "127.0.0.1"], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        assert send(url, "pull_request", fixture_body("pull_request", "opened"), SECRET).status_code == 202
        idle = rss_mb(proc.pid)
        payload = fixture_payload("pull_request", "opened")
        payload["pull_request"]["body"] = "many small objects follow"
        payload["padding"] = [{"n": n, "s": "x" * 20} for n in range(500_000)]  # ~20 MB, ~1M JSON values
        big = json.dumps(payload).encode()
        assert 18 * 2**20 < len(big) < 25 * 2**20
        reply = send(url, "pull_request", big, SECRET, "d-big")
        assert (reply.status_code, reply.json()) == (202, {"status": "queued"})
        after = rss_mb(proc.pid)
        print(f"RSS idle {idle:.0f} MB, after a {len(big) / 2**20:.0f} MB delivery {after:.0f} MB")
        assert after - idle < 40
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
