"""The registry of dependency-file formats: `SOURCES`, most specific first, and `source_for(path)`.

A new format is one class in a module here and one line in `SOURCES`. Every source decides from the path
alone; the broad requirements-file pattern (`*.in`, `*requirements*.txt`) comes last.
"""

from __future__ import annotations

from checks.dependencies.model import DependencySource, find_source
from checks.dependencies.sources.bun import BunLockSource
from checks.dependencies.sources.cargo import CargoLockSource
from checks.dependencies.sources.go import GoModSource, GoSumSource
from checks.dependencies.sources.gradle import GradleLockSource
from checks.dependencies.sources.maven import PomSource
from checks.dependencies.sources.npm_lock import PackageLockSource
from checks.dependencies.sources.npm_manifest import PackageJsonSource
from checks.dependencies.sources.nuget import NugetLockSource
from checks.dependencies.sources.packagist import ComposerLockSource
from checks.dependencies.sources.pnpm import PnpmLockSource
from checks.dependencies.sources.pypi_locks import (
    PipfileLockSource,
    PoetryLockSource,
    PylockSource,
    UvLockSource,
)
from checks.dependencies.sources.pypi_project import PyprojectSource
from checks.dependencies.sources.pypi_requirements import RequirementsSource
from checks.dependencies.sources.rubygems import GemfileLockSource
from checks.dependencies.sources.yarn import YarnLockSource

SOURCES: tuple[DependencySource, ...] = (
    # npm
    PackageLockSource(),
    YarnLockSource(),
    PnpmLockSource(),
    BunLockSource(),
    PackageJsonSource(),
    # PyPI
    PoetryLockSource(),
    UvLockSource(),
    PipfileLockSource(),
    PylockSource(),
    PyprojectSource(),
    # others
    GoModSource(),
    GoSumSource(),
    CargoLockSource(),
    GemfileLockSource(),
    ComposerLockSource(),
    PomSource(),
    GradleLockSource(),
    NugetLockSource(),
    # broadest pattern last
    RequirementsSource(),
)


def source_for(path: str) -> DependencySource | None:
    """The format that parses `path` (repository-relative), or None when it is not a dependency file."""
    return find_source(path, SOURCES)


__all__ = ["SOURCES", "source_for"]
