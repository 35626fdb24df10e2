"""What a dependency file declares: the `Package` record and the `DependencySource` protocol.

One class per file format implements `DependencySource` (pip-audit's `DependencySource` is the model), and
`checks.dependencies.sources.SOURCES` registers them: a new format is one class and one line there. Parsing
is static: nothing is installed, resolved, built or run, and no network is used.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

#: OSV ecosystem names (https://ossf.github.io/osv-schema/#affectedpackage-field)
PYPI = "PyPI"
NPM = "npm"
GO = "Go"
CARGO = "crates.io"
RUBYGEMS = "RubyGems"
PACKAGIST = "Packagist"
MAVEN = "Maven"
NUGET = "NuGet"
ECOSYSTEMS = (PYPI, NPM, GO, CARGO, RUBYGEMS, PACKAGIST, MAVEN, NUGET)


def normalise_name(ecosystem: str, name: str) -> str:
    """The name advisories are matched on: PEP 503 for PyPI, lower case where the ecosystem ignores case."""
    if ecosystem == PYPI:
        return re.sub(r"[-_.]+", "-", name).lower()
    if ecosystem in (NUGET, PACKAGIST, RUBYGEMS):
        return name.lower()
    return name


@dataclass(frozen=True, slots=True)
class Package:
    """One package a dependency file declares or locks.

    `version` is the exact version when the file pins one (a lockfile always does), None when it states only
    a range or nothing (`spec` then holds what was written). `line` is the 1-based line in `path` that
    declares it (0 when the format gives no line). `via` is the path from a direct dependency down to this
    package's parent, nearest first, when the lockfile records the graph: for `langchain` pulled in by
    `langchain-experimental`, which the manifest `app` declares, `via == ("langchain-experimental", "app")`.
    `source` is where the file says the package comes from (a `resolved` URL, a VCS URL, a registry) and
    `integrity` its recorded hash(es), both "" when absent.
    """

    ecosystem: str
    name: str
    version: str | None
    path: str
    line: int = 0
    direct: bool = True
    via: tuple[str, ...] = ()
    spec: str = ""
    source: str = ""
    integrity: str = ""
    #: e.g. {"dev": True}, {"markers": "python_version < '3.9'"}, {"hashes": [...]}
    extra: dict[str, object] = field(default_factory=dict, compare=False, hash=False)

    @property
    def key(self) -> tuple[str, str]:
        """(ecosystem, normalised name): how a package is matched across base and head and to advisories."""
        return (self.ecosystem, normalise_name(self.ecosystem, self.name))


@dataclass(frozen=True, slots=True)
class Setting:
    """A file-level setting that changes where packages come from or how they are checked.

    kind: "index-url", "extra-index-url", "trusted-host", "require-hashes", "registry" (npm/yarn/pnpm/bun
    registries, Cargo/Gem sources, Composer repositories …); `value` as written; `line` 1-based.
    """

    kind: str
    value: str
    line: int = 0
    #: the file that states it when that is an included file (`-r`/`-c`), "" for the parsed file itself
    path: str = ""


@dataclass(frozen=True, slots=True)
class Parsed:
    """What one dependency file yields. `lockfile` is True for a file that pins the whole graph."""

    path: str
    ecosystem: str
    packages: tuple[Package, ...] = ()
    settings: tuple[Setting, ...] = ()
    lockfile: bool = False
    #: paths of other repository files this one includes (`-r`/`-c` in requirements files), already parsed in
    includes: tuple[str, ...] = ()


class ParseError(Exception):
    """The file could not be parsed: reported on the file as "could not check", never as clean."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.message = message
        self.line = line
        super().__init__(message if line is None else f"line {line}: {message}")


#: `read(path)`: bytes of another repository path on the same side (for includes), None when absent
ReadSibling = Callable[[str], bytes | None]


class DependencySource(Protocol):
    """One dependency-file format."""

    #: OSV ecosystem of the packages it yields
    ecosystem: str
    #: short format name for messages ("package-lock.json v3", "requirements file")
    format: str

    def matches(self, path: str) -> bool:
        """Whether `path` (repository-relative) is a file of this format, decided from the path alone."""
        ...

    def parse(self, path: str, data: bytes, read: ReadSibling) -> Parsed:
        """Parse `data`; raise `ParseError` (with a line where possible) for a file it cannot read."""
        ...


def find_source(path: str, sources: Sequence[DependencySource]) -> DependencySource | None:
    """The first source that claims `path`, or None."""
    return next((s for s in sources if s.matches(path)), None)
