"""checkov and zizmor, each run once over both sides of a change: `head/` and `base/` side by side.

Why one run: checkov spends about 3 s importing itself before it reads a file. Run once per side (the
baseline needs the base's findings), it paid that twice, and on two cores the two runs side by side took
1.37x one run. Over one tree holding both sides it pays once. Each side keeps its own directory, so a
Terraform module still resolves only its own side's files, and every path and resource comes back with its
side's prefix removed: fingerprints are the same as a run over that side alone. zizmor runs beside checkov.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, TypeVar

from checks.context import write_file
from checks.iac import checkov, zizmor

if TYPE_CHECKING:
    from checks.context import CheckContext

T = TypeVar("T")


@dataclass
class SideInputs:
    """One side's files for the engines: `contents` as this side sees them, `neighbours` read from it."""

    ctx: CheckContext
    contents: dict[str, bytes] = field(default_factory=dict)
    neighbours: list[str] = field(default_factory=list)
    checkov_frameworks: set[str] = field(default_factory=set)
    zizmor_paths: list[str] = field(default_factory=list)

    @property
    def side(self) -> str:
        return self.ctx.side


@dataclass
class SideResults:
    """What each engine found on one side (None: the engine had nothing to look at there)."""

    checkov: checkov.CheckovRun | None = None
    zizmor: zizmor.ZizmorRun | None = None


def run(sides: list[SideInputs], ctx: CheckContext, *, memory_mb: int) -> list[SideResults]:
    """Each engine once over every side that needs it; results in the order of `sides`.

    Engine errors (a crash, the deadline) propagate: the engine reports the check as failed, never clean.
    """
    root = ctx.workspace.tree(("iac", "+".join(s.side for s in sides), None), lambda _root: None)
    for inputs in sides:
        tree = root / inputs.side
        tree.mkdir(exist_ok=True)
        inputs.ctx.materialize_into(tree, inputs.neighbours)
        for path, data in inputs.contents.items():
            write_file(tree, path, data)
    frameworks = set().union(*(s.checkov_frameworks for s in sides))
    zizmor_paths = [f"{s.side}/{p}" for s in sides for p in s.zizmor_paths]
    zizmor_job = _Background(lambda: zizmor.run(root, zizmor_paths, ctx, memory_mb=memory_mb)) \
        if zizmor_paths else None
    try:
        checkov_run = checkov.run(root, frameworks, ctx, memory_mb=memory_mb) if frameworks else None
    finally:
        zizmor_run = zizmor_job.result() if zizmor_job is not None else None
    return [SideResults(
        checkov=_checkov_side(checkov_run, s.side) if checkov_run is not None and s.checkov_frameworks
        else None,
        zizmor=_zizmor_side(zizmor_run, s.side) if zizmor_run is not None and s.zizmor_paths else None)
        for s in sides]


def _unprefix(value: str, side: str) -> str:
    prefix = side + "/"
    return value[len(prefix):] if value.startswith(prefix) else value


def _checkov_side(run: checkov.CheckovRun, side: str) -> checkov.CheckovRun:
    """The failures and parse errors under `side/`, with repository paths (a Dockerfile's resource names
    its path too)."""
    prefix = side + "/"
    return checkov.CheckovRun(
        failures=[replace(f, path=f.path[len(prefix):], resource=_unprefix(f.resource, side))
                  for f in run.failures if f.path.startswith(prefix)],
        parse_errors=[p[len(prefix):] for p in run.parse_errors if p.startswith(prefix)])


def _zizmor_side(run: zizmor.ZizmorRun, side: str) -> zizmor.ZizmorRun:
    prefix = side + "/"
    return zizmor.ZizmorRun(
        findings=[replace(f, path=f.path[len(prefix):]) for f in run.findings if f.path.startswith(prefix)],
        unparsed=[p[len(prefix):] for p in run.unparsed if p.startswith(prefix)])


class _Background:
    """`fn()` in a thread; `result()` joins it and returns its value or raises its exception."""

    def __init__(self, fn: Callable[[], T]) -> None:
        self._value: object = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fn,), name="iac-engine", daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[[], object]) -> None:
        try:
            self._value = fn()
        except BaseException as exc:  # re-raised by result(), in the check's thread
            self._error = exc

    def result(self):  # type: ignore[no-untyped-def]
        self._thread.join()  # bounded: the engine is killed at the check's deadline
        if self._error is not None:
            raise self._error
        return self._value
