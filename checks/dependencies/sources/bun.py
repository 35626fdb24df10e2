"""`bun.lock`: Bun's text lockfile (JSON with trailing commas, "JSONC").

Comments and trailing commas are blanked out (keeping every newline, so lines stay true) and the rest is
read with `json`. `workspaces` hold the direct dependencies; each `packages` entry is
`[ "name@version", registry, {dependencies…}, integrity ]`, keyed by its install path
("parent/child" for a nested copy), so dependencies resolve like Node's nearest-`node_modules` rule.
"""

from __future__ import annotations

import posixpath
import re

from checks.dependencies.model import NPM, Package, Parsed, ReadSibling
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
from checks.dependencies.sources.npm_lock import registries
from checks.dependencies.sources.npm_manifest import spec_info
from checks.dependencies.sources.yarn import split_spec

_JSONC = re.compile(r'"(?:[^"\\]|\\.)*"|//[^\n]*|/\*.*?\*/|,(?=\s*[}\]])', re.DOTALL)
_DEP_FIELDS = ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies")


def strip_jsonc(text: str) -> str:
    """JSONC → JSON: drop comments and trailing commas, leave strings and line breaks untouched."""

    def keep(m: re.Match[str]) -> str:
        tok = m.group(0)
        if tok.startswith('"'):
            return tok
        return re.sub(r"[^\n]", " ", tok)

    return _JSONC.sub(keep, text)


def _resolve(packages: dict, key: str, dep: str) -> str | None:
    parts = key.split("/") if key else []
    # scoped names occupy two path segments
    segs: list[str] = []
    i = 0
    while i < len(parts):
        if parts[i].startswith("@") and i + 1 < len(parts):
            segs.append(f"{parts[i]}/{parts[i + 1]}")
            i += 2
        else:
            segs.append(parts[i])
            i += 1
    while True:
        cand = "/".join([*segs, dep])
        if cand in packages:
            return cand
        if not segs:
            return None
        segs.pop()


class BunLockSource:
    ecosystem = NPM
    format = "bun.lock"

    def matches(self, path: str) -> bool:
        return posixpath.basename(path) == "bun.lock"

    @guarded
    def parse(self, path: str, data: bytes, read: ReadSibling) -> Parsed:
        text = strip_jsonc(decode(data))
        doc = as_dict(load_json(text), "bun.lock")
        lines = json_key_lines(text, scalars=True, depth=2)
        packages = as_dict(doc.get("packages") or {}, "packages")
        workspaces = as_dict(doc.get("workspaces") or {}, "workspaces")
        edges: dict[str, list[str]] = {}
        dev_only: dict[str, bool] = {}
        root_names: dict[str, str] = {}
        for ws, body in workspaces.items():
            node = f"ws:{ws}"
            root_names[node] = as_str((body or {}).get("name")) or ws
            targets = []
            for field in _DEP_FIELDS:
                for dep in (body or {}).get(field) or {}:
                    t = _resolve(packages, "", dep)
                    if t:
                        targets.append(t)
                        dev_only[t] = dev_only.get(t, True) and field == "devDependencies"
            edges[node] = targets
        for key, entry in packages.items():
            expect(
                isinstance(entry, list) and entry and isinstance(entry[0], str),
                f"package {key!r} is not an array",
                lines.get(("packages", key)),
            )
            ws_ref = split_spec(entry[0])[1]
            if ws_ref.startswith("workspace:"):  # a workspace package: its dependencies are its workspace's
                edges[key] = [f"ws:{ws_ref.removeprefix('workspace:')}"]
                continue
            info = next((e for e in entry[1:] if isinstance(e, dict)), {})
            deps = [
                d
                for f in ("dependencies", "optionalDependencies", "peerDependencies")
                for d in (info.get(f) or {})
            ]
            edges[key] = [t for t in (_resolve(packages, key, d) for d in deps) if t]
        chains = shortest_paths(list(root_names), edges)
        out, resolved_lines = [], []
        for key, entry in packages.items():
            name, ref = split_spec(entry[0])
            if ref.startswith("workspace:"):
                continue
            line = lines.get(("packages", key), 1)
            real, version, source, extra = spec_info(name, ref)
            registry = as_str(entry[1]) if len(entry) > 1 and isinstance(entry[1], str) else ""
            if registry:
                source = source or registry
                resolved_lines.append((registry, line))
            integrity = as_str(entry[-1]) if len(entry) > 2 and isinstance(entry[-1], str) else ""
            chain = chains.get(key)
            direct = chain is not None and len(chain) == 1
            via: tuple[str, ...] = ()
            if chain and not direct:
                via = tuple(root_names.get(c) or split_spec(packages[c][0])[0] for c in chain)
            if direct and dev_only.get(key):
                extra["dev"] = True
            if chain is None:
                extra["unreachable"] = True
            out.append(
                Package(
                    ecosystem=NPM,
                    name=real,
                    version=version,
                    path=path,
                    line=line,
                    direct=direct,
                    via=via,
                    spec=ref if version is None else "",
                    source=source,
                    integrity=integrity,
                    extra=extra,
                )
            )
        return Parsed(
            path=path,
            ecosystem=NPM,
            packages=tuple(out),
            settings=tuple(registries(iter(resolved_lines))),
            lockfile=True,
        )
