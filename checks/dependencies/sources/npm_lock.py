"""`package-lock.json` (lockfileVersion 1, 2, 3) and `npm-shrinkwrap.json`.

v2/v3 list every installed folder under `packages` ("node_modules/a/node_modules/b"); v1 nests entries
under `dependencies`, which is turned into the same folder keys so one graph walk serves both. A package's
dependencies are found the way Node resolves them (nearest `node_modules` up the tree), and the path from
a direct dependency is the shortest one (BFS) from the root project and its workspaces.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterator
from urllib.parse import urlsplit

from checks.dependencies.model import NPM, Package, Parsed, ParseError, ReadSibling, Setting
from checks.dependencies.sources._common import (
    as_dict,
    as_str,
    decode,
    expect,
    guarded,
    json_key_lines,
    load_json,
    shortest_paths,
    url_origin,
)

_DEP_KEYS = ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies")
_NM = "node_modules/"


def _parent(key: str) -> str:
    i = key.rfind("/" + _NM)
    return key[:i] if i >= 0 else ""


def _resolve(packages: dict, key: str, dep: str) -> str | None:
    """The folder Node would load `dep` from when required by the package at `key`."""
    loc = key
    while True:
        cand = f"{loc}/{_NM}{dep}" if loc else f"{_NM}{dep}"
        if cand in packages:
            return cand
        if not loc:
            return None
        loc = _parent(loc) if _NM in loc else ""


def _name_of(key: str, entry: dict) -> str:
    i = key.rfind(_NM)
    return as_str(entry.get("name")) or (key[i + len(_NM) :] if i >= 0 else key.rsplit("/", 1)[-1])


def _flatten_v1(deps: dict, prefix: str, prefix_path: tuple[str, ...], out: dict, paths: dict) -> None:
    """v1 nested `dependencies` → v2-style folder keys; remembers each key's JSON path for its line."""
    for name, entry in deps.items():
        if not isinstance(entry, dict):
            raise ParseError(f"dependency {name!r} is not an object")
        key = f"{prefix}/{_NM}{name}" if prefix else f"{_NM}{name}"
        jpath = (*prefix_path, "dependencies", name)
        item = dict(entry)
        item["requires_"] = as_dict(entry.get("requires") or {}, f"{name} requires")
        item.pop("dependencies", None)  # nested folders, not edges: `requires` holds the edges
        out[key] = item
        paths[key] = jpath
        if isinstance(entry.get("dependencies"), dict):
            _flatten_v1(entry["dependencies"], key, jpath, out, paths)


def _version_and_name(name: str, entry: dict) -> tuple[str, str | None, str]:
    """(name, exact version or None, spec) — v1 writes git URLs and `npm:` aliases into `version`."""
    raw = as_str(entry.get("version"))
    if raw.startswith("npm:"):
        real, _, ver = raw[4:].rpartition("@")
        return real or name, ver or None, raw
    if not raw or ":" in raw or "/" in raw:
        return name, None, raw
    return name, raw, ""


def registries(resolved: Iterator[tuple[str, int]]) -> list[Setting]:
    """One `registry` setting per distinct http(s) origin packages resolve from (first line it appears)."""
    seen: dict[str, int] = {}
    for url, line in resolved:
        origin = url_origin(url)
        if origin:
            seen.setdefault(origin, line)
    return [Setting("registry", origin, line) for origin, line in seen.items()]


class PackageLockSource:
    """npm's lockfiles; both names share one format."""

    ecosystem = NPM
    format = "package-lock.json"

    def matches(self, path: str) -> bool:
        return posixpath.basename(path) in ("package-lock.json", "npm-shrinkwrap.json")

    @guarded
    def parse(self, path: str, data: bytes, read: ReadSibling) -> Parsed:
        text = decode(data)
        doc = as_dict(load_json(text), "lockfile")
        version = doc.get("lockfileVersion", 1)
        expect(isinstance(version, int) and 1 <= version <= 3, f"unknown lockfileVersion {version!r}")
        # v2/v3 entries are `packages` keys (depth 2); v1 nests them without limit
        lines = json_key_lines(text, depth=2 if isinstance(doc.get("packages"), dict) else 0)
        jpaths: dict[str, tuple[str, ...]] = {}
        if isinstance(doc.get("packages"), dict):
            packages = {k: v for k, v in doc["packages"].items()}
            for k, v in packages.items():
                line = lines.get(("packages", k))
                expect(isinstance(v, dict), f"packages entry {k!r} is not an object", line)
                jpaths[k] = ("packages", k)
            root = packages.get("", {})
        else:
            expect(version == 1, "lockfile has no `packages` object")
            packages = {}
            _flatten_v1(as_dict(doc.get("dependencies") or {}, "dependencies"), "", (), packages, jpaths)
            root = self._v1_root(path, doc, packages, read)
            packages[""] = root
        roots = [k for k in packages if k == "" or (_NM not in k and not packages[k].get("link"))]
        edges: dict[str, list[str]] = {}
        for key, entry in packages.items():
            names: list[str] = []
            for field in (*_DEP_KEYS, "requires_"):
                deps = entry.get(field)
                if isinstance(deps, dict):
                    names.extend(deps)
            children = []
            for dep in names:
                target = _resolve(packages, key, dep)
                if target is not None:
                    target_entry = packages[target]
                    if target_entry.get("link") and isinstance(target_entry.get("resolved"), str):
                        target = target_entry["resolved"]  # a workspace link: follow to its folder
                    children.append(target)
            edges[key] = children
        chains = shortest_paths(roots, edges)
        names = {k: _name_of(k, v) if k else as_str(root.get("name")) for k, v in packages.items()}
        out: list[Package] = []
        resolved_lines: list[tuple[str, int]] = []
        for key, entry in packages.items():
            if _NM not in key or entry.get("link"):
                continue
            line = lines.get(jpaths[key], 1)
            name, exact, spec = _version_and_name(names[key], entry)
            chain = chains.get(key)
            direct = chain is not None and len(chain) == 1
            via: tuple[str, ...] = ()
            if chain and not direct:
                via = tuple(names[k] for k in chain if names[k])
            resolved = as_str(entry.get("resolved"))
            if resolved:
                resolved_lines.append((resolved, line))
            extra: dict[str, object] = {}
            for flag in ("dev", "optional", "devOptional", "peer", "bundled", "inBundle"):
                if entry.get(flag):
                    extra[flag] = True
            if chain is None:
                extra["extraneous"] = True
            git = spec if spec and not exact else resolved if resolved.startswith(("git+", "git:")) else ""
            if git:
                extra["vcs_ref"] = urlsplit(git).fragment if "#" in git else ""
            out.append(
                Package(
                    ecosystem=NPM,
                    name=name,
                    version=exact,
                    path=path,
                    line=line,
                    direct=direct,
                    via=via,
                    spec=spec,
                    source=resolved,
                    integrity=as_str(entry.get("integrity")),
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

    @staticmethod
    def _v1_root(path: str, doc: dict, packages: dict, read: ReadSibling) -> dict:
        """v1 does not record the root's dependencies: take them from the sibling package.json, else treat
        every top-level entry nobody requires as direct."""
        manifest = read(posixpath.join(posixpath.dirname(path), "package.json"))
        if manifest is not None:
            try:
                pkg = json.loads(manifest.decode("utf-8-sig"))
            except (ValueError, UnicodeDecodeError, RecursionError):
                pkg = None
            if isinstance(pkg, dict):
                root = {k: pkg[k] for k in _DEP_KEYS if isinstance(pkg.get(k), dict)}
                root["name"] = as_str(pkg.get("name")) or as_str(doc.get("name"))
                return root
        required = {d for e in packages.values() for d in e.get("requires_", {})}
        top = {k[len(_NM) :]: "*" for k in packages if k.count(_NM) == 1 and k[len(_NM) :] not in required}
        return {"name": as_str(doc.get("name")), "dependencies": top}
