"""The facts document: the one JSON input of every Rego policy (`input`), built the same way for a PR in the
App and for a local change (`prguard scan --explain`), documented in docs/signoff.md.

    {
      "version": 1,
      "repository": "octo/repo", "pull_request": 12, "head": "<sha>", "base_ref": "main", "author": "dave",
      "files": [{"path": "prompts/system.txt", "status": "modified", "kind": "prompt"}, ...],
      "ai_paths": {"prompts/system.txt": "prompt"},
      "endpoints": [{"path": "app/chat.py", "rate_limit": false, "logging": true}],
      "findings": [{"check": "secrets", "fingerprint": "…", "severity": "high", "rule": "…", "path": "…",
                    "blocking": true, "waived": false}],
      "checks": {"prguard/secrets": "failure", ...},
      "aibom": {"changed": ["aibom.json"], "difference": ["adds model acme/encoder from Hugging Face, …"]},
      "evidence": {"files": ["evals/results.json"], "redteam": [{"path", "tool", "passed", "total",
                   "pass_rate", "failed_categories"}], "rules": [{"name", "met", "why", ...}]},
      "provenance": {"commits": [{"sha", "author", "verified", "bot", "co_authors", "committer",
                                  "author_identity", "committer_identity", "co_author_identities"}],
                     "model_refs": [{"source", "revision", "pinned"}], "actions": [{"uses", "pinned"}],
                     "signatures": ["model.onnx.sig"]},
      "approvals": {"signoffs": [{"by", "head", "reason", "at"}],
                    "waivers": [{"fingerprint", "by", "reason"}],
                    "hold": null, "reviews": [{"user", "state"}]}
    }

A commit's `author` and `committer` are the GitHub logins GitHub links its emails to ("" when none);
`co_authors` lists the `Co-authored-by:` names and the logins their emails resolve to. Added within version 1
(fields are only ever added): `committer`, and the people as git recorded them, `{"name", "email", "login"}`
each, in `author_identity`, `committer_identity` and `co_author_identities` (a co-author's `login` resolved
from a GitHub noreply address or from another commit of the PR that GitHub links the same email to; "" when
unresolved, logins joined by ", " if several).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from checks.ai_assets import AssetKind

_RATE_LIMIT = re.compile(r"(?i)rate[_ -]?limit|limiter|throttl|slowapi|token[_ ]?bucket")
_LOGGING = re.compile(r"(?i)\blogg(?:er|ing)\b|\bstructlog\b|\blog\.(?:info|warning|error)|getLogger")

SIGNATURE_SUFFIXES = (".sig", ".sigstore", ".sigstore.json", ".intoto.jsonl", ".pem.sig")


def facts_document(
    *,
    repository: str = "",
    pull_request: int = 0,
    head: str = "",
    base_ref: str = "",
    author: str = "",
    files: Sequence[Mapping[str, Any]] = (),
    ai_paths: Mapping[str, str] | None = None,
    findings: Iterable[Mapping[str, Any]] = (),
    checks: Mapping[str, str] | None = None,
    redteam: Iterable[Mapping[str, Any]] = (),
    rules: Iterable[Mapping[str, Any]] = (),
    commits: Iterable[Mapping[str, Any]] = (),
    model_refs: Iterable[Mapping[str, Any]] = (),
    actions: Iterable[Mapping[str, Any]] = (),
    signoffs: Iterable[Mapping[str, Any]] = (),
    waivers: Iterable[Mapping[str, Any]] = (),
    hold: Mapping[str, Any] | None = None,
    reviews: Iterable[Mapping[str, Any]] = (),
    added: Mapping[str, str] | None = None,
    aibom: Sequence[str] = (),
) -> dict[str, Any]:
    """`added` is path -> the text the change adds there (for the `endpoints` facts of LLM code)."""
    ai = dict(ai_paths or {})
    paths = [str(f["path"]) for f in files]
    return {
        "version": 1,
        "repository": repository,
        "pull_request": pull_request,
        "head": head,
        "base_ref": base_ref,
        "author": author,
        "files": [
            {"path": str(f["path"]), "status": str(f.get("status", "")), "kind": ai.get(str(f["path"]))}
            for f in files
        ],
        "ai_paths": ai,
        "findings": [dict(f) for f in findings],
        "endpoints": [
            endpoint_facts(p, (added or {}).get(p, ""))
            for p, k in sorted(ai.items())
            if k == AssetKind.LLM_CODE
        ],
        "checks": dict(checks or {}),
        "aibom": {
            "changed": sorted(p for p, k in ai.items() if k == AssetKind.AI_BOM),
            "difference": list(aibom),
        },
        "evidence": {
            "files": sorted(p for p in paths if _is_eval(p)),
            "redteam": [dict(r) for r in redteam],
            "rules": [dict(r) for r in rules],
        },
        "provenance": {
            "commits": [dict(c) for c in commits],
            "model_refs": [dict(m) for m in model_refs],
            "actions": [dict(a) for a in actions],
            "signatures": sorted(p for p in paths if p.endswith(SIGNATURE_SUFFIXES)),
        },
        "approvals": {
            "signoffs": [dict(s) for s in signoffs],
            "waivers": [dict(w) for w in waivers],
            "hold": dict(hold) if hold else None,
            "reviews": [dict(r) for r in reviews],
        },
    }


def _is_eval(path: str) -> bool:
    from checks.ai_assets import classify

    return classify(path) == AssetKind.EVAL_RESULT


def endpoint_facts(path: str, added: str) -> dict[str, Any]:
    """What the change adds to a file that calls an LLM: is there a rate limit, is there logging? Judged on
    the added text (plain patterns, ours), for "no AI endpoint without rate limits and logging"."""
    return {
        "path": path,
        "rate_limit": bool(_RATE_LIMIT.search(added)),
        "logging": bool(_LOGGING.search(added)),
    }
