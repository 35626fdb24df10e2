"""prguard's own records (sign-offs, holds, waivers, refusals, bypasses) and the state rebuilt from them.

Each record is a hidden, machine-readable block in a comment that prguard itself wrote:

    <!-- prguard:record {"kind": "signoff", "by": "alice", "head": "…", "tree": "…", "reason": "…"} -->

State is folded ONLY from records authored by the App (the caller filters by author before calling `fold`),
never from what users write, so any worker can rebuild it and nobody can forge it with a comment of their own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

MARKER = "prguard:record"
_BLOCK = re.compile(r"<!-- prguard:record (\{.*?\}) -->", re.S)

KINDS = ("signoff", "hold", "unhold", "waive", "unwaive", "refused", "bypass")


def record_block(record: dict[str, Any]) -> str:
    """The hidden block for `record` (`--` cannot occur inside: JSON-escaped)."""
    text = json.dumps(record, sort_keys=True, separators=(",", ":")).replace("--", "-\\u002d")
    return f"<!-- {MARKER} {text} -->"


def parse_records(body: str) -> list[dict[str, Any]]:
    """Every well-formed record block of one comment body, in order; malformed ones are ignored."""
    out: list[dict[str, Any]] = []
    for match in _BLOCK.finditer(body or ""):
        try:
            data = json.loads(match.group(1))
        except ValueError:
            continue
        if isinstance(data, dict) and data.get("kind") in KINDS:
            out.append(data)
    return out


@dataclass(frozen=True)
class SignOff:
    by: str
    head: str
    tree: str
    reason: str
    at: str
    paths: tuple[str, ...]  # the AI paths this signer covered (as owner), at the time of signing
    source: str = ""  # the command's id (comment/review/button delivery), for idempotency


@dataclass(frozen=True)
class Waiver:
    fingerprint: str
    by: str
    reason: str
    at: str


@dataclass
class SignoffState:
    """What the records say now."""

    signoffs: list[SignOff] = field(default_factory=list)
    hold: dict[str, str] | None = None  # {"by", "reason", "at"} while held
    waivers: dict[str, Waiver] = field(default_factory=dict)
    sources: set[str] = field(default_factory=set)  # commands already handled
    records: list[dict[str, Any]] = field(default_factory=list)

    def valid_signoffs(self, head: str, tree: str, *, kept: frozenset[str] = frozenset()) -> list[SignOff]:
        """Sign-offs that still apply to `head`: made on it, on a head with the identical tree (a rebase or
        squash with no content change), or on a head in `kept` (the policy's keep_on_non_ai_changes: the
        caller found that nothing AI-impacting changed between that head and this one)."""
        return [s for s in self.signoffs if s.head == head or (tree and s.tree == tree) or s.head in kept]


def fold(records: Iterable[dict[str, Any]]) -> SignoffState:
    """The state after applying `records` in order (oldest first)."""
    state = SignoffState()
    for r in records:
        state.records.append(r)
        if r.get("source"):
            state.sources.add(str(r["source"]))
        kind = r.get("kind")
        at = str(r.get("at", ""))
        if kind == "signoff":
            state.signoffs.append(
                SignOff(
                    str(r.get("by", "")),
                    str(r.get("head", "")),
                    str(r.get("tree", "")),
                    str(r.get("reason", "")),
                    at,
                    tuple(str(p) for p in r.get("paths") or ()),
                    str(r.get("source", "")),
                )
            )
        elif kind == "hold":
            state.hold = {"by": str(r.get("by", "")), "reason": str(r.get("reason", "")), "at": at}
        elif kind == "unhold":
            state.hold = None
        elif kind == "waive":
            fp = str(r.get("fingerprint", ""))
            state.waivers[fp] = Waiver(fp, str(r.get("by", "")), str(r.get("reason", "")), at)
        elif kind == "unwaive":
            state.waivers.pop(str(r.get("fingerprint", "")), None)
    return state
