"""The sign-off's policy sources: organisation defaults (`_extends`, shared with the scan in
`bot.github.policy_source`, re-exported here) and the Rego modules of `.github/prguard/` on the base.
"""

from __future__ import annotations

import base64
from typing import Any

from githubkit import GitHub
from githubkit.exception import RequestFailed

from bot.github.policy_source import merge, with_extends

__all__ = ["merge", "rego_modules", "with_extends"]


REGO_DIR = ".github/prguard"


async def rego_modules(gh: GitHub[Any], owner: str, repo: str, ref: str) -> dict[str, str]:
    """The `.rego` files of `.github/prguard/` at `ref` (the base): path -> source."""
    try:
        resp = await gh.rest.repos.async_get_content(owner, repo, REGO_DIR, ref=ref)
    except RequestFailed as exc:
        if exc.response.status_code == 404:
            return {}
        raise
    listing = resp.json()
    if not isinstance(listing, list):
        return {}
    out: dict[str, str] = {}
    for entry in sorted(listing, key=lambda e: str(e.get("path", ""))):
        path = str(entry.get("path", ""))
        if entry.get("type") == "file" and path.endswith(".rego"):
            data = await _file(gh, owner, repo, path, ref)
            if data is not None:
                out[path] = data.decode("utf-8", "replace")
    return out


async def _file(gh: GitHub[Any], owner: str, repo: str, path: str, ref: str) -> bytes | None:
    try:
        resp = await gh.rest.repos.async_get_content(owner, repo, path, ref=ref)
    except RequestFailed:
        return None
    meta = resp.json()
    if not isinstance(meta, dict) or meta.get("encoding") != "base64":
        return None
    return base64.b64decode(meta.get("content") or "")
