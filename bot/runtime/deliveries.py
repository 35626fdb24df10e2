"""A webhook delivery as the receiver queues it, and the worker-side handler that routes it to the features.

Why the receiver does not route: GitHub gives a delivery 10 seconds and the receiver is the one part of
prguard on the internet, so it does only what any webhook receiver must — check the signature, mark the
delivery id, append the body to the stream (one script, one round trip) — and answers. Parsing the JSON,
asking the features what they want (`bot.runtime.router`) and queueing their envelopes happen here, in a
worker, as the first job of every delivery. Measured with the ingest benchmark, routing in the receiver cost
it two thirds of its throughput; here it costs one short job, retried and reclaimed like any other.

The delivery's envelope (`feature = "delivery"`) carries the event, the delivery id and the body as text; its
entry is deleted from the stream once routed (`JobQueue.ack(drop=True)`), so bodies do not stay in Redis.
A body that is not GitHub's (not JSON, too deep, no string `action`, a shape no feature can read) is logged
as `webhook.unroutable` with the reason and counted, never retried: GitHub signed it, so sending it again
would not change it.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import orjson
import simdjson

from bot import metrics
from bot.log import get_logger
from bot.runtime.envelope import DELIVERY_FEATURE, Envelope, IsCurrent
from bot.runtime.queue import JobQueue
from bot.runtime.router import Router

log = get_logger("prguard.router")

#: the feature name of a delivery's own envelope
FEATURE = DELIVERY_FEATURE
#: `data` key of the raw body, and of its encoding (`form`: GitHub's application/x-www-form-urlencoded)
BODY = "body"
FORM = "form"


def envelope(event: str, delivery_id: str, body: str, *, form: bool = False) -> Envelope:
    """The envelope the receiver queues for an authentic delivery (its dedupe key is the delivery id)."""
    data = {BODY: body, FORM: "1"} if form else {BODY: body}
    return Envelope(feature=FEATURE, event=event, action="", delivery_id=delivery_id, installation_id=0,
                    owner="", repo="", data=data)


def payload(body: str, form: bool) -> dict[str, Any] | None:
    """The JSON object GitHub sent (JSON, or the form encoding's `payload` field); None when malformed.

    Nesting is bounded: orjson refuses more than 1,024 levels and json raises RecursionError past ~1,000,
    malformed here like any other parse error (GitHub's payloads nest about 6 deep).
    """
    try:
        if form:
            text = parse_qs(body, strict_parsing=True).get("payload", [""])[0]
            data = json.loads(text)
        else:
            data = orjson.loads(body)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _get(obj: Any, *path: str) -> Any:
    """`obj[path[0]][path[1]]...` when each step is an object (a dict or simdjson's lazy `Object`) holding
    it, and the value is a string or a number; else None. The payload is signed, but a log must not fail."""
    for key in path:
        try:
            obj = obj.get(key)
        except (AttributeError, TypeError):
            return None
    return obj if isinstance(obj, str | int) and not isinstance(obj, bool) else None


def log_fields(data: Any) -> dict[str, Any]:
    """The installation, repository, PR number and head SHA a payload names (None where it names none), for
    the log."""
    return {
        "installation": _get(data, "installation", "id"),
        "repo": _get(data, "repository", "full_name"),
        "pr": _get(data, "pull_request", "number") or _get(data, "issue", "number") or _get(data, "number"),
        "head_sha": _get(data, "pull_request", "head", "sha") or _get(data, "check_run", "head_sha")
        or _get(data, "check_suite", "head_sha"),
    }


#: Bodies up to this size are parsed by the receiver's one reused parser (`Inspector`).
REUSE_PARSER_BYTES = 1024 * 1024


class Inspector:
    """The receiver's look at a signed body before it is queued: is it a JSON object the worker will be able
    to parse (`payload`: valid, nested at most 1,024 deep), and which installation, repository, PR and head
    SHA does it name (for the receiver's log line)?

    Why simdjson: it validates a 28 KB payload and answers those four lookups in ~6 µs without building
    Python objects; parsing it into dicts (orjson) cost the receiver ~80 µs under load, a third of a
    delivery's CPU. A body it refuses is parsed by orjson before the answer is a 400 (integers past 64 bits
    are JSON orjson reads), and a UTF-8 BOM, which simdjson skips and orjson refuses, is refused here: what
    passes here parses there, and the reverse.
    One parser is reused (its buffer grows once); a document must be dropped before the next parse, so
    nothing here awaits or keeps one.
    """

    def __init__(self) -> None:
        self.parser = simdjson.Parser()

    def inspect(self, body: bytes | bytearray, text: str, form: bool) -> dict[str, Any] | None:
        """The log fields of a readable body; None when the worker could not parse it."""
        if form:  # GitHub's legacy encoding, rare: parsed as the worker will parse it
            data = payload(text, form=True)
            return None if data is None else log_fields(data)
        if body[:3] == b"\xef\xbb\xbf":  # simdjson skips a UTF-8 BOM, orjson (the worker) refuses it
            return None
        # a large body gets a parser of its own, freed with it: the shared one keeps its buffers at the size
        # of the largest document it parsed (~100 MB after a 25 MB payload)
        parser = self.parser if len(body) <= REUSE_PARSER_BYTES else simdjson.Parser()
        try:
            doc = parser.parse(body)
        except (ValueError, RuntimeError):  # malformed or too deep — or only beyond simdjson: ask orjson
            data = payload(text, form=False)  # (integers past 64 bits, which orjson reads as floats)
            return None if data is None else log_fields(data)
        try:
            return log_fields(doc) if isinstance(doc, simdjson.Object) else None
        finally:
            del doc


class DeliveryHandler:
    """Routes a queued delivery: parse, ask the router, queue every feature's envelopes (one round trip)."""

    def __init__(self, router: Router, queue: JobQueue) -> None:
        self.router = router
        self.queue = queue
        self.known_events = frozenset(e for f in router.features.values() for e in f.events)

    async def process(self, envelope: Envelope, is_current: IsCurrent) -> None:
        event, delivery = envelope.event, envelope.delivery_id
        data = payload(envelope.get(BODY), envelope.get(FORM) == "1")
        if data is None:
            return self._unroutable(event, delivery, "malformed_json", "not a JSON object")
        action = data.get("action", "")
        if not isinstance(action, str):  # GitHub's `action` is always a string: this payload is not GitHub's
            return self._unroutable(event, delivery, "unexpected_payload", "action is not a string")
        try:
            envelopes = self.router.route(event, delivery, data)
        except Exception as exc:  # an odd shape, or a feature's bug: logged once, never retried
            return self._unroutable(event, delivery, "unexpected_payload", type(exc).__name__, action)
        ctx = {"event": f"{event}.{action}"[:100], "delivery": delivery}
        if not envelopes:
            log.info("webhook.routed", outcome="ignored", repo=log_fields(data)["repo"], **ctx)
            self._count(event, "ignored")
            return None
        queued = await self.queue.enqueue_all(envelopes)  # a Redis error raises: the job is retried
        first = envelopes[0].log_context()
        outcome = "queued" if any(queued) else "duplicate"
        features = [e.feature for e, q in zip(envelopes, queued, strict=True) if q]
        log.info("webhook.routed", outcome=outcome, repo=first["repo"], pr=first["pr"],
                 head_sha=first["head_sha"], features=features, **ctx)
        self._count(event, outcome)
        return None

    def _unroutable(self, event: str, delivery: str, outcome: str, error: str, action: str = "") -> None:
        log.error("webhook.unroutable", outcome=outcome, error=error, event=f"{event}.{action}"[:100],
                  delivery=delivery)
        self._count(event, outcome)

    def _count(self, event: str, outcome: str) -> None:
        metrics.ROUTED.labels(metrics.event_label(event, self.known_events), outcome).inc()

    async def fail(self, envelope: Envelope, reason: str) -> None:
        """Given up (Redis kept failing): nothing was opened; the dead letter keeps the delivery."""
        log.error("webhook.route_gave_up", delivery=envelope.delivery_id, event=envelope.event, reason=reason)

    async def cancel(self, envelope: Envelope, newer_version: str) -> None:
        return None  # never superseded: a delivery's envelope has no supersede key
