"""The worker runtime against a real Redis: ack after success, retries, dead letters, superseded heads,
heartbeats, a worker killed mid-job, and graceful stops."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis as redis_sync
from redis.asyncio import Redis
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.log import add_sensitive
from bot.runtime.envelope import Envelope
from bot.runtime.queue import JobQueue
from bot.runtime.worker import Worker, consumer_name
from tests.envelopes import enqueue, scan_job
from tests.redis_server import RedisServer
from tests.secrets_keys import private_key_pem
from tests.worker_handlers import RecordingHandler

ROOT = Path(__file__).resolve().parents[1]


def make_job(delivery: str, head_sha: str = "a" * 40, pr: int = 7, action: str = "opened") -> Envelope:
    return scan_job(delivery, head_sha=head_sha, pr=pr, action=action)


@pytest.fixture
def queue(redis: Redis, redis_prefix: str) -> JobQueue:
    return JobQueue(redis, prefix=redis_prefix, maxlen=1000)


def worker_for(queue: JobQueue, handler: RecordingHandler, visibility: float = 0.3, **kw: object) -> Worker:
    return Worker(queue, {"scan": handler}, concurrency=4, visibility_timeout=visibility, max_attempts=3,
                  block_ms=50, **kw)  # type: ignore[arg-type]


async def test_processed_job_is_acked_and_not_seen_again(queue: JobQueue) -> None:
    handler = RecordingHandler()
    worker = worker_for(queue, handler)
    assert await enqueue(queue, make_job("d1"))
    assert await worker.run_once() == 1
    assert handler.calls == [("process", "d1", 1)]
    assert handler.current_after_sleep == [True]
    assert await queue.pending_count() == 0
    await asyncio.sleep(0.35)  # past the visibility timeout: nothing comes back
    assert await worker.run_once() == 0
    assert handler.calls == [("process", "d1", 1)]


async def test_failing_job_is_retried_then_dead_lettered_with_a_redacted_reason(
    queue: JobQueue, redis: Redis
) -> None:
    token = "ghs_TESTONLYtokenValue0123456789abcdef"
    add_sensitive(token)
    handler = RecordingHandler(fail_with=f"GitHub said 502 while using {token}")
    worker = worker_for(queue, handler)
    await enqueue(queue, make_job("d-fail"))
    deadline = time.monotonic() + 10
    while "fail" not in handler.methods() and time.monotonic() < deadline:
        await worker.run_once()
        await asyncio.sleep(0.1)
    assert handler.calls == [
        ("process", "d-fail", 1),
        ("process", "d-fail", 2),
        ("process", "d-fail", 3),
        ("fail", "d-fail", 3),
    ]
    reason = handler.fail_reasons[0]
    assert "GitHub said 502" in reason and token not in reason and "ghs_…(" in reason
    dead = await redis.xrange(queue.dead)
    assert len(dead) == 1
    fields = {k.decode(): v.decode() for k, v in dead[0][1].items()}
    assert fields["delivery_id"] == "d-fail" and fields["attempts"] == "3" and fields["reason"] == reason
    assert await queue.pending_count() == 0
    await asyncio.sleep(0.35)
    assert await worker.run_once() == 0  # gone for good
    assert handler.methods().count("fail") == 1


async def test_a_job_that_fails_once_succeeds_on_retry(queue: JobQueue, redis: Redis) -> None:
    handler = RecordingHandler(fail_with="transient", fail_times=1)
    worker = worker_for(queue, handler)
    await enqueue(queue, make_job("d-flaky"))
    await worker.run_once()
    assert await worker.run_once() == 0  # not before the visibility timeout
    await asyncio.sleep(0.35)
    assert await worker.run_once() == 1
    assert handler.calls == [("process", "d-flaky", 1), ("process", "d-flaky", 2)]
    assert await queue.pending_count() == 0
    assert await redis.xlen(queue.dead) == 0


async def test_newer_head_supersedes_a_queued_older_job(queue: JobQueue) -> None:
    handler = RecordingHandler()
    worker = worker_for(queue, handler)
    await enqueue(queue, make_job("old", head_sha="1" * 40), updated_at="2026-01-01T00:00:00Z")
    await enqueue(queue,
        make_job("new", head_sha="2" * 40, action="synchronize"), updated_at="2026-01-01T00:05:00Z"
    )
    assert await worker.run_once() == 2
    assert sorted(handler.calls) == [("cancel", "old", 1), ("process", "new", 1)]
    assert await queue.pending_count() == 0


async def test_a_late_redelivery_of_an_older_push_does_not_unsupersede(queue: JobQueue) -> None:
    handler = RecordingHandler()
    worker = worker_for(queue, handler)
    await enqueue(queue, make_job("new", head_sha="2" * 40), updated_at="2026-01-01T00:05:00Z")
    await enqueue(queue, make_job("old", head_sha="1" * 40), updated_at="2026-01-01T00:00:00Z")
    assert await queue.latest_version(make_job("x")) == "2" * 40
    await worker.run_once()
    assert sorted(handler.calls) == [("cancel", "old", 1), ("process", "new", 1)]


async def test_a_check_suite_for_the_real_head_runs_even_when_its_synchronize_was_lost(
    queue: JobQueue,
) -> None:
    """The synchronize for head 2 never reached the queue (answered 503; GitHub does not retry), so the
    record still says head 1. The check suite (and any re-run) for head 2 used to be cancelled against that
    stale record, leaving no check run at all on the PR's real head."""
    await enqueue(queue, make_job("opened", head_sha="1" * 40), updated_at="2026-01-01T00:00:00Z")
    handler = RecordingHandler()
    worker = worker_for(queue, handler)
    assert await worker.run_once() == 1
    suite = scan_job("suite", event="check_suite", head_sha="2" * 40)
    rerun = scan_job("rerun", event="check_suite", action="rerequested", head_sha="2" * 40)
    await enqueue(queue, suite)
    await enqueue(queue, rerun)
    assert await worker.run_once() == 2
    assert sorted(handler.calls) == [
        ("process", "opened", 1), ("process", "rerun", 1), ("process", "suite", 1)
    ]
    assert handler.current_after_sleep == [True, True, True]


async def test_a_check_suite_queued_before_a_newer_push_is_superseded(queue: JobQueue) -> None:
    suite = scan_job("suite", event="check_suite", head_sha="1" * 40)
    await enqueue(queue, suite)
    await enqueue(queue, make_job("pushed", head_sha="2" * 40, action="synchronize"),
                        updated_at="2026-01-01T00:05:00Z")
    handler = RecordingHandler()
    assert await worker_for(queue, handler).run_once() == 2
    assert sorted(handler.calls) == [("cancel", "suite", 1), ("process", "pushed", 1)]


async def test_is_current_turns_false_when_a_newer_head_arrives_mid_job(queue: JobQueue) -> None:
    handler = RecordingHandler(sleep=0.3)
    worker = worker_for(queue, handler, visibility=2.0)
    await enqueue(queue, make_job("old", head_sha="1" * 40), updated_at="2026-01-01T00:00:00Z")
    run = asyncio.create_task(worker.run_once())
    await asyncio.wait_for(handler.started.wait(), 5)
    await enqueue(queue, make_job("new", head_sha="2" * 40), updated_at="2026-01-01T00:05:00Z")
    await run
    assert handler.current_after_sleep == [False]


async def test_one_crashing_job_does_not_stop_the_others(queue: JobQueue, redis: Redis) -> None:
    handler = RecordingHandler(fail_with="boom", fail_times=1)
    worker = worker_for(queue, handler, visibility=5.0)
    await enqueue(queue, make_job("first", pr=1))
    await enqueue(queue, make_job("second", pr=2))
    await redis.xadd(queue.stream, {"garbage": "not a job"})
    stop = asyncio.Event()
    runner = asyncio.create_task(worker.run(stop))
    deadline = time.monotonic() + 5
    while await redis.xlen(queue.dead) < 1 or len(handler.calls) < 2:
        assert time.monotonic() < deadline, handler.calls
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(runner, 5)
    assert [c[1] for c in handler.calls] == ["first", "second"]
    dead = await redis.xrange(queue.dead)
    assert dead[0][1][b"reason"] == b"malformed stream entry: not a prguard job"
    assert await queue.pending_count() == 1  # "first" waits for its retry; "second" and the garbage are acked


async def test_heartbeat_keeps_a_long_job_from_being_stolen(queue: JobQueue) -> None:
    slow = RecordingHandler(sleep=2.0)
    owner = worker_for(queue, slow, visibility=0.8, reclaim_interval=60)  # only the thief sweeps
    thief_handler = RecordingHandler()
    thief = worker_for(queue, thief_handler, visibility=0.8)
    await enqueue(queue, make_job("long"))
    stop = asyncio.Event()
    runner = asyncio.create_task(owner.run(stop))
    await asyncio.wait_for(slow.started.wait(), 5)
    deadline = time.monotonic() + 1.8
    while time.monotonic() < deadline:  # the job runs 2.5x the visibility timeout
        await thief.run_once(block_ms=10)
        await asyncio.sleep(0.1)
    deadline = time.monotonic() + 10
    while await queue.pending_count():
        assert time.monotonic() < deadline, await queue.pending_count()
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(runner, 5)
    assert slow.calls == [("process", "long", 1)]
    assert thief_handler.calls == []


async def test_heartbeat_never_takes_back_an_entry_another_worker_reclaimed(queue: JobQueue) -> None:
    await queue.ensure_group()
    await enqueue(queue, make_job("x"))
    [entry] = await queue.read("a", 1, block_ms=10)
    await asyncio.sleep(0.05)
    [stolen] = await queue.reclaim("b", min_idle_ms=10, count=1)
    assert stolen.entry_id == entry.entry_id and stolen.envelope is not None and stolen.envelope.attempt == 2
    assert await queue.heartbeat("a", [entry.entry_id]) == []
    assert await queue.heartbeat("b", [entry.entry_id]) == [entry.entry_id]


class StallingQueue(JobQueue):
    """A real queue whose heartbeats time out while `stalled` is set, as when Redis or the worker's event
    loop stalls past the visibility timeout."""

    stalled = False

    async def heartbeat(self, consumer: str, entry_ids: list[str]) -> list[str]:
        if self.stalled:
            raise RedisTimeoutError("Timeout reading from redis")
        return await super().heartbeat(consumer, entry_ids)


async def test_a_worker_that_lost_its_job_to_a_reclaim_stops_its_own_copy(
    queue: JobQueue, redis: Redis, redis_prefix: str
) -> None:
    """Before, both the stalled owner and the worker that reclaimed the job ran it to the end and posted."""
    owner_queue = StallingQueue(redis, prefix=redis_prefix, maxlen=1000)
    owner_handler = RecordingHandler(sleep=3.0)
    owner = worker_for(owner_queue, owner_handler, visibility=0.6, reclaim_interval=60)
    await enqueue(queue, make_job("stalled"))
    stop = asyncio.Event()
    runner = asyncio.create_task(owner.run(stop))
    try:
        await asyncio.wait_for(owner_handler.started.wait(), 5)
        owner_queue.stalled = True
        await asyncio.sleep(0.8)  # idle past the visibility timeout: another worker takes it over
        [taken] = await queue.reclaim("thief", min_idle_ms=600, count=1)
        assert taken.envelope is not None and taken.envelope.attempt == 2
        owner_queue.stalled = False
        deadline = time.monotonic() + 3
        while owner.running:
            assert time.monotonic() < deadline, "the owner kept running a job it no longer holds"
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(runner, 5)
    assert owner_handler.current_after_sleep == []  # it never reached the point of posting
    [pending] = await redis.xpending_range(queue.stream, queue.group, min="-", max="+", count=10)
    assert pending["consumer"] == b"thief"  # still held (not acked) for the worker that reclaimed it


async def test_a_running_job_whose_entry_vanished_with_a_redis_restart_still_finishes(
    queue: JobQueue, redis: Redis
) -> None:
    """Redis restarted empty (no persistence) mid-job: nobody else holds the job any more, so the worker
    must not mistake the missing entry for a reclaim by another worker and drop its copy."""
    handler = RecordingHandler(sleep=1.0)
    worker = worker_for(queue, handler, visibility=0.3, reclaim_interval=60)
    await enqueue(queue, make_job("mid-restart"))
    stop = asyncio.Event()
    runner = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.wait_for(handler.started.wait(), 5)
        await redis.delete(queue.stream)  # what an empty restarted Redis looks like to this worker
        await queue.ensure_group()
        deadline = time.monotonic() + 5
        while not handler.current_after_sleep:
            assert time.monotonic() < deadline and worker.running, "the job was dropped"
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(runner, 5)
    assert handler.calls == [("process", "mid-restart", 1)] and handler.current_after_sleep == [True]


def test_consumer_names_are_unique_per_process() -> None:
    names = {consumer_name() for _ in range(50)}
    assert len(names) == 50
    assert all(f"-{os.getpid()}-" in n for n in names)


# --- worker processes -------------------------------------------------------------------------------------
def start_worker(
    redis_url: str, prefix: str, sleep: float, visibility: float, grace: float, thread: bool = False
) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.worker_proc",
            redis_url,
            prefix,
            str(sleep),
            str(visibility),
            str(grace),
            *(["thread"] if thread else []),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def wait_for_log(redis: Redis, key: str, predicate: object, timeout: float = 10) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        entries = [e.decode() for e in await redis.lrange(key, 0, -1)]  # type: ignore[misc]
        if predicate(entries):  # type: ignore[operator]
            return entries
        assert time.monotonic() < deadline, entries
        await asyncio.sleep(0.05)


async def test_a_worker_killed_mid_job_has_its_job_finished_by_another(
    redis_url: str, redis: Redis, queue: JobQueue, redis_prefix: str
) -> None:
    log_key = f"{redis_prefix}:test-log"
    first = start_worker(redis_url, redis_prefix, sleep=30, visibility=1.0, grace=5)
    try:
        await enqueue(queue, make_job("killed"))
        await wait_for_log(redis, log_key, lambda e: any(x.startswith("start:killed:1:") for x in e))
        os.kill(first.pid, signal.SIGKILL)
        first.wait(5)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(5)
    second = start_worker(redis_url, redis_prefix, sleep=0.1, visibility=1.0, grace=5)
    try:
        entries = await wait_for_log(redis, log_key, lambda e: any(x.startswith("done:") for x in e))
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(10) == 0
    starts = [e for e in entries if e.startswith("start:")]
    assert starts[0] == f"start:killed:1:{first.pid}"
    assert starts[1] == f"start:killed:2:{second.pid}"
    assert [e for e in entries if e.startswith("done:")] == [f"done:killed:2:{second.pid}"]
    assert await queue.pending_count() == 0


async def test_sigterm_lets_a_short_job_finish_then_exits(
    redis_url: str, redis: Redis, queue: JobQueue, redis_prefix: str
) -> None:
    log_key = f"{redis_prefix}:test-log"
    proc = start_worker(redis_url, redis_prefix, sleep=0.5, visibility=5.0, grace=5)
    try:
        await enqueue(queue, make_job("short"))
        await wait_for_log(redis, log_key, lambda e: any(x.startswith("start:short") for x in e))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    entries = [e.decode() for e in await redis.lrange(log_key, 0, -1)]  # type: ignore[misc]
    assert f"done:short:1:{proc.pid}" in entries
    assert await queue.pending_count() == 0
    consumers = await redis.xinfo_consumers(queue.stream, queue.group)
    assert consumers == []  # a clean exit leaves no stale consumer behind


async def test_sigterm_hands_a_long_job_back_for_another_worker_at_once(
    redis_url: str, redis: Redis, queue: JobQueue, redis_prefix: str
) -> None:
    log_key = f"{redis_prefix}:test-log"
    # visibility 60 s: without the hand-back the next worker would wait a minute
    proc = start_worker(redis_url, redis_prefix, sleep=30, visibility=60.0, grace=0.3)
    try:
        await enqueue(queue, make_job("long"))
        await wait_for_log(redis, log_key, lambda e: any(x.startswith("start:long:1") for x in e))
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(5) == 0
        assert time.monotonic() - started < 3
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    handler = RecordingHandler()
    worker = Worker(queue, {"scan": handler}, visibility_timeout=60.0, block_ms=10)
    assert await worker.run_once() == 1
    assert handler.calls == [("process", "long", 2)]
    assert await queue.pending_count() == 0


async def test_sigterm_exits_within_the_grace_even_while_a_scan_thread_runs(
    redis_url: str, redis: Redis, queue: JobQueue, redis_prefix: str
) -> None:
    """A cancelled job cannot stop the thread its scan runs in; the process used to wait for that thread
    (asyncio.run, then the interpreter joined it) and overran the platform's kill deadline."""
    log_key = f"{redis_prefix}:test-log"
    proc = start_worker(redis_url, redis_prefix, sleep=30, visibility=60.0, grace=0.3, thread=True)
    try:
        await enqueue(queue, make_job("scan"))
        await wait_for_log(redis, log_key, lambda e: any(x.startswith("start:scan:1") for x in e))
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        elapsed = time.monotonic() - started
        err = proc.stderr.read().decode() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert elapsed < 4, elapsed  # grace 0.3 s + 1 s linger, not the 30 s the scan thread would take
    assert '"event": "worker.handed_back"' in err and '"event": "worker.exit_abandoning_threads"' in err
    [handed] = [json.loads(line) for line in err.splitlines() if '"event": "job.handed_back"' in line]
    job_fields = (handed["delivery"], handed["repo"], handed["pr"], handed["head_sha"])
    assert job_fields == ("scan", "acme/shop", 7, "a" * 40)  # a job-related line names its job
    handler = RecordingHandler()
    assert await Worker(queue, {"scan": handler}, visibility_timeout=60.0, block_ms=10).run_once() == 1
    assert handler.calls == [("process", "scan", 2)]


async def test_the_worker_survives_a_redis_outage(private_redis: RedisServer, redis_prefix: str) -> None:
    client = Redis.from_url(private_redis.url, socket_connect_timeout=1, socket_timeout=2)
    queue = JobQueue(client, prefix=redis_prefix)
    handler = RecordingHandler()
    worker = Worker(queue, {"scan": handler}, visibility_timeout=2.0, block_ms=50)
    stop = asyncio.Event()
    runner = asyncio.create_task(worker.run(stop))
    try:
        await enqueue(queue, make_job("before"))
        deadline = time.monotonic() + 10
        while len(handler.calls) < 1:
            assert time.monotonic() < deadline and not runner.done(), handler.calls
            await asyncio.sleep(0.05)
        private_redis.stop()
        await asyncio.sleep(1.0)  # the worker keeps polling a dead Redis without dying
        assert not runner.done()
        private_redis.start()  # empty: no stream, no group — the worker recreates them
        await enqueue(queue, make_job("after"))
        deadline = time.monotonic() + 15
        while len(handler.calls) < 2:
            assert time.monotonic() < deadline and not runner.done(), handler.calls
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(runner, 10)
        await client.aclose()
    assert handler.calls == [("process", "before", 1), ("process", "after", 1)]


def test_prguard_worker_starts_with_the_real_pipeline_and_stops_on_sigterm(
    redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    (tmp_path / "app.pem").write_text(private_key_pem(2048))
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(ROOT),
        "GITHUB_APP_ID": "12345",
        "GITHUB_PRIVATE_KEY_PATH": str(tmp_path / "app.pem"),
        # nothing listens there: the start-up check finds GitHub unreachable (not a refusal) and goes on
        "GITHUB_API_URL": "http://127.0.0.1:9/api/v3",
        "REDIS_URL": redis_url,
        "PRGUARD_REDIS_PREFIX": redis_prefix,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli.main", "worker", "--concurrency", "2"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        client = redis_sync.Redis.from_url(redis_url)
        deadline = time.monotonic() + 20
        while not client.exists(f"{redis_prefix}:jobs"):  # the worker created its stream and group
            assert proc.poll() is None and time.monotonic() < deadline, (
                proc.stderr.read() if proc.stderr else ""
            )
            time.sleep(0.1)
        client.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    events = [line for line in err.splitlines() if '"worker.' in line]
    assert '"event": "worker.start"' in events[0] and '"concurrency": 2' in events[0]
    assert '"event": "worker.stop"' in events[-1]
    assert "PRIVATE KEY" not in err


async def test_a_poison_entry_that_is_not_utf8_is_dead_lettered_and_blocks_nothing(
    queue: JobQueue, redis: Redis
) -> None:
    """Read in one batch with a good job, bytes that are not UTF-8 used to fail the whole read, and then
    every reclaim sweep (which returns the oldest entry first): no stalled job was ever taken over again."""
    await queue.ensure_group()
    await redis.xadd(queue.stream, {b"delivery_id": b"\xff\xfe", b"event": b"pull_request"})
    await enqueue(queue, make_job("good"))
    handler = RecordingHandler()
    worker = worker_for(queue, handler)
    stop = asyncio.Event()
    runner = asyncio.create_task(worker.run(stop))
    deadline = time.monotonic() + 5
    while not handler.calls or await redis.xlen(queue.dead) < 1:
        assert time.monotonic() < deadline and not runner.done(), handler.calls
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(runner, 5)
    assert handler.calls == [("process", "good", 1)]
    [(_id, fields)] = await redis.xrange(queue.dead)
    assert fields[b"delivery_id"] == b"\\xff\\xfe"
    assert fields[b"reason"] == b"malformed stream entry: not a prguard job"
    assert await queue.pending_count() == 0
