"""NuGet `packages.lock.json` (version 1 and 2), read with `json`.

Entries are listed per target framework, each with `type` Direct / Transitive / CentralTransitive /
Project and its own `dependencies`; the graph per framework gives the path from a direct package.
A package locked for several frameworks at the same version is reported once (first framework).
"""

from __future__ import annotations

import posixpath

from checks.dependencies.model import NUGET, Package, Parsed, ReadSibling
from checks.dependencies.sources._common import (
    as_dict,
    as_str,
    decode,
    expect,
    guarded,
    json_key_lines,
    load_json,
    shortest_paths,
)


class NugetLockSource:
    ecosystem = NUGET
    format = "packages.lock.json"

    def matches(self, path: str) -> bool:
        return posixpath.basename(path) == "packages.lock.json"

    @guarded
    def parse(self, path: str, data: bytes, read: ReadSibling) -> Parsed:
        text = decode(data)
        doc = as_dict(load_json(text), "packages.lock.json")
        expect(doc.get("version") in (1, 2), f"unknown lockfile version {doc.get('version')!r}")
        lines = json_key_lines(text, depth=3)
        frameworks = as_dict(doc.get("dependencies") or {}, "dependencies")
        out: list[Package] = []
        seen: set[tuple[str, str]] = set()
        for fw, entries in frameworks.items():
            entries = as_dict(entries, f"dependencies.{fw}")
            lower = {n.lower(): n for n in entries}
            edges: dict[str, list[str]] = {}
            roots = []
            for name, entry in entries.items():
                line = lines.get(("dependencies", fw, name))
                expect(isinstance(entry, dict), f"{fw}/{name} is not an object", line)
                edges[name] = [
                    lower[d.lower()] for d in (entry.get("dependencies") or {}) if d.lower() in lower
                ]
                if entry.get("type") in ("Direct", "Project"):
                    roots.append(name)
            chains = shortest_paths(roots, edges)
            for name, entry in entries.items():
                if entry.get("type") == "Project":
                    continue
                version = as_str(entry.get("resolved")) or None
                if (name.lower(), version or "") in seen:
                    continue
                seen.add((name.lower(), version or ""))
                chain = chains.get(name)
                extra: dict[str, object] = {"framework": fw, "type": as_str(entry.get("type"))}
                if chain is None:
                    extra["unreachable"] = True
                out.append(
                    Package(
                        ecosystem=NUGET,
                        name=name,
                        version=version,
                        path=path,
                        line=lines.get(("dependencies", fw, name), 1),
                        direct=entry.get("type") == "Direct",
                        via=chain or (),
                        spec=as_str(entry.get("requested")),
                        integrity=as_str(entry.get("contentHash")),
                        extra=extra,
                    )
                )
        return Parsed(path=path, ecosystem=NUGET, packages=tuple(out), lockfile=True)
