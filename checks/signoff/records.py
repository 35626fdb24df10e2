"""prguard's own records (sign-offs, holds, waivers, refusals, bypasses) and the state rebuilt from them.

Each record is a hidden, machine-readable block in a comment that prguard itself wrote:

    <!-- prguard:record {"kind": "signoff", "by": "alice", "head": "…", "tree": "…", "reason": "…"} -->

State is folded ONLY from records authored by the App (the caller filters by author before calling `fold`),
never from what users write, so any worker can rebuild it and nobody can forge it with a comment of their own.
The App's comments also echo user text (reasons, paths), so a record counts only at the very START of an App
comment (`record_comment` writes it there), one per comment: text further down can never add a record.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

MARKER = "prguard:record"
_BLOCK = re.compile(r"<!-- prguard:record (\{.*?\}) -->", re.S)  # matched only at the body's start

KINDS = ("signoff", "hold", "unhold", "waive", "unwaive", "refused", "bypass")


def record_block(record: dict[str, Any]) -> str:
    """The hidden block for `record` (`--`, `<` and `>` cannot occur inside: JSON-escaped, so no text in a
    record can end the comment early or open another one)."""
    text = json.dumps(record, sort_keys=True, separators=(",", ":"))
    text = text.replace("--", "-\\u002d").replace("<", "\\u003c").replace(">", "\\u003e")
    return f"<!-- {MARKER} {text} -->"


def record_comment(record: dict[str, Any], text: str) -> str:
    """The body of the App comment that records `record`: its block first, then the human `text`."""
    return f"{record_block(record)}\n{text}"


def parse_records(body: str) -> list[dict[str, Any]]:
    """The record of one App comment body: [] or [record]. Only a block at the very start counts (where
    `record_comment` puts it); any further marker in the body is echoed text, never a record."""
    match = _BLOCK.match(body or "")
    if match is None:
        return []
    try:
        data = json.loads(match.group(1))
    except ValueError:
        return []
    return [data] if isinstance(data, dict) and data.get("kind") in KINDS else []


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
    #: one hold per person (lower-cased login -> {"by", "reason", "at"}), oldest first: a hold of one person
    #: never replaces, nor is released by, another's (except by whoever may release others' holds)
    holds: dict[str, dict[str, str]] = field(default_factory=dict)
    waivers: dict[str, Waiver] = field(default_factory=dict)
    sources: set[str] = field(default_factory=set)  # commands already handled
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def hold(self) -> dict[str, str] | None:
        """The latest hold still in place, None when not held."""
        return list(self.holds.values())[-1] if self.holds else None

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
            by = str(r.get("by", ""))
            state.holds.pop(by.lower(), None)  # a new hold of the same person replaces theirs (and is latest)
            state.holds[by.lower()] = {"by": by, "reason": str(r.get("reason", "")), "at": at}
        elif kind == "unhold":
            released = r.get("released")
            if isinstance(released, list):
                for login in released:
                    state.holds.pop(str(login).lower(), None)
            else:  # a record from before holds were per person: it released the (one) hold
                state.holds.clear()
        elif kind == "waive":
            fp = str(r.get("fingerprint", ""))
            state.waivers[fp] = Waiver(fp, str(r.get("by", "")), str(r.get("reason", "")), at)
        elif kind == "unwaive":
            state.waivers.pop(str(r.get("fingerprint", "")), None)
    return state
