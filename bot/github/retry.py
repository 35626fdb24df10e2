"""Which GitHub failures prguard retries, how long it waits, and how a failure reads in a log or summary.

`RetryPolicy` is githubkit's `auto_retry` decision function for every call prguard makes (bot/github/client.py
plugs it in; its module docstring states the rules and why githubkit's defaults do not fit a queue worker).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

import httpx
from githubkit.exception import GitHubException, RateLimitExceeded, RequestError, RequestFailed
from githubkit.typing import RetryOption

from bot.log import get_logger

if TYPE_CHECKING:
    from bot.github.client import GitHubOptions, TokenCache

log = get_logger("bot.github.client")

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
# githubkit sleeps 60 s when a retry delay is falsy (timedelta(0) included): never hand it zero.
_TINY = timedelta(milliseconds=1)


class RateLimitWaitTooLong(GitHubException):
    """GitHub asked for a longer pause than a worker may block for; the queue retries the job later."""

    def __init__(self, method: str, url: str, wait_s: float, limit_s: float) -> None:
        super().__init__(
            f"GitHub rate limit on {method} {url}: asked to wait {wait_s:.0f} s, more than the "
            f"{limit_s:.0f} s a worker may block; the job will be retried later"
        )
        self.wait_s = wait_s


def _failed(exc: BaseException) -> RequestFailed | None:
    """The failed reply behind a githubkit error, also inside the wrapper githubkit puts around auth
    failures; None for a network error."""
    if isinstance(exc, RequestFailed):
        return exc
    if isinstance(exc, RequestError) and isinstance(exc.exc, RequestFailed):
        return exc.exc
    return None


def _is_secondary_limit(failed: RequestFailed) -> bool:
    if failed.response.status_code not in (403, 429):
        return False
    if failed.response.status_code == 429 or isinstance(failed, RateLimitExceeded):
        return True
    try:
        message = str(failed.response.raw_response.json().get("message", ""))
    except Exception:  # a 403 without a JSON object body is not a rate limit (nothing lost: it is raised)
        return False
    return "rate limit" in message.lower()


def error_message(exc: RequestFailed) -> str:
    """GitHub's `message` and `errors` from a failed reply, on one bounded line (for logs and summaries)."""
    try:
        payload = exc.response.raw_response.json()
    except ValueError:  # a proxy's HTML error page: the status is all there is to say
        return f"HTTP {exc.response.status_code}"
    if not isinstance(payload, dict):
        return f"HTTP {exc.response.status_code}"
    text = f"{payload.get('message', '')} {payload.get('errors') or ''}"
    return " ".join(text.split())[:300] or f"HTTP {exc.response.status_code}"


def rate_limit_wait(response: httpx.Response, default_s: float) -> float:
    """GitHub's rule: `Retry-After`, else `x-ratelimit-reset`, else at least `default_s`."""
    retry_after = response.headers.get("retry-after")
    if retry_after is not None:
        try:
            seconds = float(retry_after)
        except ValueError:  # not seconds (an HTTP date from a proxy): the default; `_retry` logs the wait
            return default_s
        return max(seconds, 0.0) if math.isfinite(seconds) else default_s  # "nan", "inf": not a wait
    reset = response.headers.get("x-ratelimit-reset")
    if reset is not None and response.headers.get("x-ratelimit-remaining") == "0":
        try:
            epoch = float(reset)
        except ValueError:  # not an epoch: the default; `_retry` logs the wait taken
            return default_s
        # the reset is a whole-second epoch: wait a second past it rather than racing it
        return max(epoch - time.time(), 0.0) + 1.0 if math.isfinite(epoch) else default_s
    return default_s


@dataclass
class RetryPolicy:
    """A githubkit `RetryDecisionFunc` (see the module docstring for the rules)."""

    options: GitHubOptions
    cache: TokenCache
    #: The most recent retries as (kind, delay_s): read by tests and benchmarks.
    retries_taken: deque[tuple[str, float]] = field(default_factory=lambda: deque(maxlen=1000))

    def __call__(self, exc: GitHubException, retry_count: int) -> RetryOption:
        failed = _failed(exc)
        status = failed.response.status_code if failed is not None else None
        request = _request_of(exc)
        method = request.method if request is not None else "?"  # unknown: never taken for idempotent
        url = str(request.url) if request is not None else "?"

        if status == 401 and retry_count < 2:
            self._forget_credentials(exc)
            return self._retry("auth", 0.0, method, url)

        if failed is not None and _is_secondary_limit(failed):
            wait = rate_limit_wait(failed.response.raw_response, self.options.default_rate_limit_wait)
            if wait > self.options.max_rate_limit_wait:
                raise RateLimitWaitTooLong(method, url, wait, self.options.max_rate_limit_wait) from exc
            if retry_count >= self.options.rate_limit_retries + len(self.options.server_error_delays):
                return RetryOption(False)
            return self._retry("rate_limit", wait, method, url)

        server_error = (status is not None and status >= 500) or (
            isinstance(exc, RequestError) and failed is None
        )
        if server_error and method in IDEMPOTENT and retry_count < len(self.options.server_error_delays):
            return self._retry("server_error", self.options.server_error_delays[retry_count], method, url)
        return RetryOption(False)

    def _retry(self, kind: str, delay: float, method: str, url: str) -> RetryOption:
        self.retries_taken.append((kind, delay))
        log.warning("github.retry", kind=kind, delay_s=round(delay, 3), method=method, url=url)
        return RetryOption(True, max(timedelta(seconds=delay), _TINY))

    def _forget_credentials(self, exc: GitHubException) -> None:
        """Drop whatever credential the refused request carried (installation token or JWT)."""
        for request in _requests_of(exc):
            auth = request.headers.get("authorization", "")
            _, _, value = auth.partition(" ")
            if value:
                self.cache.forget(value)


def _request_of(exc: BaseException) -> httpx.Request | None:
    requests = _requests_of(exc)
    return requests[0] if requests else None


def _requests_of(exc: BaseException) -> list[httpx.Request]:
    found: list[httpx.Request] = []
    if isinstance(exc, RequestFailed):
        found.append(exc.request)
    if isinstance(exc, RequestError):
        inner = exc.exc
        if isinstance(inner, RequestFailed):
            found.append(inner.request)
        elif isinstance(inner, httpx.RequestError):
            with contextlib.suppress(RuntimeError):  # an httpx error raised before a request existed
                found.append(inner.request)
    return found
