"""The App's webhook delivery log, as `GET /app/hook/deliveries` shows it, and redelivery.

A test records what GitHub would have tried to deliver (`record`, with the HTTP status the receiver gave, or
0 when it could not be reached), points `webhook_url` at prguard's receiver, and lets prguard's reconcile ask
for redeliveries: `POST /app/hook/deliveries/{id}/attempts` answers 202 and, like GitHub, sends the original
payload again (same `X-GitHub-Delivery` guid, a new delivery id in the log with `redelivery: true`) from a
background thread.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx


@dataclass
class HookDelivery:
    id: int
    guid: str
    event: str
    action: str | None
    payload: dict[str, Any]
    status_code: int
    delivered_at: float
    redelivery: bool = False
    installation_id: int | None = None
    repository_id: int | None = None

    def item(self) -> dict[str, Any]:
        """The `hook-delivery-item` shape."""
        ok = 200 <= self.status_code < 300
        return {
            "id": self.id,
            "guid": self.guid,
            "delivered_at": datetime.fromtimestamp(self.delivered_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "redelivery": self.redelivery,
            "duration": 0.05,
            "status": "OK" if ok else ("Invalid HTTP Response: " + str(self.status_code) if self.status_code
                                       else "failed to connect to host"),
            "status_code": self.status_code,
            "event": self.event,
            "action": self.action,
            "installation_id": self.installation_id,
            "repository_id": self.repository_id,
            "throttled_at": None,
        }


@dataclass
class HookLog:
    secret: str
    webhook_url: str | None = None
    deliveries: list[HookDelivery] = field(default_factory=list)
    #: ids of deliveries a redelivery was asked for, in order
    redelivery_requests: list[int] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _next_id: int = 90_000_000

    def record(self, event: str, payload: dict[str, Any], status_code: int, guid: str,
               at: float | None = None, redelivery: bool = False) -> HookDelivery:
        with self._lock:
            self._next_id += 1
            delivery = HookDelivery(
                self._next_id, guid, event, payload.get("action"), payload, status_code,
                time.time() if at is None else at, redelivery,
                (payload.get("installation") or {}).get("id"), (payload.get("repository") or {}).get("id"),
            )
            self.deliveries.append(delivery)
            return delivery

    def newest_first(self) -> list[HookDelivery]:
        with self._lock:
            return sorted(self.deliveries, key=lambda d: d.id, reverse=True)

    def get(self, delivery_id: int) -> HookDelivery | None:
        with self._lock:
            return next((d for d in self.deliveries if d.id == delivery_id), None)

    def redeliver(self, original: HookDelivery) -> None:
        """Send the payload again to `webhook_url` in the background and log the attempt."""
        with self._lock:
            self.redelivery_requests.append(original.id)
        threading.Thread(target=self._send, args=(original,), daemon=True).start()

    def _send(self, original: HookDelivery) -> None:
        body = json.dumps(original.payload).encode()
        status = 0
        if self.webhook_url:
            digest = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
            headers = {"X-GitHub-Event": original.event, "X-GitHub-Delivery": original.guid,
                       "X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json",
                       "User-Agent": "GitHub-Hookshot/double"}
            try:
                status = httpx.post(self.webhook_url, content=body, headers=headers, timeout=10).status_code
            except httpx.HTTPError:
                status = 0
        self.record(original.event, original.payload, status, original.guid, redelivery=True)
