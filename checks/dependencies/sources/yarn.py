"""`yarn.lock`: Yarn classic (v1, its own indented format) and Yarn berry (v2+, YAML with `__metadata`).

Classic is read by a small line parser (the format has no maintained Python reader; it is a flat list of
`"spec", spec:` headers with indented `version`/`resolved`/`integrity`/`dependencies`); berry is read with
the YAML library. Each entry's header line is its line; the graph is the entries' `dependencies`, resolved
through the `name@range` specs each header lists. Direct dependencies come from berry's workspace entries or
the sibling package.json.
"""

from __future__ import annotations

import posixpath
import re

from checks.dependencies.model import NPM, Package, Parsed, ParseError, ReadSibling
from checks.dependencies.sources._common import as_str, decode, expect, guarded, load_yaml, shortest_paths
from checks.dependencies.sources.npm_lock import registries
from checks.dependencies.sources.npm_manifest import manifest_roots, spec_info

_KV = re.compile(r'^\s+("?)([^"\s]+|[^"]+)\1:?\s+"?([^"]*)"?\s*$')


def split_spec(spec: str) -> tuple[str, str]:
    """`@scope/name@^1.0` → ("@scope/name", "^1.0"); `name@npm:^1` → ("name", "npm:^1")."""
    spec = spec.strip().strip('"')
    at = spec.find("@", 1)
    return (spec, "") if at < 0 else (spec[:at], spec[at + 1 :])


def _classic(text: str) -> list[dict]:
    """Entries of a classic yarn.lock: {specs, line, version, resolved, integrity, deps}."""
    entries: list[dict] = []
    cur: dict | None = None
    section = ""
    for no, raw in enumerate(text.splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        if indent == 0:
            if not raw.endswith(":"):
                raise ParseError("entry header does not end with ':'", no)
            specs = [s.strip().strip('"') for s in raw[:-1].split(",")]
            cur = {"specs": specs, "line": no, "deps": {}}
            entries.append(cur)
            section = ""
            continue
        if cur is None:
            raise ParseError("indented line before any entry", no)
        if indent == 2:
            body = raw.strip()
            if body.endswith(":"):
                section = body[:-1]
                continue
            section = ""
            key, _, value = body.partition(" ")
            cur[key.strip('"')] = value.strip().strip('"')
        elif indent >= 4 and section:
            m = _KV.match(raw)
            if not m:
                raise ParseError("unreadable dependency line", no)
            if section in ("dependencies", "optionalDependencies"):
                cur["deps"][m.group(2)] = m.group(3)
        else:
            raise ParseError("unexpected indentation", no)
    return entries


def _berry(text: str) -> list[dict]:
    doc = load_yaml(text)
    expect(isinstance(doc, dict), "yarn.lock is not a mapping")
    header_lines: dict[str, int] = {}
    for no, raw in enumerate(text.splitlines(), 1):
        if raw and not raw[0].isspace() and raw.rstrip().endswith(":") and not raw.startswith("#"):
            header_lines.setdefault(raw.rstrip()[:-1].strip('"'), no)
    entries = []
    for key, body in doc.items():
        if key == "__metadata":
            continue
        expect(isinstance(body, dict), f"entry {key!r} is not a mapping", header_lines.get(key))
        deps = {**(body.get("dependencies") or {}), **(body.get("optionalDependencies") or {})}
        resolution = as_str(body.get("resolution"))
        entries.append(
            {
                "specs": [s.strip() for s in str(key).split(",")],
                "line": header_lines.get(str(key), 0),
                "version": str(body.get("version", "")),
                "resolved": split_spec(resolution)[1],
                "integrity": as_str(body.get("checksum")),
                "deps": {k: str(v) for k, v in deps.items()},
                "workspace": "@workspace:" in resolution,
                "resolution": resolution,
            }
        )
    return entries


class YarnLockSource:
    ecosystem = NPM
    format = "yarn.lock"

    def matches(self, path: str) -> bool:
        return posixpath.basename(path) == "yarn.lock"

    @guarded
    def parse(self, path: str, data: bytes, read: ReadSibling) -> Parsed:
        text = decode(data)
        berry = "__metadata:" in text[:4096]
        entries = _berry(text) if berry else _classic(text)
        by_spec: dict[str, int] = {}
        for i, e in enumerate(entries):
            for spec in e["specs"]:
                by_spec[spec] = i
        edges: dict[str, list[str]] = {}
        for i, e in enumerate(entries):
            targets = []
            for dep, rng in e["deps"].items():
                j = by_spec.get(f"{dep}@{rng}")
                if j is None and berry and ":" not in rng:
                    j = by_spec.get(f"{dep}@npm:{rng}")
                if j is not None:
                    targets.append(str(j))
            edges[str(i)] = targets
        roots = [str(i) for i, e in enumerate(entries) if e.get("workspace")]
        root_name = ""  # appended to paths when the roots are not entries themselves (berry workspaces are)
        if not roots:
            manifest = manifest_roots(path, read)
            if manifest is not None:
                root_name = manifest[0]
                for dep, rng in manifest[1].items():
                    j = by_spec.get(f"{dep}@{rng}", by_spec.get(f"{dep}@npm:{rng}"))
                    if j is not None:
                        roots.append(f"r{j}")
                        edges[f"r{j}"] = [str(j)]
            else:
                depended = {t for ts in edges.values() for t in ts}
                roots = [f"r{i}" for i in range(len(entries)) if str(i) not in depended]
                for r in roots:
                    edges[r] = [r[1:]]
        chains = shortest_paths(roots, edges)
        names = {str(i): split_spec(e["specs"][0])[0] for i, e in enumerate(entries)}
        packages, resolved_lines = [], []
        for i, e in enumerate(entries):
            if e.get("workspace"):
                continue
            chain = chains.get(str(i))
            direct = chain is not None and len(chain) == 1
            via: tuple[str, ...] = ()
            if chain and not direct:
                via = tuple(names[k] for k in chain if not k.startswith("r"))
                via += (root_name,) if root_name else ()
            name, spec = split_spec(e["specs"][0])
            resolved = as_str(e.get("resolved"))
            lock_name, _, source, extra = spec_info(name, spec)
            if resolved and not resolved.startswith("npm:"):
                source = resolved
                if resolved.startswith(("http://", "https://")):
                    resolved_lines.append((resolved, e["line"]))
            if chain is None:
                extra["unreachable"] = True
            version = as_str(e.get("version")) or None
            if version and ("/" in version or ":" in version):
                version = None
            packages.append(
                Package(
                    ecosystem=NPM,
                    name=lock_name,
                    version=version,
                    path=path,
                    line=e["line"],
                    direct=direct,
                    via=via,
                    spec=", ".join(e["specs"]),
                    source=source,
                    integrity=as_str(e.get("integrity")),
                    extra=extra,
                )
            )
        return Parsed(
            path=path,
            ecosystem=NPM,
            packages=tuple(packages),
            settings=tuple(registries(iter(resolved_lines))),
            lockfile=True,
        )
