"""`Cargo.lock` (format v1–v4), read with `tomllib`.

Workspace members are the entries without a `source`; their `dependencies` are the direct ones. Entries
refer to each other as "name", "name version" or "name version (source)", so the graph is keyed by
(name, version) with a name-only fallback when the name is unique.
"""

from __future__ import annotations

import posixpath

from checks.dependencies.model import CARGO, Package, Parsed, ReadSibling, Setting
from checks.dependencies.sources._common import (
    as_str,
    expect,
    guarded,
    shortest_paths,
    toml_array,
)

CRATES_IO = "registry+https://github.com/rust-lang/crates.io-index"


class CargoLockSource:
    ecosystem = CARGO
    format = "Cargo.lock"

    def matches(self, path: str) -> bool:
        return posixpath.basename(path) == "Cargo.lock"

    @guarded
    def parse(self, path: str, data: bytes, read: ReadSibling) -> Parsed:
        items, lines = toml_array(data, "package")
        by_name: dict[str, list[str]] = {}
        nodes: list[str] = []
        for item, line in zip(items, lines, strict=True):
            expect(
                isinstance(item, dict) and "name" in item and "version" in item, "entry without name", line
            )
            node = f"{item['name']} {item['version']}"
            nodes.append(node)
            by_name.setdefault(str(item["name"]), []).append(node)
        edges: dict[str, list[str]] = {}
        for item, node in zip(items, nodes, strict=True):
            targets = []
            for dep in item.get("dependencies") or []:
                parts = str(dep).split()
                if len(parts) >= 2:
                    targets.append(f"{parts[0]} {parts[1]}")
                elif by_name.get(parts[0]):
                    targets.append(by_name[parts[0]][0])
            edges[node] = targets
        members = [n for item, n in zip(items, nodes, strict=True) if not item.get("source")]
        chains = shortest_paths(members, edges)
        root_name = members[0].split()[0] if len(members) == 1 else ""
        registries: dict[str, int] = {}
        out = []
        for item, node, line in zip(items, nodes, lines, strict=True):
            source = as_str(item.get("source"))
            if not source:
                continue
            extra: dict[str, object] = {}
            if source.startswith("git+"):
                extra["vcs_ref"] = source.rsplit("#", 1)[1] if "#" in source else ""
            elif source != CRATES_IO:
                registries.setdefault(source, line)
            chain = chains.get(node)
            direct = chain is not None and len(chain) == 1
            via: tuple[str, ...] = ()
            if chain and not direct:
                via = tuple(c.split()[0] for c in chain)
            elif direct and not root_name and chain:
                extra["member"] = chain[0].split()[0]
            if chain is None:
                extra["unreachable"] = True
            out.append(
                Package(
                    ecosystem=CARGO,
                    name=str(item["name"]),
                    version=str(item["version"]),
                    path=path,
                    line=line,
                    direct=direct,
                    via=via,
                    source=source,
                    integrity=as_str(item.get("checksum")),
                    extra=extra,
                )
            )
        settings = [Setting("registry", src, line) for src, line in registries.items()]
        return Parsed(
            path=path, ecosystem=CARGO, packages=tuple(out), settings=tuple(settings), lockfile=True
        )
