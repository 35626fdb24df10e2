"""The one protocol every check implements.

A check is a class with a `name`, a filter saying which files it reads, and `run`, which turns those files
into findings. It must be pure: no network, no GitHub, no Redis, never executing anything from the change.
The engine (`checks.engine`) keeps only findings on lines the change added, so a check may report on whole
files and stay simple.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, runtime_checkable

from checks.change import ChangedFile
from checks.finding import Finding, Skipped


@runtime_checkable
class Check(Protocol):
    #: Short id used in check-run names (`prguard/<name>`), policies and `--check` options.
    name: str
    #: Human title for summaries.
    title: str

    def applies_to(self, file: ChangedFile) -> bool:
        """Whether this check wants to read `file` (decided from path and flags only, without contents)."""
        ...

    def run(self, files: Sequence[ChangedFile]) -> Iterable[Finding | Skipped]:
        """Scan `files` (already filtered by `applies_to`) and yield findings, or skips with a reason."""
        ...
