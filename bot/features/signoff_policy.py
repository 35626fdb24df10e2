"""The sign-off's policy sources: organisation defaults (`_extends`, shared with the scan in
`bot.github.policy_source`, re-exported here) and the Rego modules of `.github/prguard/` on the base.
"""

from __future__ import annotations

import base64
from typing import Any

from githubkit import GitHub
from githubkit.exception import RequestFailed

from bot.github.policy_source import merge, with_extends
from checks.signoff.rego import RegoError

__all__ = ["merge", "rego_modules", "with_extends"]


REGO_DIR = ".github/prguard"


async def rego_modules(gh: GitHub[Any], owner: str, repo: str, ref: str) -> dict[str, str]:
    """The `.rego` files of `.github/prguard/` at `ref` (the base): path -> source.

    Raises `RegoError` naming the file when one cannot be read: a policy silently dropped would let through
    what it denies ("could not check" is never "allowed")."""
    try:
        resp = await gh.rest.repos.async_get_content(owner, repo, REGO_DIR, ref=ref)
    except RequestFailed as exc:
        if exc.response.status_code == 404:
            return {}
        raise RegoError(f"could not be listed (HTTP {exc.response.status_code})", REGO_DIR) from None
    listing = resp.json()
    if not isinstance(listing, list):
        raise RegoError("is not a directory, so its Rego policies cannot be read", REGO_DIR)
    out: dict[str, str] = {}
    for entry in sorted(listing, key=lambda e: str(e.get("path", ""))):
        path = str(entry.get("path", ""))
        if entry.get("type") == "file" and path.endswith(".rego"):
            data = await _file(gh, owner, repo, path, ref)
            out[path] = data.decode("utf-8", "replace")
    return out


async def _file(gh: GitHub[Any], owner: str, repo: str, path: str, ref: str) -> bytes:
    try:
        resp = await gh.rest.repos.async_get_content(owner, repo, path, ref=ref)
    except RequestFailed as exc:
        raise RegoError(f"could not be read (HTTP {exc.response.status_code})", path) from None
    meta = resp.json()
    if not isinstance(meta, dict) or meta.get("type", "file") != "file":
        raise RegoError("could not be read (not a file)", path)
    if meta.get("encoding") != "base64":  # "none": over 1 MB, the contents API does not return it
        size = meta.get("size")
        raise RegoError(f"could not be read ({size} bytes; the contents API returns files up to 1 MB)", path)
    return base64.b64decode(meta.get("content") or "")
