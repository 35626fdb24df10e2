"""`Gemfile.lock`: Bundler's indented sections (GEM / GIT / PATH with `specs:`, DEPENDENCIES, ...).

No maintained Python reader exists; the format is a fixed indentation grammar: 4 spaces for a locked gem
`name (version[-platform])`, 6 for its dependencies, 2 under DEPENDENCIES for the direct ones.
"""

from __future__ import annotations

import posixpath
import re

from checks.dependencies.model import RUBYGEMS, Package, Parsed, ParseError, ReadSibling, Setting
from checks.dependencies.sources._common import decode, guarded, shortest_paths

_SPEC = re.compile(r"^    (\S+) \(([^)]+)\)$")
_DEP = re.compile(r"^      (\S+)(?: \(([^)]*)\))?$")
_CHECKSUM = re.compile(r"^  (\S+) \(([^)]+)\)(?: (\S+))?$")
_DIRECT = re.compile(r"^  (\S+?)(!)?(?: \(([^)]*)\))?$")
_PLATFORMS = (
    "-x86",
    "-arm",
    "-aarch64",
    "-java",
    "-universal",
    "-mingw",
    "-mswin",
    "-x64",
    "-darwin",
    "-linux",
)


def _split_platform(version: str) -> tuple[str, str]:
    for marker in _PLATFORMS:
        i = version.find(marker)
        if i > 0:
            return version[:i], version[i + 1 :]
    return version, ""


class GemfileLockSource:
    ecosystem = RUBYGEMS
    format = "Gemfile.lock"

    def matches(self, path: str) -> bool:
        return posixpath.basename(path) in ("Gemfile.lock", "gems.locked")

    @guarded
    def parse(self, path: str, data: bytes, read: ReadSibling) -> Parsed:
        text = decode(data)
        section, remote, revision = "", "", ""
        specs: list[dict] = []
        direct: list[str] = []
        checksums: dict[tuple[str, str], str] = {}
        settings: list[Setting] = []
        current: dict | None = None
        for no, raw in enumerate(text.splitlines(), 1):
            line = raw.rstrip()
            if not line:
                continue
            if not line[0].isspace():
                section, remote, revision, current = line.strip(), "", "", None
                continue
            if section in ("GEM", "GIT", "PATH", "PLUGIN SOURCE"):
                if line.startswith("  remote: "):
                    remote = line.split(":", 1)[1].strip()
                    if section == "GEM":
                        settings.append(Setting("registry", remote, no))
                    continue
                if line.startswith("  revision: "):
                    revision = line.split(":", 1)[1].strip()
                    continue
                if line.startswith("  ") and not line.startswith("   ") and ":" in line:
                    continue  # specs:, branch:, tag:, glob:, ref:
                m = _SPEC.match(line)
                if m:
                    version, platform = _split_platform(m.group(2))
                    current = {
                        "name": m.group(1),
                        "version": version,
                        "line": no,
                        "deps": [],
                        "section": section,
                        "remote": remote,
                        "revision": revision,
                        "platform": platform,
                    }
                    specs.append(current)
                    continue
                d = _DEP.match(line)
                if d and current is not None:
                    current["deps"].append(d.group(1))
                    continue
                raise ParseError("unreadable line in a specs block", no)
            if section == "CHECKSUMS":  # Bundler 2.5+: `  name (version[-platform]) sha256=…`
                m = _CHECKSUM.match(line)
                if not m:
                    raise ParseError("unreadable CHECKSUMS line", no)
                if m.group(3):
                    checksums.setdefault((m.group(1), _split_platform(m.group(2))[0]), m.group(3))
                continue
            if section == "DEPENDENCIES":
                m = _DIRECT.match(line)
                if not m:
                    raise ParseError("unreadable DEPENDENCIES line", no)
                direct.append(m.group(1))
        if not specs and "GEM" not in text and "DEPENDENCIES" not in text:
            raise ParseError("no GEM/GIT/PATH/DEPENDENCIES section: not a Gemfile.lock")
        edges: dict[str, list[str]] = {}
        for s in specs:
            edges.setdefault(s["name"], []).extend(s["deps"])
        chains = shortest_paths(direct, edges)
        out, seen = [], set()
        for s in specs:
            if (s["name"], s["version"]) in seen:  # the same gem for several platforms
                continue
            seen.add((s["name"], s["version"]))
            chain = chains.get(s["name"])
            extra: dict[str, object] = {}
            if s["platform"]:
                extra["platform"] = s["platform"]
            source = s["remote"]
            if s["section"] == "GIT":
                source = f"git+{s['remote']}"
                extra["vcs_ref"] = s["revision"]
            elif s["section"] == "PATH":
                extra["local"] = True
            if chain is None:
                extra["unreachable"] = True
            out.append(
                Package(
                    ecosystem=RUBYGEMS,
                    name=s["name"],
                    version=s["version"],
                    path=path,
                    line=s["line"],
                    direct=chain == (),
                    via=chain or (),
                    source=source,
                    integrity=checksums.get((s["name"], s["version"]), ""),
                    extra=extra,
                )
            )
        return Parsed(
            path=path, ecosystem=RUBYGEMS, packages=tuple(out), settings=tuple(settings), lockfile=True
        )
