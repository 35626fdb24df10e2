"""Pickle streams as findings: every global judged against the allowlist, nothing ever unpickled.

A loader (`pickle.load`, `torch.load` without `weights_only`, `joblib.load`, `numpy.load(allow_pickle=True)`)
calls each callable the stream imports; so each import is a finding unless it is on the allowlist
(`pickle_lists`): known code-runners are critical, anything else is high ("needs a human to look"). A stream
whose imports are all allowlisted still gets one medium finding: a safe format exists for tensors.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from checks.finding import Finding
from checks.prompt_safety.models import pickle_lists, rules
from checks.prompt_safety.models.pickle_walk import Walk, walk

#: nested pickles (bytes payloads that are themselves pickles, e.g. torch.storage._load_from_bytes)
MAX_NESTED = 32
MAX_DEPTH = 3


@dataclass
class PickleScan:
    """Findings on one file's pickle streams; `streams` counts the pickles read (0: none found)."""

    findings: list[Finding] = field(default_factory=list)
    streams: int = 0
    globals: set[str] = field(default_factory=set)


def looks_like_pickle(head: bytes) -> bool:
    """A PROTO opcode with a known protocol, or a protocol-0/1 stream's usual first opcodes."""
    if len(head) >= 2 and head[0] == 0x80 and head[1] <= 5:
        return True
    return head[:1] in (b"(", b"c", b"]", b"}", b")", b"K", b"I", b"N", b"S", b"V", b"X", b"U", b"q")


def scan_stream(
    fh: BinaryIO,
    path: str,
    *,
    size: int | None = None,
    inner: str = "",
    allow: tuple[str, ...] = (),
    expired: Callable[[], bool] | None = None,
    out: PickleScan | None = None,
    depth: int = 0,
) -> PickleScan:
    """Walk the pickle(s) at `fh`'s position and add findings for `path` (`inner`: the member of an
    archive, e.g. `archive/data.pkl`)."""
    out = out or PickleScan()
    where = f"{inner} in " if inner else ""
    start = fh.tell()
    result = walk(fh, size=size, expired=expired)
    out.streams += max(result.pickles, 1)
    _report_globals(result, path, where, inner, allow, out)
    for kind, pos in result.dynamic:
        out.findings.append(rules.PICKLE_DYNAMIC.finding(
            path, 0, f"{where}{path} uses {kind} at byte {pos} on a name that is not a literal string",
            key=f"{inner}:{kind}"))
    if result.error is not None:
        out.findings.append(rules.PICKLE_MALFORMED.finding(
            path, 0, f"{where}{path}: {result.error}; what a loader would run up to there is reported above",
            key=f"{inner}:unreadable"))
    if depth < MAX_DEPTH:
        _nested(fh, path, start, result, inner, allow, expired, out, depth)
    return out


def _report_globals(result: Walk, path: str, where: str, inner: str, allow: tuple[str, ...],
                    out: PickleScan) -> None:
    seen: set[str] = set()
    for g in result.globals:
        if g.dotted in seen:
            continue
        seen.add(g.dotted)
        out.globals.add(g.dotted)
        verdict = pickle_lists.verdict(g.module, g.name, allow)
        if verdict == "safe":
            continue
        rule = rules.PICKLE_DANGEROUS if verdict == "dangerous" else rules.PICKLE_UNKNOWN
        what = "a known way to run code" if verdict == "dangerous" else "not on the allowlist"
        out.findings.append(rule.finding(
            path, 0, f"{where}{path} imports {g.dotted!r} ({g.opcode} at byte {g.pos}): {what}",
            key=f"{inner}:{g.dotted}", metadata={"global": g.dotted, "member": inner or None}))


def _nested(fh: BinaryIO, path: str, start: int, result: Walk, inner: str, allow: tuple[str, ...],
            expired: Callable[[], bool] | None, out: PickleScan, depth: int) -> None:
    """Bytes payloads that are pickles themselves (a loader may unpickle them: `_load_from_bytes`)."""
    for offset, length in result.nested[:MAX_NESTED]:
        fh.seek(offset)
        head = fh.read(2)
        if len(head) == 2 and head[0] == 0x80 and head[1] <= 5:
            fh.seek(offset)
            scan_stream(fh, path, size=length, inner=f"{inner or 'pickle'}@{offset}", allow=allow,
                        expired=expired, out=out, depth=depth + 1)
    fh.seek(start)


def format_finding(path: str, kind: str) -> Finding:
    """The medium "pickle format where a safe one exists" finding."""
    return rules.PICKLE_FORMAT.finding(
        path, 0, f"{path} is a {kind}: loading it runs the pickle machine, while tensors and arrays have a "
        "format that cannot run code (safetensors; numpy .npy without object arrays)", key=kind)


def scan_bytes(data: bytes, path: str, **kwargs: object) -> PickleScan:
    """`scan_stream` over bytes in memory (zip members are read through the stream API instead)."""
    return scan_stream(io.BytesIO(data), path, **kwargs)  # type: ignore[arg-type]
