"""Where a policy comes from on GitHub: the bounded read of a `.github/prguard.yml`, and the organisation
defaults it names with `_extends` (as in Probot's config).

The base branch's file names a repository of the same owner (usually `.github`) whose `.github/prguard.yml`,
on its default branch, is read first; the repository's keys override it (mappings merged key by key,
everything else replaced). Each file is validated on its own first (errors keep their line), then the merge
is validated again. One level only: the organisation's file may not extend another.

Both the sign-off (`bot.features.signoff_facts`) and the scan (`bot.github.pulls.effective_policy`) use this
module, so the four checks and the sign-off always see the same merged policy. A named repository without a
policy file (missing, or not readable by the App's installation) is a policy error, never "no defaults":
an admin who wrote `_extends` expects those defaults to hold.
"""

from __future__ import annotations

import base64
from typing import Any

import yaml
from githubkit import GitHub
from githubkit.exception import RequestFailed

from checks.policy import MAX_POLICY_BYTES, POLICY_PATH, Policy, PolicyError, parse_policy, too_large

RAW = "application/vnd.github.raw+json"


def merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = merge(base.get(key), value) if key in base else value
        return out
    return override


async def policy_bytes(gh: GitHub[Any], owner: str, repo: str, ref: str | None, meta: Any) -> bytes:
    """The policy file's bytes from the contents API's JSON, refusing by `size` before downloading.

    A directory, a submodule or a symlink GitHub did not resolve is an invalid policy, not "no policy". The
    JSON carries base64 content for files up to 1 MB; should it not, the raw media type is asked for.
    """
    if not isinstance(meta, dict) or meta.get("type") != "file":
        kind = "a directory" if isinstance(meta, list) else f"a {meta.get('type', 'non-file')}"
        raise PolicyError(f"not a regular file (it is {kind})")
    size = int(meta.get("size") or 0)
    if size > MAX_POLICY_BYTES:
        raise too_large(size)
    if meta.get("encoding") == "base64" and (meta.get("content") or size == 0):
        try:
            return base64.b64decode(meta.get("content") or "")
        except (ValueError, TypeError):
            raise PolicyError("GitHub returned contents that are not valid base64") from None
    resp = await gh.rest.repos.async_get_content(
        owner, repo, POLICY_PATH, headers={"Accept": RAW}, **({"ref": ref} if ref else {}),
    )
    if len(resp.content) > MAX_POLICY_BYTES:
        raise too_large(len(resp.content))
    return resp.content


async def policy_text(gh: GitHub[Any], owner: str, repo: str, ref: str | None) -> bytes | None:
    """`.github/prguard.yml` of owner/repo at `ref` (None: its default branch), size-bounded; None on 404."""
    try:
        resp = await gh.rest.repos.async_get_content(owner, repo, POLICY_PATH,
                                                     **({"ref": ref} if ref else {}))
    except RequestFailed as exc:
        if exc.response.status_code == 404:
            return None
        raise
    return await policy_bytes(gh, owner, repo, ref, resp.json())


async def with_extends(
    gh: GitHub[Any], owner: str, repo: str, ref: str, policy: Policy, repo_text: bytes | None = None
) -> tuple[Policy, str]:
    """`policy` (from `ref` of owner/repo, whose bytes are `repo_text` when the caller has them) with its
    `_extends` applied; the second value says from where ("" when the policy extends nothing)."""
    target = str(policy.extra.get("_extends") or "")
    if not target:
        return policy, ""
    org_owner, _, org_repo = target.rpartition("/")
    org_owner = org_owner or owner
    if org_owner.lower() != owner.lower():
        raise PolicyError(f"_extends: {target!r} is not a repository of {owner}")
    try:
        org_text = await policy_text(gh, org_owner, org_repo, None)
    except PolicyError as exc:
        raise PolicyError(f"_extends {org_owner}/{org_repo}: {exc.message}", exc.line) from None
    if org_text is None:
        raise PolicyError(f"_extends: {org_owner}/{org_repo} has no {POLICY_PATH}")
    try:
        org_policy = parse_policy(org_text)
    except PolicyError as exc:
        raise PolicyError(f"_extends {org_owner}/{org_repo}: {exc.message}", exc.line) from None
    if "_extends" in org_policy.extra:
        raise PolicyError(f"_extends: {org_owner}/{org_repo} extends another policy (one level only)")
    if repo_text is None:
        repo_text = await policy_text(gh, owner, repo, ref) or b""
        parse_policy(repo_text)  # bounded and valid before the unbounded loader below reads it
    merged = merge(yaml.safe_load(org_text) or {}, yaml.safe_load(repo_text) or {})
    merged.pop("_extends", None)
    return parse_policy(yaml.safe_dump(merged, sort_keys=False)), f"{org_owner}/{org_repo}"
