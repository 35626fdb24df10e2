"""Faults the double injects, to test prguard's retry, timeout and idempotency behaviour.

A fault matches a method and a path (a regex searched in the path under /api/v3), fires `times` times (None:
forever), may sleep first, and then either answers instead of the handler, or (`after_success`) lets the
handler change state and answers with the fault anyway: GitHub sometimes returns 502 for a POST it applied.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

DOCS = "https://docs.github.com/rest"
SECONDARY_DOCS = (
    "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits"
)
SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out "
    "to GitHub Support for help, please include the request ID."
)


@dataclass
class Fault:
    method: str | None = None
    path_regex: str = ".*"
    status: int | None = 502
    times: int | None = 1
    delay: float = 0.0
    after_success: bool = False
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.times is not None and self.hits >= self.times:
            return False
        return re.search(self.path_regex, path) is not None

    def describe(self) -> str:
        return f"{self.status or 'delay'}{' after success' if self.after_success else ''}"

    def response_body(self) -> dict[str, Any]:
        if self.body is not None:
            return self.body
        if self.status == 502:
            return {"message": "Server Error"}
        return {"message": "Fault injected by the GitHub double", "documentation_url": DOCS}


class Faults:
    """The double's fault list; add faults from the test thread, the server consumes them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(
        self,
        method: str | None = None,
        path_regex: str = ".*",
        status: int | None = 502,
        times: int | None = 1,
        delay: float = 0.0,
        after_success: bool = False,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Fault:
        fault = Fault(method, path_regex, status, times, delay, after_success, body, dict(headers or {}))
        with self._lock:
            self._faults.append(fault)
        return fault

    def secondary_rate_limit(
        self,
        method: str | None = None,
        path_regex: str = ".*",
        retry_after: int | None = 1,
        reset_in: int = 1,
        times: int | None = 1,
    ) -> Fault:
        """403 "secondary rate limit" with `Retry-After`, or (retry_after=None) with `x-ratelimit-reset`."""
        if retry_after is not None:
            headers = {"retry-after": str(retry_after)}
        else:
            headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(time.time()) + reset_in)}
        body = {"message": SECONDARY_MESSAGE, "documentation_url": SECONDARY_DOCS}
        return self.add(method, path_regex, 403, times, body=body, headers=headers)

    def too_many_requests(
        self, method: str | None = None, path_regex: str = ".*", retry_after: int = 1, times: int | None = 1
    ) -> Fault:
        body = {"message": SECONDARY_MESSAGE, "documentation_url": SECONDARY_DOCS}
        return self.add(method, path_regex, 429, times, body=body, headers={"retry-after": str(retry_after)})

    def slow(
        self, delay: float, method: str | None = None, path_regex: str = ".*", times: int | None = 1
    ) -> Fault:
        """Sleep `delay` seconds, then answer normally (to test client timeouts)."""
        return self.add(method, path_regex, None, times, delay=delay)

    def take(self, method: str, path: str) -> Fault | None:
        """The first matching fault, counted as hit."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.hits += 1
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def __iter__(self) -> Iterator[Fault]:
        with self._lock:
            return iter(list(self._faults))
