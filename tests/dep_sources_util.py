"""Helpers for the dependency-source tests: parse a file through the registry, find lines by their text."""

from __future__ import annotations

import textwrap

from checks.dependencies.model import Package, Parsed
from checks.dependencies.sources import source_for


def parse(path: str, text: str, siblings: dict[str, str] | None = None) -> Parsed:
    """Parse `text` as the repository file `path`; `siblings` are the other files `read` can see."""
    files = {k: v.encode() for k, v in (siblings or {}).items()}
    source = source_for(path)
    assert source is not None, f"no source claims {path}"
    return source.parse(path, text.encode(), files.get)


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def line_of(text: str, needle: str, nth: int = 0) -> int:
    """1-based line of the `nth` line containing `needle` (the test's own independent oracle)."""
    hits = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    assert len(hits) > nth, f"{needle!r} not in the fixture"
    return hits[nth]


def by_name(parsed: Parsed) -> dict[str, Package]:
    out: dict[str, Package] = {}
    for p in parsed.packages:
        out.setdefault(p.name, p)
    return out
