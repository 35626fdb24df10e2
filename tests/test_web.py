"""The webhook receiver over real HTTP (uvicorn on loopback) with a real Redis and GitHub's real payloads."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from bot.runtime.receiver import create_app
from bot.settings import load_settings
from tests.redis_server import RedisServer, free_port
from tests.routing import route_queued, route_queued_sync
from tests.webhooks import (
    ServedApp,
    fixture_body,
    fixture_payload,
    json_body,
    pull_request_payload,
    send,
    sign,
    wait_healthy,
)

ROOT = Path(__file__).resolve().parents[1]
SECRET = "whsec-test-" + "x7Qp2LmN9vR4"


def start_receiver(redis_url: str, prefix: str) -> ServedApp:
    settings = load_settings("web", webhook_secret=SECRET, redis_url=redis_url, redis_prefix=prefix)
    return ServedApp(create_app(settings)).start()


@pytest.fixture
def receiver(redis_url: str, redis_prefix: str) -> Iterator[ServedApp]:
    server = start_receiver(redis_url, redis_prefix)
    yield server
    server.stop()


@pytest.fixture
def db(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


def entries(db: redis.Redis, prefix: str, feature: str = "scan") -> list[dict[str, str]]:
    """The queued jobs of one feature (a pull_request delivery also queues the sign-off's), once a worker
    routed the queued deliveries."""
    route_queued_sync(_url(db), prefix)
    return [fields for _id, fields in db.xrange(f"{prefix}:jobs") if fields.get("feature") == feature]


def _url(db: redis.Redis) -> str:
    kwargs = db.connection_pool.connection_kwargs
    return f"redis://{kwargs.get('host', '127.0.0.1')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"


def test_signed_pull_request_opened_is_queued_once_with_its_fields(
    receiver: ServedApp, db: redis.Redis, redis_prefix: str
) -> None:
    delivery = str(uuid.uuid4())
    reply = send(receiver.url, "pull_request", fixture_body("pull_request", "opened"), SECRET, delivery)
    assert reply.status_code == 202 and reply.json() == {"status": "queued"}
    [job] = entries(db, redis_prefix)
    assert job == {
        "feature": "scan",
        "event": "pull_request",
        "action": "opened",
        "delivery_id": delivery,
        "installation_id": "1",
        "owner": "Codertocat",
        "repo": "Hello-World",
        "pr_number": "2",
        "head_sha": "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
        "dedupe_key": delivery,
        "supersede_key": "codertocat/hello-world#2",
        "version": "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
        "version_order": "2019-05-15T15:20:33Z",
        "records_version": "1",
        "data.base_ref": "master",
        "data.base_sha": "f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
        "data.head_ref": "changes",
        "attempt": "1",
    }
    assert db.hget(f"{redis_prefix}:head:codertocat/hello-world#2", "sha") == job["head_sha"]
    assert db.ttl(f"{redis_prefix}:delivery:{delivery}") >= 3 * 24 * 3600


def test_duplicate_delivery_is_answered_200_and_not_queued_again(
    receiver: ServedApp, db: redis.Redis, redis_prefix: str
) -> None:
    delivery = str(uuid.uuid4())
    body = fixture_body("pull_request", "synchronize")
    assert send(receiver.url, "pull_request", body, SECRET, delivery).status_code == 202
    again = send(receiver.url, "pull_request", body, SECRET, delivery)
    assert again.status_code == 200 and again.json() == {"status": "duplicate"}
    assert len(entries(db, redis_prefix)) == 1


@pytest.mark.parametrize(("event", "action"), [("check_suite", "requested"), ("check_run", "rerequested")])
def test_check_suite_and_check_run_requests_are_queued(
    receiver: ServedApp, db: redis.Redis, redis_prefix: str, event: str, action: str
) -> None:
    reply = send(receiver.url, event, fixture_body(event, action), SECRET)
    assert reply.status_code == 202
    [job] = entries(db, redis_prefix)
    assert (job["event"], job["action"]) == (event, action)


def test_a_form_encoded_delivery_is_accepted_too(
    receiver: ServedApp, db: redis.Redis, redis_prefix: str
) -> None:
    """A webhook configured with content type application/x-www-form-urlencoded sends `payload=<json>`."""
    from urllib.parse import urlencode

    body = urlencode({"payload": fixture_body("pull_request", "opened").decode()}).encode()
    reply = send(receiver.url, "pull_request", body, SECRET, Content_Type="application/x-www-form-urlencoded")
    assert reply.status_code == 202
    assert [job["pr_number"] for job in entries(db, redis_prefix)] == ["2"]


def test_signature_is_required_and_must_be_sha256_over_the_raw_bytes(
    receiver: ServedApp, db: redis.Redis, redis_prefix: str
) -> None:
    body = fixture_body("pull_request", "opened")
    missing = send(receiver.url, "pull_request", body, secret=None)
    wrong_secret = send(receiver.url, "pull_request", body, secret="not-the-secret")
    sha1 = "sha1=" + __import__("hmac").new(SECRET.encode(), body, "sha1").hexdigest()
    sha1_only = send(receiver.url, "pull_request", body, secret=None, X_Hub_Signature=sha1)
    # a valid signature for other bytes: the body was altered in transit
    altered = httpx.post(
        f"{receiver.url}/webhook",
        content=body.replace(b'"opened"', b'"reopened"', 1),
        headers={
            "X-GitHub-Event": "pull_request",
            "X-GitHub-Delivery": "d",
            "X-Hub-Signature-256": sign(body, SECRET),
        },
    )
    for reply in (missing, wrong_secret, sha1_only, altered):
        assert reply.status_code == 401
    assert entries(db, redis_prefix) == []


def test_a_body_over_25_mb_is_refused_with_413(
    receiver: ServedApp, db: redis.Redis, redis_prefix: str
) -> None:
    body = b"{" + b" " * (26 * 1024 * 1024) + b"}"
    declared = send(receiver.url, "pull_request", body, SECRET)
    assert declared.status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the receiver counts while it reads
        for _ in range(26):
            yield b" " * (1024 * 1024)

    streamed = httpx.post(
        f"{receiver.url}/webhook",
        content=chunks(),
        headers={
            "X-GitHub-Event": "pull_request",
            "X-GitHub-Delivery": "d",
            "X-Hub-Signature-256": "sha256=" + "0" * 64,
        },
    )
    assert streamed.status_code == 413
    assert entries(db, redis_prefix) == []


def test_the_413_comes_before_the_body_is_read(receiver: ServedApp) -> None:
    head = (
        f"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"X-GitHub-Event: pull_request\r\nX-GitHub-Delivery: d\r\nX-Hub-Signature-256: sha256={'0' * 64}\r\n"
        f"Content-Length: {26 * 1024 * 1024}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", receiver.port), timeout=5) as sock:
        sock.sendall(head + b"{")  # one byte of 26 MB, and wait
        status_line = sock.recv(4096).split(b"\r\n", 1)[0]
    assert status_line == b"HTTP/1.1 413 Request Entity Too Large"


def test_a_signed_body_that_is_not_a_json_object_is_400_and_an_unreadable_one_is_dropped_by_the_router(
    receiver: ServedApp, db: redis.Redis, redis_prefix: str
) -> None:
    """The receiver validates the JSON (not its shape): anything that is not one JSON object is a 400 and
    queues nothing; the worker that routes a delivery reads its shape, and one it cannot use is logged and
    counted there, never retried, never a feature's work."""
    from bot import metrics

    for body in (b"[1, 2, 3]", b"\xff\xfe", b"  \"text\"", b'{"action": "opened", ', b"{} {}",
                 b'\xef\xbb\xbf{"action": "opened"}'):  # a BOM: the worker's parser refuses it
        assert send(receiver.url, "pull_request", body, SECRET).status_code == 400, body
    # JSON the receiver's validator cannot hold but the worker's parser reads (an integer past 64 bits)
    big = send(receiver.url, "pull_request", b'{"action": "labeled", "n": 18446744073709551616}', SECRET)
    assert (big.status_code, big.json()) == (202, {"status": "queued"})
    assert entries(db, redis_prefix) == [], "labeled: routed, nothing for any feature"
    assert db.xlen(f"{redis_prefix}:jobs") == 0
    unexpected = metrics.ROUTED.labels("pull_request", "unexpected_payload")
    before = unexpected._value.get()
    reply = send(receiver.url, "pull_request", b'{"action": 5}', SECRET)
    assert (reply.status_code, reply.json()) == (202, {"status": "queued"})
    assert entries(db, redis_prefix) == [] and entries(db, redis_prefix, "signoff") == []
    assert unexpected._value.get() == before + 1
    assert db.xlen(f"{redis_prefix}:jobs") == 0, "the routed delivery's entry (its body) is deleted"


def test_ping_and_irrelevant_events_are_200_and_queue_nothing(
    receiver: ServedApp, db: redis.Redis, redis_prefix: str
) -> None:
    ping = send(receiver.url, "ping", fixture_body("ping"), SECRET)
    assert ping.status_code == 200 and ping.json() == {"status": "pong"}
    for event in ("push", "star", "deployment_status"):  # no feature handles these events at all
        reply = send(receiver.url, event, json_body(fixture_payload("pull_request", "opened")), SECRET)
        assert (reply.status_code, reply.json()) == (200, {"status": "ignored"}), event
    assert db.xlen(f"{redis_prefix}:jobs") == 0
    # actions of a handled event are for the router: queued as they come, then nothing for any feature
    for action in ("labeled", "edited"):
        reply = send(receiver.url, "pull_request", json_body(pull_request_payload(action)), SECRET)
        assert (reply.status_code, reply.json()) == (202, {"status": "queued"}), action
    assert entries(db, redis_prefix) == [] and db.xlen(f"{redis_prefix}:jobs") == 0
    # closed: nothing for an unmerged PR; a merged one is no scan, but the sign-off records a bypass if it
    # was merged while prguard's runs were not green
    closed = pull_request_payload("closed")
    closed["pull_request"]["state"] = "closed"
    assert send(receiver.url, "pull_request", json_body(closed), SECRET).status_code == 202
    assert entries(db, redis_prefix) == [] and db.xlen(f"{redis_prefix}:jobs") == 0
    closed["pull_request"]["merged"] = True
    assert send(receiver.url, "pull_request", json_body(closed), SECRET).status_code == 202
    assert entries(db, redis_prefix) == [] and len(entries(db, redis_prefix, "signoff")) == 1


def test_a_newer_push_moves_the_prs_head_and_a_late_older_one_does_not(
    receiver: ServedApp, db: redis.Redis, redis_prefix: str
) -> None:
    newer = pull_request_payload("synchronize", head_sha="2" * 40, updated_at="2026-05-01T10:05:00Z")
    older = pull_request_payload("synchronize", head_sha="1" * 40, updated_at="2026-05-01T10:00:00Z")
    assert send(receiver.url, "pull_request", json_body(newer), SECRET).status_code == 202
    assert send(receiver.url, "pull_request", json_body(older), SECRET).status_code == 202
    assert len(entries(db, redis_prefix)) == 2
    assert db.hget(f"{redis_prefix}:head:codertocat/hello-world#2", "sha") == "2" * 40


def test_two_pushes_in_the_same_second_arriving_out_of_order_keep_the_newer_head(
    receiver: ServedApp, db: redis.Redis, redis_prefix: str
) -> None:
    """`updated_at` has one-second resolution: X -> Y -> Z pushed within a second, Z delivered before Y. The
    tie used to go to the last delivery (Y), so Z, the PR's real head, was cancelled as superseded."""
    same_second = "2026-05-01T10:00:07Z"

    def push(before: str, after: str) -> bytes:
        payload = fixture_payload("pull_request", "synchronize")
        payload["before"], payload["after"] = before, after
        payload["pull_request"]["head"]["sha"] = after
        payload["pull_request"]["updated_at"] = same_second
        return json_body(payload)

    x, y, z = "1" * 40, "2" * 40, "3" * 40
    assert send(receiver.url, "pull_request", push(y, z), SECRET).status_code == 202
    assert send(receiver.url, "pull_request", push(x, y), SECRET).status_code == 202
    entries(db, redis_prefix)  # routed in the order they came
    assert db.hget(f"{redis_prefix}:head:codertocat/hello-world#2", "sha") == z
    w = "4" * 40  # in order, a tie still moves the head forward
    assert send(receiver.url, "pull_request", push(z, w), SECRET).status_code == 202
    entries(db, redis_prefix)
    assert db.hget(f"{redis_prefix}:head:codertocat/hello-world#2", "sha") == w


def test_a_failed_enqueue_leaves_no_dedupe_mark_so_redelivery_works(
    receiver: ServedApp, db: redis.Redis, redis_prefix: str
) -> None:
    db.set(f"{redis_prefix}:jobs", "not a stream")  # XADD now fails (WRONGTYPE) inside the script
    delivery = str(uuid.uuid4())
    body = fixture_body("pull_request", "opened")
    assert send(receiver.url, "pull_request", body, SECRET, delivery).status_code == 503
    assert not db.exists(f"{redis_prefix}:delivery:{delivery}")
    db.delete(f"{redis_prefix}:jobs")
    assert (
        send(receiver.url, "pull_request", body, SECRET, delivery).status_code == 202
    )  # GitHub's redelivery
    assert len(entries(db, redis_prefix)) == 1


def test_redis_down_gives_503_and_the_receiver_recovers(
    private_redis: RedisServer, redis_prefix: str
) -> None:
    server = start_receiver(private_redis.url, redis_prefix)
    body = fixture_body("pull_request", "opened")
    try:
        assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
        private_redis.stop()
        started = time.monotonic()
        down = send(server.url, "pull_request", body, SECRET, "during-outage")
        assert down.status_code == 503
        assert time.monotonic() - started < 5  # well inside GitHub's 10 s
        assert httpx.get(f"{server.url}/healthz").status_code == 503
        private_redis.start()  # same port, empty
        assert httpx.get(f"{server.url}/healthz").status_code == 200
        assert send(server.url, "pull_request", body, SECRET, "during-outage").status_code == 202
        client = redis.Redis.from_url(private_redis.url, decode_responses=True)
        assert [f["feature"] for _id, f in client.xrange(f"{redis_prefix}:jobs")] == ["delivery"]
        client.close()
    finally:
        server.stop()


def test_a_redis_restart_between_deliveries_costs_no_delivery(
    private_redis: RedisServer, redis_prefix: str
) -> None:
    """Redis restarted (or dropped idle clients, as managed Redis does) while no delivery came in: the
    pooled connection was stale and the next delivery got a 503, which GitHub does not redeliver itself."""
    server = start_receiver(private_redis.url, redis_prefix)
    body = fixture_body("pull_request", "opened")
    try:
        assert send(server.url, "pull_request", body, SECRET, "before-restart").status_code == 202
        private_redis.stop()
        private_redis.start()  # same port, empty
        assert send(server.url, "pull_request", body, SECRET, "after-restart").status_code == 202
        client = redis.Redis.from_url(private_redis.url, decode_responses=True)
        queued = [(f["delivery_id"], f["feature"]) for _id, f in client.xrange(f"{redis_prefix}:jobs")]
        assert queued == [("after-restart", "delivery")]
        client.close()
    finally:
        server.stop()


def test_prguard_serve_logs_one_line_per_delivery_and_never_the_secret(
    redis_url: str, redis_prefix: str
) -> None:
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(ROOT),
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "REDIS_URL": redis_url,
        "PRGUARD_REDIS_PREFIX": redis_prefix,
        "PORT": str(port),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli.main", "serve", "--host", "127.0.0.1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc)
        body = fixture_body("pull_request", "opened")
        assert send(f"http://127.0.0.1:{port}", "pull_request", body, SECRET, "d-log").status_code == 202
        assert send(f"http://127.0.0.1:{port}", "pull_request", body, "wrong", "d-bad").status_code == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=15)
    # uvicorn shuts down gracefully, then re-raises the captured SIGTERM (the conventional exit status)
    assert proc.returncode in (0, -signal.SIGTERM), err
    assert SECRET not in err
    records = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    deliveries = [r for r in records if r["event"] == "webhook.delivery"]
    assert [(r["delivery"], r["outcome"], r["status"]) for r in deliveries] == [
        ("d-log", "queued", 202),
        ("d-bad", "bad_signature", 401),
    ]
    # an authentic delivery's line names what it is about; nothing of an unauthenticated body is read
    head = fixture_payload("pull_request", "opened")["pull_request"]["head"]["sha"]
    installation = fixture_payload("pull_request", "opened")["installation"]["id"]
    assert [deliveries[0][k] for k in ("installation", "repo", "pr", "head_sha")] == [
        installation, "Codertocat/Hello-World", 2, head]
    assert "repo" not in deliveries[1] and "Hello-World" not in json.dumps(deliveries[1])


async def test_a_synchronize_delivery_supersedes_the_queued_opened_one(
    redis_url: str, redis_prefix: str
) -> None:
    """Receiver to worker: two real deliveries for one PR; only the newer head is scanned."""
    from redis.asyncio import Redis

    from bot.runtime.queue import JobQueue
    from bot.runtime.worker import Worker
    from tests.worker_handlers import RecordingHandler

    opened = pull_request_payload("opened", head_sha="1" * 40, updated_at="2026-05-01T10:00:00Z")
    pushed = pull_request_payload("synchronize", head_sha="2" * 40, updated_at="2026-05-01T10:03:00Z")
    server = start_receiver(redis_url, redis_prefix)
    try:
        async with httpx.AsyncClient(base_url=server.url) as client:
            for name, payload in (("d-opened", opened), ("d-sync", pushed)):
                body = json_body(payload)
                reply = await client.post(
                    "/webhook",
                    content=body,
                    headers={
                        "X-GitHub-Event": "pull_request",
                        "X-GitHub-Delivery": name,
                        "X-Hub-Signature-256": sign(body, SECRET),
                        "Content-Type": "application/json",
                    },
                )
                assert reply.status_code == 202
    finally:
        server.stop()
    client = Redis.from_url(redis_url)
    handler = RecordingHandler()
    try:
        # each delivery also queued the sign-off's job: handled by its own (recording) handler here
        assert await route_queued(redis_url, redis_prefix) == 2
        handlers = {"scan": handler, "signoff": RecordingHandler()}
        assert await Worker(JobQueue(client, prefix=redis_prefix), handlers).run_once() == 4
    finally:
        await client.aclose()
    assert sorted(handler.calls) == [("cancel", "d-opened", 1), ("process", "d-sync", 1)]
