"""Reading across the App's whole fleet: installations, their repositories and open pull requests, and the
App's webhook delivery log (what `prguard reconcile` walks).

Plain async generators over githubkit, one page at a time, so a large org is never held in memory. The
delivery log is cursor-paginated (GitHub's `Link: <...?cursor=...>; rel="next"`), not page-numbered.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

PER_PAGE = 100


async def installations(app: Any) -> AsyncIterator[Any]:
    """Every installation of the App (`app`: the App-authenticated client)."""
    page = 1
    while True:
        batch = (await app.rest.apps.async_list_installations(per_page=PER_PAGE, page=page)).parsed_data
        for item in batch:
            yield item
        if len(batch) < PER_PAGE:
            return
        page += 1


async def repositories(inst: Any) -> AsyncIterator[Any]:
    """Every repository an installation client can see."""
    page = 1
    while True:
        data = (await inst.rest.apps.async_list_repos_accessible_to_installation(per_page=PER_PAGE, page=page)
                ).parsed_data
        for item in data.repositories:
            yield item
        if len(data.repositories) < PER_PAGE:
            return
        page += 1


async def open_pulls(inst: Any, owner: str, repo: str) -> AsyncIterator[Any]:
    page = 1
    while True:
        batch = (await inst.rest.pulls.async_list(owner, repo, state="open", per_page=PER_PAGE, page=page)
                 ).parsed_data
        for item in batch:
            yield item
        if len(batch) < PER_PAGE:
            return
        page += 1


@dataclass(frozen=True)
class Delivery:
    """One attempt in the App's delivery log."""

    id: int
    guid: str
    event: str
    action: str | None
    status_code: int
    delivered_at: datetime
    redelivery: bool

    @property
    def ok(self) -> bool:
        return 200 <= self.status_code < 300


async def deliveries_since(app: Any, since: datetime) -> AsyncIterator[Delivery]:
    """The delivery log, newest first, down to `since` (GitHub keeps three days of it)."""
    cursor: str | None = None
    while True:
        kwargs: dict[str, Any] = {"per_page": PER_PAGE}
        if cursor:
            kwargs["cursor"] = cursor
        response = await app.rest.apps.async_list_webhook_deliveries(**kwargs)
        for item in response.parsed_data:
            delivery = Delivery(int(item.id), str(item.guid), str(item.event), item.action,
                                int(item.status_code), item.delivered_at, bool(item.redelivery))
            if delivery.delivered_at < since:
                return
            yield delivery
        cursor = _next_cursor(response.headers.get("link", ""))
        if not cursor:
            return


def _next_cursor(link: str) -> str | None:
    for part in link.split(","):
        url, _, rel = part.partition(";")
        if 'rel="next"' in rel:
            values = parse_qs(urlsplit(url.strip().strip("<>")).query).get("cursor")
            return values[0] if values else None
    return None


async def redeliver(app: Any, delivery_id: int) -> None:
    await app.rest.apps.async_redeliver_webhook_delivery(delivery_id)
