"""The one protocol every check implements, and how a check says what counts as new.

A check is a class with a `name`, a filter saying which files it reads, and `run`, which turns those files
into findings. It must be pure: no network, no GitHub, no Redis, never executing anything from the change.
Anything beyond the files it is handed (other paths, either side, a directory tree for an engine, its
policy settings, its deadline) comes through the `checks.context.CheckContext` passed to `run`.

The engine (`checks.engine`) keeps only what the change introduced, so a check may report on whole files
and stay simple. What "introduced" means is the check's `novelty` (default `Novelty.ADDED_LINE`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from checks.change import ChangedFile
from checks.finding import Finding, Skipped

if TYPE_CHECKING:
    from checks.context import CheckContext


class Novelty(StrEnum):
    """Which of a check's findings the engine keeps as introduced by the change.

    A finding with `line == 0` (the whole file) is kept in the two line modes when its file is part of
    the change and not removed.

    A finding that names a commit (`metadata["commit"]`) is judged by the change's history instead
    (`Change.history`, `checks.history`), in every mode: it was found in what one of the change's commits
    added, so it is kept when that commit is one of the history's, even on a path the final change does not
    touch (a key committed and deleted on the branch). Such findings are file-level (`line == 0`).
    """

    #: the finding's `line` is a line the change added (secrets: a key sits on one line)
    ADDED_LINE = "added-line"
    #: the finding's `line..end_line` contains an added line (a resource block that an added line makes
    #: vulnerable, though the block starts on an unchanged line)
    TOUCHES_ADDED = "touches-added"
    #: the check also runs on the base side, and only findings whose fingerprint the base run did not
    #: produce are kept (engines that analyse a whole tree, where a line is not the unit)
    BASELINE = "baseline"


def novelty_of(check: object) -> Novelty:
    """The check's declared `novelty`, `ADDED_LINE` when it declares none; ValueError for an unknown one."""
    return Novelty(getattr(check, "novelty", Novelty.ADDED_LINE))


@runtime_checkable
class Check(Protocol):
    """A check. It may also set a class attribute `novelty: Novelty` (see `Novelty`)."""

    #: Short id used in check-run names (`prguard/<name>`), policies and `--check` options.
    name: str
    #: Human title for summaries.
    title: str

    def applies_to(self, file: ChangedFile) -> bool:
        """Whether this check wants to read `file` (decided from path and flags only, without contents)."""
        ...

    def run(self, files: Sequence[ChangedFile], ctx: CheckContext) -> Iterable[Finding | Skipped]:
        """Scan `files` (already filtered by `applies_to`) and yield findings, or skips with a reason.

        `ctx.side` says which side `files` hold ("base" only in a baseline-mode check's second run).
        """
        ...
