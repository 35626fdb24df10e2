"""The job queue: one Redis Stream shared by every receiver and worker, read through one consumer group.

Why Streams with a consumer group: an entry read by a worker stays in the group's pending list until that
worker acknowledges it, so a job is never lost when a worker dies (at-least-once); any other worker reclaims
it with XAUTOCLAIM once it has been idle longer than the visibility timeout, and the pending list counts
deliveries, which is how retries are bounded before a job is dead-lettered.

Redis keys (`prefix` defaults to "prguard", setting PRGUARD_REDIS_PREFIX)::

    {prefix}:jobs                    the stream of envelopes (XADD MAXLEN ~ maxlen); consumer group "workers"
    {prefix}:dead                    dead letters: the envelope's fields + reason, entry_id, attempts and
                                     failed_at
    {prefix}:delivery:{dedupe_key}   an envelope with this dedupe key was queued (value: the stream entry id),
                                     TTL dedupe_ttl (by default the key is "<feature>:<X-GitHub-Delivery>";
                                     the PR scan's is the bare delivery id, as before features existed)
    {prefix}:head:{supersede_key}    hash {sha, updated_at, before, entry}: the newest version (a PR's head
                                     SHA) and the stream entry that recorded it, TTL head_ttl (the PR scan's
                                     key is "owner/repo#N", as before features existed)

The PR scan keeps the key names of the release before envelopes, so during a rolling deploy old and new
receivers and workers share one dedupe mark and one newest-head record per PR. Deploy workers before
receivers: an old worker reads a new envelope as a scan job (it ignores the fields it does not know), which
is right for scans but not for work of features it does not know.
    {prefix}:error:{entry_id}        last error of a failing entry (for the dead letter's reason), 1 day

The stream is bounded: XADD trims it to about `maxlen` entries (approximate trimming, `MAXLEN ~`; default
100,000, setting PRGUARD_STREAM_MAXLEN). Trimming drops the oldest entries whether or not they were processed,
so the bound must stay far above any backlog; an entry trimmed before it was processed is logged as
`queue.entry_lost` by the worker that tries to reclaim it. The dead-letter stream has the same bound.

All keys of one enqueue are written by one Lua script, so the delivery mark, the entry and the PR's newest
head are recorded together or not at all (a failed XADD never leaves a mark that would make GitHub's
redelivery look like a duplicate). Because the script touches several keys, Redis Cluster needs them in
one hash slot: use a prefix with a hash tag, e.g. PRGUARD_REDIS_PREFIX="{prguard}".

Interface used by the receiver (bot/runtime/receiver.py) and the worker (bot/runtime/worker.py)::

    queue = JobQueue(redis, prefix="prguard", maxlen=100_000, dedupe_ttl=..., head_ttl=...)
    queue = JobQueue.from_settings(redis, settings)
    await queue.enqueue(envelope) -> bool                         # False: its dedupe key was already seen
    await queue.ensure_group()
    await queue.read(consumer, count, block_ms) -> list[Entry]   # new entries, attempt 1
    await queue.reclaim(consumer, min_idle_ms, count) -> list[Entry]  # stalled; attempt from XPENDING
    await queue.ack(entry_id)
    await queue.dead_letter(entry, reason)                        # XADD {prefix}:dead + XACK, atomically
    await queue.latest_version(envelope) -> str | None            # newest version of its supersede key
    await queue.newer_version(envelope, entry_id) -> str | None   # the version that supersedes it
    await queue.heartbeat(consumer, entry_ids) -> list[str]       # ids still ours (idle time reset)
    await queue.owners(entry_ids) -> dict[str, str]               # who holds each pending entry
    await queue.hand_back(consumer, entry_ids)                    # make ours reclaimable right away
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import NoScriptError, ResponseError

from bot.log import get_logger
from bot.runtime.entry import Entry, as_str
from bot.runtime.envelope import Envelope

if TYPE_CHECKING:
    from bot.settings import Settings

log = get_logger("prguard.queue")

GROUP = "workers"
DAY = 24 * 3600

# KEYS: 1 dedupe mark, 2 stream, 3 newest-version hash (or the mark again when there is no version to record)
# ARGV: 1 dedupe ttl, 2 maxlen, 3 version ('' = none), 4 its order (updated_at), 5 ttl, 6 previous version,
#       7.. field/value pairs
# A version replaces the recorded one when its order is later; on a tie (GitHub's timestamps have one-second
# resolution, two pushes can share one) unless it is the recorded head's own predecessor (`before`), so
# that two synchronize deliveries of the same second arriving out of order keep the newer head.
_ENQUEUE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 7))
redis.call('SET', KEYS[1], id, 'EX', ARGV[1])
if ARGV[3] ~= '' then
  local prev = redis.call('HMGET', KEYS[3], 'updated_at', 'before')
  if (not prev[1]) or ARGV[4] > prev[1] or (ARGV[4] == prev[1] and ARGV[3] ~= prev[2]) then
    redis.call('HSET', KEYS[3], 'sha', ARGV[3], 'updated_at', ARGV[4], 'before', ARGV[6], 'entry', id)
  end
  redis.call('EXPIRE', KEYS[3], ARGV[5])
end
return id
"""

# Reset (or set) the idle time of the entries this consumer still owns; never take an entry from another
# consumer (a plain XCLAIM would, and two workers would then run the same job).
# KEYS: 1 stream. ARGV: 1 group, 2 consumer, 3 idle ms to set, 4.. entry ids. Returns the ids still owned.
_TOUCH = """
local kept = {}
for i = 4, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2])
  if #p > 0 then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'IDLE', ARGV[3], 'JUSTID')
    table.insert(kept, ARGV[i])
  end
end
return kept
"""


class JobQueue:
    """Envelopes on `{prefix}:jobs`, dead letters on `{prefix}:dead` (the module docstring lists the keys)."""

    def __init__(self, redis: Redis, prefix: str = "prguard", maxlen: int = 100_000,
                 dedupe_ttl: int = 4 * DAY, head_ttl: int = 30 * DAY, group: str = GROUP) -> None:
        self.redis = redis
        self.prefix = prefix
        self.maxlen = maxlen
        self.dedupe_ttl = dedupe_ttl
        self.head_ttl = head_ttl
        self.group = group
        self.stream = f"{prefix}:jobs"
        self.dead = f"{prefix}:dead"
        self._enqueue = redis.register_script(_ENQUEUE)
        self._touch = redis.register_script(_TOUCH)

    @classmethod
    def from_settings(cls, redis: Redis, settings: Settings) -> JobQueue:
        return cls(redis, prefix=settings.redis_prefix, maxlen=settings.stream_maxlen,
                   dedupe_ttl=settings.dedupe_ttl, head_ttl=settings.head_ttl)

    # --- keys ---------------------------------------------------------------------------------------------
    def dedupe_mark(self, dedupe_key: str) -> str:
        return f"{self.prefix}:delivery:{dedupe_key}"

    def newest_key(self, supersede_key: str) -> str:
        return f"{self.prefix}:head:{supersede_key}"

    def _error_key(self, entry_id: str) -> str:
        return f"{self.prefix}:error:{entry_id}"

    # --- receiver side ------------------------------------------------------------------------------------
    async def enqueue(self, envelope: Envelope) -> bool:
        """Queue `envelope` unless its dedupe key was already seen; False means duplicate (nothing queued).

        When the envelope `records_version`, its version becomes the newest of its `supersede_key` in the same
        atomic step, unless a version with a later `version_order` (a PR's `updated_at`) is already recorded,
        so a late redelivery of an old push cannot un-supersede a newer one; `version_before` (a synchronize
        payload's previous head) breaks ties between pushes of the same second. Raises redis errors: the
        caller must then answer 5xx, never 2xx.
        """
        keys, argv = self.enqueue_call(envelope)
        result = await self._enqueue(keys=keys, args=argv)
        return result is not None

    async def enqueue_all(self, envelopes: list[Envelope]) -> list[bool]:
        """`enqueue` for each envelope of one delivery, in one round trip (a pipeline of the same script;
        each call is atomic on its own, exactly as with `enqueue`)."""
        if len(envelopes) == 1:
            return [await self.enqueue(envelopes[0])]
        if isinstance(self.redis, RedisCluster):  # its pipelines refuse EVALSHA: concurrent calls instead
            return list(await asyncio.gather(*(self.enqueue(envelope) for envelope in envelopes)))
        results = await self.run_enqueue_calls([self.enqueue_call(envelope) for envelope in envelopes])
        for result in results:
            if isinstance(result, Exception):
                raise result
        return [result is not None for result in results]

    async def run_enqueue_calls(self, calls: list[tuple[list[str], list[Any]]]) -> list[Any]:
        """The enqueue script once per (keys, argv) of `enqueue_call`, pipelined: each call's reply (the entry
        id, or None for a duplicate) or its own error. Raises what fails the whole round trip (connection,
        timeout). Not on a cluster (its pipelines refuse EVALSHA)."""
        results = await self._pipeline(calls)
        missing = [i for i, result in enumerate(results) if isinstance(result, NoScriptError)]
        if missing:  # a restarted or flushed Redis forgot the script: load it, send only those calls again
            await self.redis.script_load(_ENQUEUE)  # (the others ran: sent again they would be "duplicates")
            for i, result in zip(missing, await self._pipeline([calls[i] for i in missing]), strict=True):
                results[i] = result
        return results

    async def _pipeline(self, calls: list[tuple[list[str], list[Any]]]) -> list[Any]:
        # EVALSHA directly: redis-py's script pipelines ask SCRIPT EXISTS first, a second round trip
        async with self.redis.pipeline(transaction=False) as pipe:
            for keys, argv in calls:
                pipe.evalsha(self._enqueue.sha, len(keys), *keys, *argv)
            return list(await pipe.execute(raise_on_error=False))

    def enqueue_call(self, envelope: Envelope) -> tuple[list[str], list[Any]]:
        mark = self.dedupe_mark(envelope.dedupe)
        records = envelope.records_version and bool(envelope.supersede_key and envelope.version)
        keys = [mark, self.stream, self.newest_key(envelope.supersede_key) if records else mark]
        argv: list[Any] = [self.dedupe_ttl, self.maxlen, envelope.version if records else "",
                           envelope.version_order, self.head_ttl, envelope.version_before]
        for key, value in envelope.to_fields().items():
            argv += [key, value]
        return keys, argv

    # --- worker side --------------------------------------------------------------------------------------
    async def ensure_group(self) -> None:
        """Create the stream and the consumer group if missing (from id 0: jobs queued before any worker ran
        are processed too)."""
        try:
            await self.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def read(self, consumer: str, count: int, block_ms: int = 1000) -> list[Entry]:
        """New entries for `consumer` (at most `count`, waiting up to `block_ms`; 0 = do not wait, unlike
        Redis's BLOCK 0 which waits forever); each is delivery 1."""
        reply = await self.redis.xreadgroup(self.group, consumer, {self.stream: ">"}, count=count,
                                            block=block_ms if block_ms > 0 else None)
        entries: list[Entry] = []
        for _stream, items in _stream_items(reply):
            for entry_id, raw in items:
                entries.append(Entry.parse(entry_id, raw, attempts=1))
        return entries

    async def reclaim(self, consumer: str, min_idle_ms: int, count: int) -> list[Entry]:
        """Take over entries idle for at least `min_idle_ms` (their holder died, stalled or the job raised).

        Each carries its delivery count (this delivery included) as `attempts` and `envelope.attempt`. Entries
        trimmed from the stream before anyone processed them are logged (`queue.entry_lost`) and dropped.
        """
        claimed: list[tuple[Any, Any]] = []
        cursor: Any = "0-0"
        for _ in range(10):  # XAUTOCLAIM scans up to count*10 pending entries per call
            reply = await self.redis.xautoclaim(self.stream, self.group, consumer, min_idle_ms, cursor,
                                                count=count - len(claimed))
            cursor, items = reply[0], reply[1]
            claimed += [item for item in items if item[1] is not None]
            for lost in reply[2] if len(reply) > 2 else []:
                log.error("queue.entry_lost", entry_id=as_str(lost), stream=self.stream,
                          reason="trimmed by MAXLEN before it was processed")
            if len(claimed) >= count or as_str(cursor) == "0-0":
                break
        if not claimed:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for entry_id, _raw in claimed:
                pipe.xpending_range(self.stream, self.group, min=entry_id, max=entry_id, count=1)
            pending = await pipe.execute()
        entries = []
        for (entry_id, raw), info in zip(claimed, pending, strict=True):
            attempts = int(info[0]["times_delivered"]) if info else 1
            entries.append(Entry.parse(entry_id, raw, attempts=attempts))
        return entries

    async def ack(self, entry_id: str, *, drop: bool = False) -> None:
        """Done with an entry: drop it from the pending list (and its recorded error); with `drop`, from the
        stream too (a routed delivery's entry holds its whole body, which nothing needs any more)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xack(self.stream, self.group, entry_id)
            if drop:
                pipe.xdel(self.stream, entry_id)
            pipe.delete(self._error_key(entry_id))
            await pipe.execute()

    async def dead_letter(self, entry: Entry, reason: str) -> None:
        """Move an entry to `{prefix}:dead` with `reason` (already redacted) and acknowledge it, at once."""
        fields = dict(entry.fields)
        fields.update({"reason": reason, "entry_id": entry.entry_id, "attempts": str(entry.attempts),
                       "failed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(self.dead, fields, maxlen=self.maxlen, approximate=True)  # type: ignore[arg-type]
            pipe.xack(self.stream, self.group, entry.entry_id)
            pipe.delete(self._error_key(entry.entry_id))
            await pipe.execute()

    async def record_error(self, entry_id: str, reason: str) -> None:
        """Remember why an attempt failed, so the dead letter can say it even if a later holder dies."""
        await self.redis.set(self._error_key(entry_id), reason, ex=DAY)

    async def last_error(self, entry_id: str) -> str | None:
        value = await self.redis.get(self._error_key(entry_id))
        return None if value is None else as_str(value)

    async def latest_version(self, envelope: Envelope) -> str | None:
        """The newest version recorded for the envelope's supersede key (None: never superseded/unknown)."""
        if not envelope.supersede_key:
            return None
        value = await self.redis.hget(self.newest_key(envelope.supersede_key), "sha")  # type: ignore[misc]
        return None if value is None else as_str(value)

    async def newer_version(self, envelope: Envelope, entry_id: str) -> str | None:
        """The version that supersedes `envelope` (queued as `entry_id`), or None while it is current.

        Envelopes that record versions (a PR's `pull_request` deliveries, ordered by `updated_at`) are judged
        by the record alone. Others (a `check_suite` or re-run request for a head) are superseded only by a
        version recorded after they were queued: when the synchronize delivery of the real head never made it
        (a 503 GitHub does not retry), the record stays at the previous head, and judging by it alone would
        cancel every later request for the real head — the PR's required checks would then wait forever.
        Envelopes without a supersede key are never superseded.
        """
        if not envelope.supersede_key:
            return None
        sha, recorded_by = await self.redis.hmget(  # type: ignore[misc]
            self.newest_key(envelope.supersede_key), ["sha", "entry"])
        if sha is None or as_str(sha) == envelope.version:
            return None
        if not envelope.records_version and (
            recorded_by is None or _stream_id(as_str(recorded_by)) < _stream_id(entry_id)
        ):
            return None
        return as_str(sha)

    async def heartbeat(self, consumer: str, entry_ids: list[str]) -> list[str]:
        """Reset the idle time of entries `consumer` still holds, so a long job is not reclaimed.

        Uses XCLAIM ... JUSTID (which does not count as a delivery) inside a script that first checks the
        owner: an entry another worker already reclaimed is left alone and missing from the returned list.
        """
        if not entry_ids:
            return []
        kept = await self._touch(keys=[self.stream], args=[self.group, consumer, 0, *entry_ids])
        return [as_str(i) for i in kept or []]

    async def owners(self, entry_ids: list[str]) -> dict[str, str]:
        """The consumer holding each of `entry_ids`; ids no longer pending (acked, or lost with a Redis that
        restarted empty) are absent."""
        if not entry_ids:
            return {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for entry_id in entry_ids:
                pipe.xpending_range(self.stream, self.group, min=entry_id, max=entry_id, count=1)
            replies = await pipe.execute()
        return {entry_id: as_str(info[0]["consumer"])
                for entry_id, info in zip(entry_ids, replies, strict=True) if info}

    async def hand_back(self, consumer: str, entry_ids: list[str]) -> list[str]:
        """Mark entries `consumer` holds as long idle, so any worker's next reclaim takes them at once
        (a stopping worker's unfinished jobs then wait seconds, not a whole visibility timeout)."""
        if not entry_ids:
            return []
        year_ms = 365 * DAY * 1000
        kept = await self._touch(keys=[self.stream], args=[self.group, consumer, year_ms, *entry_ids])
        return [as_str(i) for i in kept or []]

    async def remove_consumer(self, consumer: str) -> None:
        """Forget a stopping consumer when it holds nothing (keeps XINFO CONSUMERS short)."""
        pending = await self.redis.xpending_range(self.stream, self.group, min="-", max="+", count=1,
                                                  consumername=consumer)
        if not pending:
            await self.redis.xgroup_delconsumer(self.stream, self.group, consumer)

    async def pending_count(self) -> int:
        info = await self.redis.xpending(self.stream, self.group)
        return int(info["pending"]) if info else 0

    async def stats(self) -> dict[str, int]:
        """Queue depth for operators: entries in the stream, pending (taken, not acked), dead letters."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xlen(self.stream)
            pipe.xlen(self.dead)
            length, dead = await pipe.execute()
        try:
            pending = await self.pending_count()
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            pending = 0  # no group yet: no worker ever read
        return {"stream": int(length), "pending": pending, "dead_letters": int(dead)}


    async def oldest_age(self) -> float:
        """Seconds since the oldest job not yet acknowledged was queued (unread or running); 0 when none."""
        oldest: str | None = None
        try:
            groups = await self.redis.xinfo_groups(self.stream)
        except ResponseError:  # no stream yet
            return 0.0
        group = next((g for g in groups if as_str(g["name"]) == self.group), None)
        if group is not None and int(group.get("pending") or 0):
            summary = await self.redis.xpending(self.stream, self.group)
            oldest = as_str(summary.get("min")) if summary.get("min") else None
        if oldest is None:
            after = as_str(group["last-delivered-id"]) if group is not None else "0-0"
            unread = await self.redis.xrange(self.stream, min=f"({after}" if after != "0-0" else "-", count=1)
            oldest = as_str(unread[0][0]) if unread else None
        if oldest is None:
            return 0.0
        return max(0.0, time.time() - _stream_id(oldest)[0] / 1000)

    async def consumers(self) -> list[dict[str, Any]]:
        """The group's consumers: name, pending jobs and milliseconds since each last talked to Redis."""
        try:
            raw = await self.redis.xinfo_consumers(self.stream, self.group)
        except ResponseError:  # no stream or no group yet
            return []
        return [{"name": as_str(c["name"]), "pending": int(c["pending"]), "idle_ms": int(c["idle"])}
                for c in raw]


def _stream_id(entry_id: str) -> tuple[int, int]:
    """A stream id ("1700000000000-3") as a sortable pair."""
    ms, _, seq = entry_id.partition("-")
    try:
        return int(ms), int(seq or 0)
    except ValueError:  # not a stream id (a hand-edited record): it sorts first, so it never supersedes
        return 0, 0


def _stream_items(reply: Any) -> list[tuple[Any, list[tuple[Any, Any]]]]:
    """XREADGROUP replies are a list of [stream, items] (RESP2) or a dict (RESP3)."""
    if not reply:
        return []
    if isinstance(reply, dict):
        return [(k, v[0] if v and isinstance(v[0], list) else v) for k, v in reply.items()]
    return [(item[0], item[1]) for item in reply]
