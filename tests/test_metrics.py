"""Issue 11 part 4: `GET /metrics` on the receiver and the worker, read as Prometheus would.

Counts are read before and after (the registry is per process), and the exposition is parsed with
prometheus-client's own text parser, as a scraper would.
"""

from __future__ import annotations

import json
import socket

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bot import metrics
from tests.e2e_stack import Stack, pr_payload
from tests.github_double.double import GitHubDouble
from tests.secrets_keys import github_token
from tests.webhooks import send


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def _value(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


async def test_the_receiver_counts_deliveries_by_event_and_outcome_and_shows_the_queue(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    async with Stack(github_double, redis_url, redis_prefix, start_worker=False) as stack:
        inst = stack.repo()
        pr = github_double.create_pull_request("octo/repo", changes={"a.py": (None, b"x = 1\n")})
        before = _samples(httpx.get(f"{stack.receiver.url}/metrics").text)
        key = ("prguard_webhook_deliveries_total", (("event", "pull_request"), ("outcome", "queued")))
        other = ("prguard_webhook_deliveries_total", (("event", "other"), ("outcome", "bad_signature")))
        body = json.dumps(pr_payload(pr, inst)).encode()
        secret = stack.settings.webhook_secret
        assert send(stack.receiver.url, "pull_request", body, secret).status_code == 202
        # an unauthenticated client picks its own event name: it must not become a label
        forged = send(stack.receiver.url, 'evil"} 1 prguard_owned', body, "not-the-secret")
        assert forged.status_code == 401
        queued = await stack.redis.xlen(stack.queue.stream)  # one job per interested feature
        reply = httpx.get(f"{stack.receiver.url}/metrics")
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/plain")
    after = _samples(reply.text)
    assert after[key] - before.get(key, 0.0) == 1
    assert after[other] - before.get(other, 0.0) == 1
    assert not any("evil" in str(labels) or name.startswith("prguard_owned") for name, labels in after)
    assert after[("prguard_queue_jobs", (("state", "stream"),))] == queued >= 1
    assert after[("prguard_queue_oldest_job_age_seconds", ())] >= 0


def _writes() -> float:
    return sum(_value("prguard_github_requests_total", method=m, status="2xx") for m in ("POST", "PATCH"))


async def test_a_worker_job_feeds_job_check_and_github_metrics(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    jobs = _value("prguard_job_duration_seconds_count", feature="scan", outcome="done")
    secrets_runs = _value("prguard_check_duration_seconds_count", check="secrets", outcome="ok")
    ok_calls = _value("prguard_github_requests_total", method="GET", status="2xx")
    writes = _writes()
    async with Stack(github_double, redis_url, redis_prefix) as stack:
        inst = stack.repo()
        pr = github_double.create_pull_request("octo/repo", changes={
            "leak.py": (None, b"T = '%s'\n" % github_token().encode())})
        await stack.deliver("pull_request", pr_payload(pr, inst))
        await stack.completed(pr.head_sha)
        await stack.drained()
    assert _value("prguard_job_duration_seconds_count", feature="scan", outcome="done") == jobs + 1
    assert _value("prguard_check_duration_seconds_count", check="secrets", outcome="ok") == secrets_runs + 1
    assert _value("prguard_github_requests_total", method="GET", status="2xx") > ok_calls
    assert _writes() >= writes + 4  # each of the four runs written (created, or created and completed)


def test_the_worker_serves_its_own_metrics_endpoint() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = metrics.serve(port)
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    finally:
        server.shutdown()
    names = {family.name for family in text_string_to_metric_families(text)}
    assert {"prguard_job_duration_seconds", "prguard_dead_letters", "prguard_github_requests",
            "prguard_reconcile_repairs"} <= names
