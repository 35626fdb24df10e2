"""Prometheus metrics of the receiver and the workers (`GET /metrics`), in one registry per process.

What an operator needs to see that prguard keeps up and loses nothing: deliveries by event and outcome,
queue depth and the oldest unfinished job's age, job and per-check durations, GitHub API calls by status and
the rate limit left, dead letters, and what reconcile repaired. Label values come from fixed sets only
(an unauthenticated request's `X-GitHub-Event` header is never a label: an unknown event is "other"), so no
client can grow the registry; no label or value ever holds a secret, a path or a repository name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpx
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

REGISTRY = CollectorRegistry(auto_describe=True)

DELIVERIES = Counter("prguard_webhook_deliveries_total", "Webhook deliveries answered, by event and outcome",
                     ["event", "outcome"], registry=REGISTRY)
ROUTED = Counter("prguard_deliveries_routed_total",
                 "Queued deliveries routed by a worker, by event and outcome (queued, duplicate, ignored, "
                 "malformed_json, unexpected_payload)", ["event", "outcome"], registry=REGISTRY)
QUEUE_DEPTH = Gauge("prguard_queue_jobs", "Jobs in the stream, running (pending) and dead-lettered",
                    ["state"], registry=REGISTRY)
OLDEST_JOB_AGE = Gauge("prguard_queue_oldest_job_age_seconds", "Age of the oldest unfinished job",
                       registry=REGISTRY)
JOB_SECONDS = Histogram("prguard_job_duration_seconds", "Time a worker spent on one job, by feature, outcome",
                        ["feature", "outcome"], registry=REGISTRY,
                        buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600))
CHECK_SECONDS = Histogram("prguard_check_duration_seconds", "Time one check took on one PR head, by outcome",
                          ["check", "outcome"], registry=REGISTRY,
                          buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300))
GITHUB_REQUESTS = Counter("prguard_github_requests_total", "GitHub API requests, by method and status class",
                          ["method", "status"], registry=REGISTRY)
RATE_LIMIT_REMAINING = Gauge("prguard_github_rate_limit_remaining",
                             "x-ratelimit-remaining of the last GitHub answer, by resource",
                             ["resource"], registry=REGISTRY)
DEAD_LETTERS = Counter("prguard_dead_letters_total", "Jobs given up on and dead-lettered, by feature",
                       ["feature"], registry=REGISTRY)
RECONCILE = Counter("prguard_reconcile_repairs_total",
                    "What reconcile did: redelivered deliveries, queued heads, failed stuck runs, errors",
                    ["kind"], registry=REGISTRY)

_METHODS = frozenset({"GET", "POST", "PATCH", "PUT", "DELETE"})
_RESOURCES = frozenset({"core", "search", "graphql", "integration_manifest", "code_scanning_upload"})


def event_label(event: str, known: Iterable[str]) -> str:
    return event if event in known else "other"


def render() -> tuple[bytes, str]:
    """The exposition text and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def set_queue(stats: dict[str, int], oldest_age: float) -> None:
    QUEUE_DEPTH.labels("stream").set(stats.get("stream", 0))
    QUEUE_DEPTH.labels("pending").set(stats.get("pending", 0))
    QUEUE_DEPTH.labels("dead").set(stats.get("dead_letters", 0))
    OLDEST_JOB_AGE.set(oldest_age)


def observe_github(response: httpx.Response) -> None:
    method = response.request.method if response.request.method in _METHODS else "OTHER"
    GITHUB_REQUESTS.labels(method, f"{response.status_code // 100}xx").inc()
    remaining = response.headers.get("x-ratelimit-remaining")
    if remaining is not None and remaining.isdigit():
        resource = response.headers.get("x-ratelimit-resource", "core")
        RATE_LIMIT_REMAINING.labels(resource if resource in _RESOURCES else "other").set(int(remaining))


class MetricsTransport(httpx.AsyncBaseTransport):
    """Counts every GitHub answer (status class, rate limit left) on its way to githubkit."""

    def __init__(self, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await self.inner.handle_async_request(request)
        except Exception:
            GITHUB_REQUESTS.labels(request.method if request.method in _METHODS else "OTHER", "error").inc()
            raise
        response.request = request
        observe_github(response)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def serve(port: int) -> Any:
    """The worker's own `/metrics` endpoint on `port` (a daemon thread); returns the server."""
    from prometheus_client import start_http_server

    server, _thread = start_http_server(port, addr="0.0.0.0", registry=REGISTRY)
    return server
