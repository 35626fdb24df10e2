"""A webhook request's body, read before anyone knows who sent it: bounded in size, in time and, across all
requests of the process, in memory.

Why a module of its own: the receiver must buffer a whole body to check its signature, so this is the part an
unauthenticated client can press on (`BodyBudget` for memory, `BodyReader` for the 25 MB cap and the read
deadline); the receiver (bot/runtime/receiver.py) turns its refusals into answers.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from bot.runtime import deadlines

if TYPE_CHECKING:
    from bot.runtime.receiver import Incoming

#: GitHub caps webhook payloads at 25 MB; anything larger is not from GitHub.
MAX_BODY_BYTES = 25 * 1024 * 1024
#: Bodies up to this size may use the budget's reserve (`BodyBudget`): nearly every real delivery is a few
#: tens of KB, so a flood of large bodies cannot starve them.
SMALL_BODY_BYTES = 1024 * 1024


class BodyBudget:
    """The bytes of request bodies the process holds at once, across all requests.

    Why: the signature can only be checked over the whole body, so the receiver must buffer up to 25 MB of
    a client it has not authenticated yet; without a bound, 16 clients sending 24 MB each took the process
    from 57 to 483 MB. A request takes its declared length before a byte is read (a chunked body takes its
    bytes as they come) and gives it back when it is answered; a request that does not fit is refused at
    once (503), never queued behind the others.

    The last `reserve` bytes are only for bodies of at most `SMALL_BODY_BYTES`, so that large bodies (or a
    flood of them, or large ones trickled to hold their share until the read deadline) leave room for the
    small deliveries GitHub sends all day. Single-threaded: the event loop is its lock.
    """

    def __init__(self, total: int, reserve: int | None = None) -> None:
        self.total = total
        self.reserve = min(total // 4, max(0, total - MAX_BODY_BYTES)) if reserve is None else reserve
        self.in_flight = 0

    def take(self, size: int, small: bool) -> bool:
        """Take `size` bytes if they fit (a large body may not dip into the reserve); on False, nothing."""
        limit = self.total if small else self.total - self.reserve
        if self.in_flight + size > limit:
            return False
        self.in_flight += size
        return True

    def give_back(self, size: int) -> None:
        self.in_flight -= size


class Refused(Exception):
    """The body was not read to its end: answer `status` with `outcome` (and `Connection: close`)."""

    def __init__(self, status: int, outcome: str) -> None:
        super().__init__(status, outcome)
        self.status = status
        self.outcome = outcome


class ClientGone(Exception):
    """The client closed the connection before its body ended: an ordinary outcome, not a server error."""


class BodyReader:
    """One request's body, read under the process's `BodyBudget`, the 25 MB cap and a whole-body deadline.

    `complete` says whether the body was read to its end; until it is, an answer must close the connection.
    The deadline is an entry in the loop's `Sweep` (bot/runtime/deadlines.py): past it, the read is cancelled
    and answered 408.
    `release()` gives the budget back (when the delivery is answered: the body is held until then).
    """

    def __init__(self, request: Incoming, budget: BodyBudget, deadline_s: float,
                 limit: int = MAX_BODY_BYTES) -> None:
        self.request = request
        self.budget = budget
        self.deadline_s = deadline_s
        self.limit = limit
        self.taken = 0
        declared = request.headers.get("content-length")
        self.declared = int(declared) if declared is not None and declared.isdigit() else None
        self.complete = self.declared == 0
        self._task: asyncio.Task[object] | None = None
        self._expired = False

    async def read(self) -> bytearray:
        """The raw body; else `Refused` (413 / 503 / 408) or `ClientGone`. Never reads past the cap."""
        if self.declared is not None:
            if self.declared > self.limit:
                raise Refused(413, "too_large")
            if not self.budget.take(self.declared, small=self.declared <= SMALL_BODY_BYTES):
                raise Refused(503, "busy")
            self.taken = self.declared
        body = bytearray()
        self._task = asyncio.current_task()
        cancelling = self._task.cancelling() if self._task is not None else 0
        sweep = deadlines.sweep_for(asyncio.get_running_loop(), self.deadline_s)
        sweep.watch(self, self.deadline_s, self._expire)
        try:
            while not self.complete:
                message = await self.request.receive()
                if message["type"] == "http.disconnect":
                    raise ClientGone
                body += message.get("body", b"")
                self.complete = not message.get("more_body", False)
                if len(body) > self.limit:
                    raise Refused(413, "too_large")
                if len(body) > self.taken:  # no Content-Length (chunked): take the bytes as they come
                    if not self.budget.take(len(body) - self.taken, small=False):
                        raise Refused(503, "busy")
                    self.taken = len(body)
        except asyncio.CancelledError:
            # ours only if the deadline cancelled and nothing else did too (a shutdown in the same turn)
            if not self._expired or self._task is None or self._task.uncancel() > cancelling:
                raise
            raise Refused(408, "read_timeout") from None
        finally:
            sweep.forget(self)
        return body

    def _expire(self) -> None:
        """The deadline passed while the body was being read (the sweep calls this): stop the read."""
        self._expired = True
        if self._task is not None:
            self._task.cancel()

    def release(self) -> None:
        self.budget.give_back(self.taken)
        self.taken = 0
