"""Scale-out: a burst of PR events drained by one `prguard worker` process, then by two.

For each run of `--workers` (default `1,2`: one process, then two, each with the same `--concurrency`; `NxC`
means N processes of concurrency C) it starts that many `prguard worker` processes (same Redis, one private
key prefix) beside one `prguard serve`, warms them up with a few PRs, then sends a burst of `--prs` signed
`pull_request.opened` deliveries for distinct PRs that exist on the GitHub double (each adds `--files` small
Python modules, one of which leaks a token, so `prguard/secrets` fails) and measures the time from the first
delivery to the moment the double shows all four check runs of every PR completed. The receiver also queues
each delivery's other jobs, as in production (the workers route the delivery, then run the scan and the
sign-off).

Why the double runs in its own process: on a small machine everything shares the cores, and a double inside
the bench process would share its GIL with the polling. A second table shows where the CPU went during each
burst (receiver, each worker with its engine children, the double, the whole Redis server, this script, and
whatever else ran on the machine), read from /proc and Redis `INFO cpu`, so a speed-up below the goal can be
explained. `--github-latency-ms` makes the double answer every API call that much later (real GitHub answers
in ~100-400 ms); the default is 0, i.e. loopback speed; a list (`0,100`) repeats the runs for each value.

    .venv/bin/python bench/scale_out.py [--prs 200] [--workers 1,2] [--concurrency 4] [--github-latency-ms 0]
                                        [--no-write]

Prints the tables and replaces the `## Scale-out` section of docs/BENCHMARKS.md (unless --no-write); the
results and their rendering live in bench/scale_out_report.py. Incidents count, per burst, what makes jobs
slow or repeated: reclaims, failures (with their error), dead letters, and GitHub requests the client retried.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.e2e_latency import _healthy, leak, module, start, wait_until  # noqa: E402
from bench.scale_out_report import Burst, section, write_section  # noqa: E402
from tests.e2e_stack import CHECKS, pr_payload  # noqa: E402
from tests.github_double.double import GitHubDouble  # noqa: E402
from tests.redis_server import delete_prefix, free_port, reachable  # noqa: E402
from tests.webhooks import json_body, send  # noqa: E402

REPO = "octo/repo"
TICK = os.sysconf("SC_CLK_TCK")


# --- the GitHub double, in its own process ---------------------------------------------------------------
class Watcher(threading.Thread):
    """Records, in the double's process, when every check run of each awaited head is completed."""

    def __init__(self, double: GitHubDouble, shas: list[str]) -> None:
        super().__init__(daemon=True)
        self.double, self.waiting = double, set(shas)
        self.done: dict[str, float] = {}
        self.conclusions: dict[str, dict[str, str | None]] = {}
        self.duplicates = 0
        self.requests_at_start = len(double.state.requests)
        self.stop = threading.Event()

    def run(self) -> None:
        while self.waiting and not self.stop.wait(0.02):
            self._poll()
        self.cpu = time.thread_time()

    def _poll(self) -> None:
        with self.double.state.lock:
            runs = [(r.id, r.head_sha, r.name, r.status, r.conclusion)
                    for r in self.double.state.check_runs.values() if r.head_sha in self.waiting]
        now = time.monotonic()
        latest: dict[str, dict[str, tuple[int, str, str | None]]] = {}
        for run_id, sha, name, status, conclusion in sorted(runs):
            latest.setdefault(sha, {})[name] = (run_id, status, conclusion)
        for sha, by_name in latest.items():
            if all(by_name.get(n, (0, "", None))[1] == "completed" for n in CHECKS):
                self.done[sha] = now
                self.conclusions[sha] = {n: by_name[n][2] for n in CHECKS}
                self.waiting.discard(sha)
        self.duplicates = len(runs) - sum(len(v) for v in latest.values())

    def result(self) -> dict[str, Any]:
        return {"done": self.done, "conclusions": self.conclusions, "missing": sorted(self.waiting),
                "duplicate_runs": self.duplicates, "watcher_cpu": getattr(self, "cpu", 0.0),
                "requests": len(self.double.state.requests) - self.requests_at_start}


def new_pr(double: GitHubDouble, files: int) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    changes: dict[str, tuple[bytes | None, bytes | None]] = {
        f"pkg_{tag}/mod_{i:02}.py": (None, module(i)) for i in range(files - 1)}
    changes[f"pkg_{tag}/settings.py"] = (None, leak())
    pr = double.create_pull_request(REPO, changes=changes, head=f"feature-{tag}")
    return {"number": pr.number, "head_sha": pr.head_sha, "head_ref": pr.head_ref, "base_sha": pr.base_sha,
            "base_ref": pr.base_ref}


def host_double(conn: Connection) -> None:
    """The child process: a started double answering commands from the bench over `conn`."""
    with GitHubDouble() as double:
        inst = double.add_installation("octo")
        double.add_repo(REPO, installation_id=inst, files={"README.md": b"bench\n"})
        conn.send({"app_id": double.app_id, "private_key": double.private_key_pem, "pid": os.getpid(),
                   "secret": double.webhook_secret, "api_url": double.base_url, "installation": inst})
        watcher: Watcher | None = None
        while True:
            command, arg = conn.recv()
            if command == "latency":
                double.faults.clear()
                if arg > 0:
                    double.faults.slow(arg / 1000, times=None)  # every API call, until changed
                conn.send("ok")
            elif command == "prs":
                conn.send([new_pr(double, arg["files"]) for _ in range(arg["count"])])
            elif command == "watch":
                watcher = Watcher(double, arg)
                watcher.start()
                conn.send("ok")
            elif command == "result" and watcher is not None:
                watcher.join(arg)
                watcher.stop.set()
                watcher.join(1)
                conn.send(watcher.result())
            else:
                conn.send("bye")
                return


class Double:
    """The bench's handle on the double's process."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=host_double, args=(child,), daemon=True)
        self.process.start()
        self.identity: dict[str, Any] = self.conn.recv()

    def call(self, command: str, arg: Any = None) -> Any:
        self.conn.send((command, arg))
        return self.conn.recv()

    def close(self) -> None:
        if self.process.is_alive():
            self.call("stop")
        self.process.join(5)


# --- CPU accounting -----------------------------------------------------------------------------------
def proc_cpu(pid: int) -> float:
    """User + system seconds of a process and of its children it waited for (a worker's engines)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = text.rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / TICK


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM), MB; its engine children are not included."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def machine_busy() -> float:
    """Seconds of CPU the whole machine spent not idle (all cores, all processes)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(values) - values[3] - values[4]) / TICK


def redis_cpu(client: redis.Redis) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --- one burst ------------------------------------------------------------------------------------------
def drained(rclient: redis.Redis, prefix: str) -> bool:
    """Every queued job was taken and acknowledged (the sign-off jobs may finish after the check runs)."""
    groups = rclient.xinfo_groups(f"{prefix}:jobs")
    if not groups or groups[0]["pending"] or groups[0]["lag"]:
        return False
    time.sleep(0.5)  # a worker logs `job.done` just after its ack
    return True


def deliver(double: Double, prs: list[dict[str, Any]], url: str, client: httpx.Client) -> dict[str, float]:
    """Send one signed `pull_request.opened` per PR; returns when each was sent (monotonic)."""
    bodies = [(pr["head_sha"], json_body(pr_payload(SimpleNamespace(**pr), double.identity["installation"])))
              for pr in prs]
    sent: dict[str, float] = {}
    for sha, body in bodies:
        sent[sha] = time.monotonic()
        reply = send(url, "pull_request", body, double.identity["secret"], str(uuid.uuid4()), client)
        if reply.status_code != 202:
            raise SystemExit(f"receiver answered {reply.status_code}: {reply.text}")
    return sent


def await_prs(double: Double, prs: list[dict[str, Any]], url: str, client: httpx.Client,
              timeout: float) -> tuple[dict[str, float], dict[str, Any]]:
    double.call("watch", [pr["head_sha"] for pr in prs])
    sent = deliver(double, prs, url, client)
    result = double.call("result", timeout)
    if result["missing"]:
        raise SystemExit(f"{len(result['missing'])} PRs without four completed runs after {timeout} s")
    wrong = [sha for sha, c in result["conclusions"].items()
             if c["prguard/secrets"] != "failure" or "cancelled" in c.values()]
    if wrong:
        raise SystemExit(f"unexpected conclusions, e.g. {result['conclusions'][wrong[0]]}")
    return sent, result


def job_log(logs: list[Path]) -> tuple[Counter[str], Counter[str]]:
    """Jobs done per worker process and feature, and incidents (reclaims, lost ownership, failures, failed
    check-run writes, retried GitHub requests)."""
    jobs: Counter[str] = Counter()
    incidents: Counter[str] = Counter()
    for n, log in enumerate(logs, 1):
        for line in log.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            event = record.get("event", "")
            if event == "job.done":
                jobs[f"worker {n} {record.get('feature')}"] += 1
            elif event in ("job.reclaimed", "job.ownership_lost", "job.already_running", "job.failed",
                           "job.superseded", "job.dead_lettered", "worker.redis_error",
                           "checkrun.create_failed", "checkrun.update_failed"):  # a lost POST/PATCH
                incidents[event] += 1
                if event == "job.failed":  # why: a failed job waits the visibility timeout for its retry
                    incidents[f"job.failed ({record.get('feature')}: {str(record.get('error'))[:120]})"] += 1
            elif event == "github.retry":  # why: each costs its delay (1 s for a lost connection) to a job
                incidents[f"github.retry ({record.get('kind')})"] += 1
    return jobs, incidents


def run_burst(double: Double, args: argparse.Namespace, spec: tuple[int, int, float], env: dict[str, str],
              url: str, web: subprocess.Popen[bytes], tmp: Path, client: httpx.Client, rclient: redis.Redis,
              prefix: str) -> Burst:
    workers, concurrency, latency_ms = spec
    double.call("latency", latency_ms)
    logs = [tmp / f"worker-{workers}x{concurrency}-{latency_ms:g}-{n}.log" for n in range(1, workers + 1)]
    procs = [start(["worker", "--concurrency", str(concurrency)], env, log) for log in logs]
    try:
        # a consumer shows in XINFO CONSUMERS only once it read something: wait for the loop's start instead
        wait_until(lambda: all('"worker.start"' in log.read_text() for log in logs), 60,
                   "the workers to start")
        warm = double.call("prs", {"count": args.warmup * workers, "files": args.files})
        await_prs(double, warm, url, client, args.timeout)  # imports, tokens, first policy: not counted
        wait_until(lambda: drained(rclient, prefix), 60, "the warm-up jobs")
        jobs_before, incidents_before = job_log(logs)
        prs = double.call("prs", {"count": args.prs, "files": args.files})
        before = cpu_snapshot(double, web, procs, rclient)
        sent, result = await_prs(double, prs, url, client, args.timeout)
        after = cpu_snapshot(double, web, procs, rclient)
        wait_until(lambda: drained(rclient, prefix), 60, "the burst's sign-off jobs")
        rss = [peak_rss_mb(proc.pid) for proc in procs]
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    burst = Burst(workers, concurrency, latency_ms, rss_mb=rss)
    first = min(sent.values())
    burst.seconds = max(result["done"].values()) - first
    burst.latencies = [result["done"][sha] - at for sha, at in sent.items()]
    burst.cpu = {k: after[k] - before[k] for k in after}
    burst.cpu["double"] -= result["watcher_cpu"]  # the bench's own polling thread, not GitHub's work
    burst.cpu["bench"] += result["watcher_cpu"]
    jobs, incidents = job_log(logs)
    burst.jobs, burst.incidents = jobs - jobs_before, incidents - incidents_before
    burst.requests, burst.duplicate_runs = result["requests"], result["duplicate_runs"]
    return burst


def cpu_snapshot(double: Double, web: subprocess.Popen[bytes], workers: list[subprocess.Popen[bytes]],
                 rclient: redis.Redis) -> dict[str, float]:
    snap = {"receiver": proc_cpu(web.pid), "double": proc_cpu(double.identity["pid"]),
            "redis": redis_cpu(rclient), "bench": self_cpu(), "machine": machine_busy()}
    for n, proc in enumerate(workers, 1):
        snap[f"worker {n}"] = proc_cpu(proc.pid)
    return snap


def parse_spec(item: str, concurrency: int) -> tuple[int, int]:
    """"2" -> (2, concurrency); "1x8" -> (1, 8)."""
    workers, _, each = item.strip().partition("x")
    return int(workers), int(each) if each else concurrency


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prs", type=int, default=200)
    parser.add_argument("--files", type=int, default=8, help="files per PR (one leaks a token)")
    parser.add_argument("--workers", default="1,2",
                        help="runs, one burst each: N (N processes of --concurrency) or NxC")
    parser.add_argument("--concurrency", type=int, default=4, help="jobs at once per worker process")
    parser.add_argument("--github-latency-ms", default="0",
                        help="ms the double adds to every API call (real GitHub: ~100-400); a list repeats")
    parser.add_argument("--warmup", type=int, default=4, help="PRs per worker process before each burst")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds a burst may take")
    parser.add_argument("--redis-url", default=os.environ.get("PRGUARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/BENCHMARKS.md alone")
    args = parser.parse_args()
    if args.redis_url.startswith("redis://127.0.0.1:6379") and not reachable("127.0.0.1", 6379):
        raise SystemExit("Redis is not reachable on 127.0.0.1:6379 (set --redis-url)")
    specs = [(*parse_spec(item, args.concurrency), float(ms))
             for ms in args.github_latency_ms.split(",") for item in args.workers.split(",")]
    prefix = f"prguard-bench-scale-{uuid.uuid4().hex[:8]}"
    rclient = redis.Redis.from_url(args.redis_url)
    double = Double()
    bursts: list[Burst] = []
    load_before = os.getloadavg()[0]
    try:
        with tempfile.TemporaryDirectory() as tmp_name, httpx.Client(timeout=15) as client:
            tmp, ident, port = Path(tmp_name), double.identity, free_port()
            env = {**os.environ, "GITHUB_APP_ID": str(ident["app_id"]),
                   "GITHUB_PRIVATE_KEY": ident["private_key"], "GITHUB_WEBHOOK_SECRET": ident["secret"],
                   "GITHUB_API_URL": ident["api_url"],
                   "REDIS_URL": args.redis_url, "PRGUARD_REDIS_PREFIX": prefix, "PRGUARD_LOG_LEVEL": "INFO"}
            web = start(["serve", "--host", "127.0.0.1", "--port", str(port)], env, tmp / "web.log")
            url = f"http://127.0.0.1:{port}"
            try:
                wait_until(lambda: _healthy(url), 30, "the receiver")
                for spec in specs:
                    bursts.append(run_burst(double, args, spec, env, url, web, tmp, client, rclient, prefix))
                    print(f"{spec[0]}x{spec[1]} +{spec[2]:g} ms: {bursts[-1].seconds:.2f} s", file=sys.stderr)
            finally:
                web.terminate()
                try:
                    web.wait(15)
                except subprocess.TimeoutExpired:
                    web.kill()
    finally:
        double.close()
        delete_prefix(args.redis_url, prefix)
    text = section(bursts, args, load_before)
    print(text)
    if not args.no_write:
        print(f"wrote {write_section(text)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
