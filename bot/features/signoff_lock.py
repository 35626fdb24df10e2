"""A per-PR Redis lock: one piece of sign-off work per PR at a time, across workers."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any


class PrLock:
    """A per-PR Redis lock (SET NX PX with a token; released only by its holder)."""

    _RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"

    def __init__(self, redis: Any, key: str, ttl: float) -> None:
        self.redis, self.key, self.ttl = redis, key, ttl
        self.token = secrets.token_hex(8)

    async def __aenter__(self) -> PrLock:
        deadline = asyncio.get_running_loop().time() + self.ttl
        while not await self.redis.set(self.key, self.token, nx=True, px=int(self.ttl * 1000)):
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"PR lock {self.key} busy")
            await asyncio.sleep(0.05)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.redis.eval(self._RELEASE, 1, self.key, self.token)
