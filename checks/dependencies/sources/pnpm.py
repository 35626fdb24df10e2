"""`pnpm-lock.yaml`, lockfile versions 5.x, 6.x and 9.x, read with the YAML library.

Direct dependencies are the `importers` (workspace projects; the top-level `dependencies` tables before
v9's single-project form); the graph is `snapshots` (v9) or `packages` (v5/v6) `dependencies`, keyed
`name@version` once peer suffixes such as `(react@18.2.0)` are dropped. Lines are the `packages:` keys,
found in one pass over the text.
"""

from __future__ import annotations

import posixpath
import re

from checks.dependencies.model import NPM, Package, Parsed, ReadSibling
from checks.dependencies.sources._common import as_str, decode, expect, guarded, load_yaml, shortest_paths
from checks.dependencies.sources.npm_lock import registries
from checks.dependencies.sources.npm_manifest import manifest_roots

_DEP_FIELDS = ("dependencies", "devDependencies", "optionalDependencies")
_KEY_LINE = re.compile(r"^  (['\"]?)(\S.*?)\1:\s*$")


def parse_key(key: str) -> tuple[str, str]:
    """(name, version) of a packages/snapshots key: `/a@1.0.0`, `a@1.0.0(peer@1)`, `/a/1.0.0_peer` (v5)."""
    k = key.lstrip("/")
    at = k.find("@", 1)
    if at > 0 and ("/" not in k[at:].split("(", 1)[0] or ":" in k[at:]):
        name, version = k[:at], k[at + 1 :]
    elif "/" in k:
        name, version = k.rsplit("/", 1)
        if name.startswith("@") and "/" not in name:  # `@scope/name` without a version
            return k, ""
    else:
        return k, ""
    return name, version.split("(", 1)[0].split("_", 1)[0]


def _target(name: str, ref: object) -> str | None:
    """Base key a dependency reference points at: `1.2.3(peer)`, `alias@1.2.3`, `/alias@1.2.3`, link:…"""
    ref = str(ref)
    if ref.startswith(("link:", "file:")):
        return None
    if "@" in ref.split("(", 1)[0][1:] or ref.startswith("/"):
        n, v = parse_key(ref)
        return f"{n}@{v}"
    return f"{name}@{ref.split('(', 1)[0].split('_', 1)[0]}"


def _section_lines(text: str, section: str) -> dict[str, int]:
    """Line of each key directly under a top-level `section:` (two-space indent), one pass."""
    out: dict[str, int] = {}
    inside = False
    for no, raw in enumerate(text.splitlines(), 1):
        if raw and not raw[0].isspace():
            inside = raw.rstrip() == f"{section}:"
            continue
        if inside:
            m = _KEY_LINE.match(raw)
            if m:
                out.setdefault(m.group(2), no)
    return out


class PnpmLockSource:
    ecosystem = NPM
    format = "pnpm-lock.yaml"

    def matches(self, path: str) -> bool:
        return posixpath.basename(path) in ("pnpm-lock.yaml", "pnpm-lock.yml")

    @guarded
    def parse(self, path: str, data: bytes, read: ReadSibling) -> Parsed:
        text = decode(data)
        doc = load_yaml(text)
        expect(isinstance(doc, dict), "pnpm-lock.yaml is not a mapping")
        expect("lockfileVersion" in doc, "no lockfileVersion: not a pnpm lockfile")
        packages = doc.get("packages") or {}
        snapshots = doc.get("snapshots") or packages
        expect(isinstance(packages, dict) and isinstance(snapshots, dict), "`packages` is not a mapping")
        importers = doc.get("importers") or {".": {f: doc.get(f) for f in _DEP_FIELDS}}
        expect(isinstance(importers, dict), "`importers` is not a mapping")
        edges: dict[str, list[str]] = {}
        dev_only: dict[str, bool] = {}
        for imp, body in importers.items():
            targets = []
            for field in _DEP_FIELDS:
                for name, ref in ((body or {}).get(field) or {}).items():
                    version = ref.get("version") if isinstance(ref, dict) else ref
                    t = _target(name, version)
                    if t:
                        targets.append(t)
                        dev_only[t] = dev_only.get(t, True) and field == "devDependencies"
            edges[f"importer:{imp}"] = targets
        for key, body in snapshots.items():
            name, version = parse_key(str(key))
            deps = []
            for field in ("dependencies", "optionalDependencies"):
                for dep, ref in ((body or {}).get(field) or {}).items():
                    t = _target(dep, ref)
                    if t:
                        deps.append(t)
            edges.setdefault(f"{name}@{version}", []).extend(deps)
        roots = [f"importer:{imp}" for imp in importers]
        chains = shortest_paths(roots, edges)
        manifest = manifest_roots(path, read)
        root_name = manifest[0] if manifest else ""
        lines = _section_lines(text, "packages")
        out, resolved_lines = [], []
        for key, body in packages.items():
            body = body or {}
            name, version = parse_key(str(key))
            node = f"{name}@{version}"
            chain = chains.get(node)
            direct = chain is not None and len(chain) == 1
            via: tuple[str, ...] = ()
            if chain and not direct:
                via = tuple(
                    (root_name if c == "importer:." else c.removeprefix("importer:"))
                    if c.startswith("importer:")
                    else parse_key(c)[0]
                    for c in chain
                )
                via = tuple(v for v in via if v)
            res = body.get("resolution") or {}
            source, extra = "", {}
            if isinstance(res, dict):
                if res.get("tarball"):
                    source = str(res["tarball"])
                elif res.get("repo"):
                    source = f"git+{res['repo']}#{as_str(res.get('commit'))}"
                    extra["vcs_ref"] = as_str(res.get("commit"))
            line = lines.get(str(key), 0)
            if source.startswith(("http://", "https://")):
                resolved_lines.append((source, line))
            if body.get("dev") is True or (direct and dev_only.get(node)):
                extra["dev"] = True
            if chain is None:
                extra["unreachable"] = True
            if ":" in version or not version:
                extra["spec"] = version
                version = ""
            out.append(
                Package(
                    ecosystem=NPM,
                    name=as_str(body.get("name")) or name,
                    version=version or None,
                    path=path,
                    line=line,
                    direct=direct,
                    via=via,
                    source=source,
                    integrity=as_str(res.get("integrity")) if isinstance(res, dict) else "",
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
