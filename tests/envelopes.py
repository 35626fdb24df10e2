"""Envelopes for runtime tests, built by the scan feature's own constructor (as real deliveries are)."""

from __future__ import annotations

import dataclasses

from bot.features.scan_routing import make_envelope
from bot.runtime.envelope import Envelope
from bot.runtime.queue import JobQueue


def scan_job(delivery: str, *, event: str = "pull_request", action: str | None = None,
             head_sha: str = "a" * 40,
             pr: int = 7, owner: str = "acme", repo: str = "shop", installation_id: int = 42) -> Envelope:
    """A PR-scan envelope as `bot.features.scan` builds it from a delivery."""
    action = action or ("opened" if event == "pull_request" else "requested")
    stub = {"number": pr, "base": {"ref": "main", "sha": "b" * 40},
            "head": {"ref": "feature", "sha": head_sha}}
    return make_envelope(event, action, delivery, installation_id, owner, repo, head_sha,
                         pr=stub if pr else None)


async def enqueue(queue: JobQueue, envelope: Envelope, updated_at: str = "", before: str = "") -> bool:
    """Queue `envelope` as the receiver would, with the payload's `updated_at` and `before` as its order."""
    return await queue.enqueue(dataclasses.replace(envelope, version_order=updated_at, version_before=before))
