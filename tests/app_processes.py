"""The App as it runs in production, for tests: `prguard serve` and `prguard worker` as real subprocesses.

Why subprocesses: tests of Redis restarts and of TLS must prove that the shipped entry points (their own
clients, pools and retry settings, built from environment variables only) recover and connect, not a stack a
test assembled in its own event loop. GitHub is the double (tests/github_double), in the test's process.

    with AppProcesses(double, redis_url, prefix, tmp_path) as app:
        reply = app.deliver(payload)                       # signed pull_request delivery -> httpx.Response
        wait_for(lambda: all_completed(double, sha), 30, "runs")
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from tests.e2e_stack import CHECKS
from tests.github_double.double import GitHubDouble
from tests.redis_server import free_port
from tests.webhooks import json_body, send

ROOT = Path(__file__).resolve().parents[1]


def app_env(double: GitHubDouble, redis_url: str, prefix: str, **extra: str) -> dict[str, str]:
    """The environment of the App's processes: the double's credentials, Redis, a private key prefix."""
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "PYTHONPATH": str(ROOT),
        "HOME": os.environ.get("HOME", "/tmp"),
        "GITHUB_APP_ID": str(double.app_id),
        "GITHUB_PRIVATE_KEY": double.private_key_pem,
        "GITHUB_WEBHOOK_SECRET": double.webhook_secret,
        "GITHUB_API_URL": double.base_url,
        "REDIS_URL": redis_url,
        "PRGUARD_REDIS_PREFIX": prefix,
        "PRGUARD_LOG_LEVEL": "INFO",
        "PRGUARD_RECONCILE_INTERVAL": "0",  # a test runs reconcile itself, when it means to
        **extra,
    }


def prguard(args: list[str], env: Mapping[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run one `prguard` command to its end (e.g. `reconcile`)."""
    return subprocess.run([sys.executable, "-m", "bot.cli.main", *args], cwd=ROOT, env=dict(env),
                          capture_output=True, text=True, timeout=timeout, check=False)


def all_completed(double: GitHubDouble, head_sha: str, repo: str = "octo/repo") -> bool:
    """Whether the newest run of each of the four checks on `head_sha` is completed."""
    for name in CHECKS:
        runs = double.check_runs(repo, head_sha, name)
        if not runs or runs[-1].status != "completed":
            return False
    return True


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


class AppProcesses:
    """`prguard serve` on a free loopback port and one `prguard worker`, logging to files in `workdir`."""

    def __init__(self, double: GitHubDouble, redis_url: str, prefix: str, workdir: Path, *,
                 concurrency: int = 2, **extra_env: str) -> None:
        self.double = double
        self.env = app_env(double, redis_url, prefix, **extra_env)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workdir = workdir
        self.concurrency = concurrency
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.http = httpx.Client(timeout=15)

    def _start(self, name: str, args: list[str]) -> None:
        log = (self.workdir / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen([sys.executable, "-m", "bot.cli.main", *args], cwd=ROOT,
                                            env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def start(self) -> AppProcesses:
        self._start("web", ["serve", "--host", "127.0.0.1", "--port", str(self.port)])
        self._start("worker", ["worker", "--concurrency", str(self.concurrency)])
        wait_for(self.healthy, 30, "the receiver's /healthz")
        return self

    def healthy(self) -> bool:
        self.assert_running()
        try:
            return self.http.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def assert_running(self) -> None:
        """Neither process exited (a test of recovery must not pass thanks to a restart it did not make)."""
        for name, proc in self.procs.items():
            tail = self.log(name)[-3000:] if proc.poll() is not None else ""
            assert proc.poll() is None, f"prguard {name} exited with {proc.returncode}:\n{tail}"

    def deliver(self, payload: dict[str, Any], delivery: str | None = None, event: str = "pull_request",
                timeout: float = 15) -> httpx.Response:
        """POST one signed delivery, as GitHub does (its 10 s budget is the caller's to check)."""
        with httpx.Client(timeout=timeout) as client:  # a fresh connection: a hung one must not be reused
            return send(self.url, event, json_body(payload), self.double.webhook_secret,
                        delivery or str(uuid.uuid4()), client)

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self.http.close()

    def __enter__(self) -> AppProcesses:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
