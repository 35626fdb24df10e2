"""Go modules: `go.mod` (require / replace / exclude) and `go.sum` (the hashes of every module version).

Neither has a maintained Python reader; both are line formats simple enough to read here. Versions are
given without the leading "v", as OSV's Go ranges are written (`spec` keeps the text as written).
`// indirect` marks a transitive requirement; go.sum takes direct-ness from the sibling go.mod.
"""

from __future__ import annotations

import dataclasses
import posixpath
import re

from checks.dependencies.model import GO, Package, Parsed, ParseError, ReadSibling, Setting
from checks.dependencies.sources._common import decode, guarded

_REQ = re.compile(r"^(\S+)\s+(v\S+)\s*(//.*)?$")
_BLOCK = re.compile(r"^(require|replace|exclude|retract|tool|godebug)\s*\(\s*$")
_SUM = re.compile(r"^(\S+)\s+(v[^\s/]+)(/go\.mod)?\s+(h1:\S+)\s*$")


def _strip_v(version: str) -> str:
    return version[1:] if version.startswith("v") else version


def _statements(text: str):
    """(keyword, body, line) for each go.mod statement, blocks flattened."""
    block = ""
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("//"):
            continue
        if block:
            if line == ")":
                block = ""
                continue
            yield block, line, no
            continue
        m = _BLOCK.match(line)
        if m:
            block = m.group(1)
            continue
        keyword, _, body = line.partition(" ")
        yield keyword, body.strip(), no
    if block:
        raise ParseError(f"unterminated {block} ( block")


def gomod_requires(text: str, path: str) -> tuple[list[Package], list[Setting]]:
    packages, settings = [], []
    for keyword, body, no in _statements(text):
        if keyword == "require":
            m = _REQ.match(body)
            if not m:
                raise ParseError(f"unreadable require {body!r}", no)
            indirect = bool(m.group(3) and "indirect" in m.group(3))
            packages.append(
                Package(
                    ecosystem=GO,
                    name=m.group(1),
                    version=_strip_v(m.group(2)),
                    path=path,
                    line=no,
                    direct=not indirect,
                    spec=m.group(2),
                    extra={"indirect": True} if indirect else {},
                )
            )
        elif keyword == "replace":
            if "=>" not in body:
                raise ParseError(f"unreadable replace {body!r}", no)
            settings.append(Setting("replace", body, no))
        elif keyword == "exclude":
            settings.append(Setting("exclude", body, no))
        elif keyword not in ("module", "go", "toolchain", "retract", "tool", "godebug", "ignore"):
            raise ParseError(f"unknown go.mod directive {keyword!r}", no)
    return packages, settings


class GoModSource:
    ecosystem = GO
    format = "go.mod"

    def matches(self, path: str) -> bool:
        return posixpath.basename(path) == "go.mod"

    @guarded
    def parse(self, path: str, data: bytes, read: ReadSibling) -> Parsed:
        packages, settings = gomod_requires(decode(data), path)
        return Parsed(path=path, ecosystem=GO, packages=tuple(packages), settings=tuple(settings))


class GoSumSource:
    ecosystem = GO
    format = "go.sum"

    def matches(self, path: str) -> bool:
        return posixpath.basename(path) == "go.sum"

    @guarded
    def parse(self, path: str, data: bytes, read: ReadSibling) -> Parsed:
        text = decode(data)
        direct: set[str] | None = None
        blob = read(posixpath.join(posixpath.dirname(path), "go.mod"))
        if blob is not None:
            try:
                direct = {p.name for p in gomod_requires(decode(blob), "go.mod")[0] if p.direct}
            except ParseError:
                direct = None
        seen: dict[tuple[str, str], int] = {}
        packages: list[Package] = []
        for no, raw in enumerate(text.splitlines(), 1):
            if not raw.strip():
                continue
            m = _SUM.match(raw.strip())
            if not m:
                raise ParseError("unreadable go.sum line", no)
            name, version, gomod_only, digest = m.groups()
            if (name, version) in seen:
                if not gomod_only:  # the module zip's hash line: prefer it over the go.mod-only one
                    i = seen[(name, version)]
                    packages[i] = dataclasses.replace(packages[i], integrity=digest, line=no)
                continue
            seen[(name, version)] = len(packages)
            packages.append(
                Package(
                    ecosystem=GO,
                    name=name,
                    version=_strip_v(version),
                    path=path,
                    line=no,
                    direct=True if direct is None else name in direct,
                    spec=version,
                    integrity="" if gomod_only else digest,
                )
            )
        return Parsed(path=path, ecosystem=GO, packages=tuple(packages), lockfile=True)
