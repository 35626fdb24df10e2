"""Python lockfiles: `poetry.lock`, `uv.lock`, `Pipfile.lock` and PEP 751 `pylock.toml`.

Each is TOML or JSON read with the standard library; entry lines come from one pass over the text
(`[[package]]` headers, JSON keys). The dependency graph each records gives the path from a direct
dependency (BFS); which packages are direct comes from the lockfile's root (uv) or the sibling manifest
(`pyproject.toml`, `Pipfile`) read through the `read` callback, else from "nobody depends on it".
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable

from checks.dependencies.model import PYPI, Package, Parsed, ParseError, ReadSibling, Setting, normalise_name
from checks.dependencies.sources._common import (
    as_dict,
    as_str,
    decode,
    expect,
    guarded,
    json_key_lines,
    load_json,
    load_toml,
    shortest_paths,
    toml_array,
    url_origin,
)


def _n(name: str) -> str:
    return normalise_name(PYPI, name)


def _sibling(path: str, name: str) -> str:
    return posixpath.join(posixpath.dirname(path), name)


def _manifest_direct(path: str, read: ReadSibling) -> set[str] | None:
    """Normalised names the sibling pyproject.toml declares, or None when there is none."""
    from checks.dependencies.sources.pypi_project import PyprojectSource

    target = _sibling(path, "pyproject.toml")
    blob = read(target)
    if blob is None:
        return None
    try:
        parsed = PyprojectSource().parse(target, blob, read)
    except ParseError:
        return None
    return {_n(p.name) for p in parsed.packages}


def _graph_packages(
    path: str,
    entries: list[dict],
    lines: list[int],
    edges: dict[str, list[str]],
    direct: Iterable[str],
    root_name: str = "",
) -> list[Package]:
    """Packages with direct/via from the normalised-name graph (entries carry `_name`, `_pkg` kwargs)."""
    direct = set(direct)
    chains = shortest_paths(sorted(direct), edges)
    names = {e["_name"]: e["name"] for e in entries}
    out = []
    for entry, line in zip(entries, lines, strict=True):
        key = entry["_name"]
        chain = chains.get(key)
        via: tuple[str, ...] = ()
        if chain:
            via = tuple(names.get(k, k) for k in chain) + ((root_name,) if root_name else ())
        extra = dict(entry.get("_extra", {}))
        if chain is None:
            extra["unreachable"] = True
        out.append(Package(path=path, line=line, direct=key in direct, via=via, extra=extra, **entry["_pkg"]))
    return out


class PoetryLockSource:
    ecosystem = PYPI
    format = "poetry.lock"

    def matches(self, path: str) -> bool:
        return posixpath.basename(path) == "poetry.lock"

    @guarded
    def parse(self, path: str, data: bytes, read: ReadSibling) -> Parsed:
        items, lines = toml_array(data, "package")
        entries, edges, sources = [], {}, []
        for item, line in zip(items, lines, strict=True):
            expect(
                isinstance(item, dict) and "name" in item and "version" in item, "entry without name", line
            )
            key = _n(str(item["name"]))
            src = item.get("source") or {}
            source = ""
            extra: dict[str, object] = {}
            if src:
                kind, url = as_str(src.get("type")), as_str(src.get("url"))
                ref = as_str(src.get("resolved_reference") or src.get("reference"))
                source = f"{kind}+{url}" if kind in ("git", "hg") else url
                if kind in ("git", "hg"):
                    extra["vcs_ref"] = ref
                elif kind == "legacy":
                    sources.append(Setting("registry", url, line))
            hashes = [as_str(f.get("hash")) for f in item.get("files") or [] if isinstance(f, dict)]
            if hashes:
                extra["hashes"] = hashes
            if item.get("category") == "dev" or item.get("groups") == ["dev"]:
                extra["dev"] = True
            if item.get("optional"):
                extra["optional"] = True
            edges[key] = [_n(d) for d in (item.get("dependencies") or {})]
            for deps in (item.get("extras") or {}).values():
                edges[key].extend(_n(d.split()[0]) for d in deps if isinstance(d, str) and d.strip())
            pkg = {
                "ecosystem": PYPI,
                "name": str(item["name"]),
                "version": str(item["version"]),
                "source": source,
                "integrity": " ".join(hashes),
            }
            entries.append({"_name": key, "name": str(item["name"]), "_pkg": pkg, "_extra": extra})
        direct = _manifest_direct(path, read)
        if direct is None:
            depended = {d for ds in edges.values() for d in ds}
            direct = {e["_name"] for e in entries} - depended
        packages = _graph_packages(path, entries, lines, edges, direct)
        return Parsed(
            path=path, ecosystem=PYPI, packages=tuple(packages), settings=tuple(sources), lockfile=True
        )


class UvLockSource:
    ecosystem = PYPI
    format = "uv.lock"

    def matches(self, path: str) -> bool:
        return posixpath.basename(path) == "uv.lock"

    @guarded
    def parse(self, path: str, data: bytes, read: ReadSibling) -> Parsed:
        items, lines = toml_array(data, "package")
        roots: list[tuple[str, str]] = []
        entries, kept_lines, edges, registries = [], [], {}, {}
        for item, line in zip(items, lines, strict=True):
            expect(isinstance(item, dict) and "name" in item, "entry without name or version", line)
            key = _n(str(item["name"]))
            src = as_dict(item.get("source") or {}, "source")
            deps = [d.get("name") for d in item.get("dependencies") or [] if isinstance(d, dict)]
            for group in (item.get("optional-dependencies") or {}, item.get("dev-dependencies") or {}):
                for ds in group.values():
                    deps.extend(d.get("name") for d in ds if isinstance(d, dict))
            edges[key] = [_n(d) for d in deps if isinstance(d, str)]
            if "editable" in src or "virtual" in src or ("directory" in src and src["directory"] == "."):
                roots.append((key, str(item["name"])))
                continue
            extra: dict[str, object] = {}
            source = ""
            if "registry" in src:
                source = as_str(src["registry"])
                registries.setdefault(url_origin(source) or source, line)
            elif "git" in src:
                source = "git+" + as_str(src["git"])
                extra["vcs_ref"] = source.rsplit("#", 1)[1] if "#" in source else ""
            elif "url" in src:
                source = as_str(src["url"])
            else:
                source = as_str(src.get("path") or src.get("directory"))
                extra["local"] = True
            hashes = [as_str(w.get("hash")) for w in [item.get("sdist") or {}, *(item.get("wheels") or [])]]
            hashes = [h for h in hashes if h]
            if hashes:
                extra["hashes"] = hashes
            pkg = {
                "ecosystem": PYPI,
                "name": str(item["name"]),
                "version": as_str(item.get("version")) or None,
                "source": source,
                "integrity": " ".join(hashes),
            }
            entries.append({"_name": key, "name": str(item["name"]), "_pkg": pkg, "_extra": extra})
            kept_lines.append(line)
        direct = {d for key, _ in roots for d in edges.get(key, [])}
        if not roots:
            direct = {e["_name"] for e in entries} - {d for ds in edges.values() for d in ds}
        root_name = roots[0][1] if len(roots) == 1 else ""
        packages = _graph_packages(path, entries, kept_lines, edges, direct, root_name)
        settings = [Setting("registry", origin, line) for origin, line in registries.items()]
        return Parsed(
            path=path, ecosystem=PYPI, packages=tuple(packages), settings=tuple(settings), lockfile=True
        )


class PipfileLockSource:
    ecosystem = PYPI
    format = "Pipfile.lock"

    def matches(self, path: str) -> bool:
        return posixpath.basename(path) == "Pipfile.lock"

    @guarded
    def parse(self, path: str, data: bytes, read: ReadSibling) -> Parsed:
        text = decode(data)
        doc = as_dict(load_json(text), "Pipfile.lock")
        lines = json_key_lines(text, depth=2)
        direct = self._pipfile_direct(path, read)
        settings = []
        for i, src in enumerate((as_dict(doc.get("_meta") or {}, "_meta").get("sources")) or []):
            if isinstance(src, dict) and src.get("url"):
                line = lines.get(("_meta", "sources"), 1)
                settings.append(Setting("index-url" if i == 0 else "extra-index-url", str(src["url"]), line))
                if src.get("verify_ssl") is False:
                    settings.append(Setting("trusted-host", url_origin(str(src["url"])), line))
        packages = []
        for section in ("default", "develop"):
            for name, entry in as_dict(doc.get(section) or {}, section).items():
                line = lines.get((section, name), 1)
                expect(isinstance(entry, dict), f"{section}.{name} is not an object", line)
                spec = as_str(entry.get("version"))
                extra: dict[str, object] = {}
                hashes = [h for h in entry.get("hashes") or [] if isinstance(h, str)]
                if hashes:
                    extra["hashes"] = hashes
                if entry.get("markers"):
                    extra["markers"] = str(entry["markers"])
                if section == "develop":
                    extra["dev"] = True
                if entry.get("index"):
                    extra["index"] = str(entry["index"])
                source = ""
                if entry.get("git"):
                    source = "git+" + str(entry["git"])
                    extra["vcs_ref"] = as_str(entry.get("ref"))
                elif entry.get("file"):
                    source = str(entry["file"])
                version = spec[2:] if spec.startswith("==") and "*" not in spec else None
                packages.append(
                    Package(
                        ecosystem=PYPI,
                        name=name,
                        version=version,
                        path=path,
                        line=line,
                        direct=True if direct is None else _n(name) in direct,
                        spec=spec,
                        source=source,
                        integrity=" ".join(hashes),
                        extra=extra,
                    )
                )
        return Parsed(
            path=path, ecosystem=PYPI, packages=tuple(packages), settings=tuple(settings), lockfile=True
        )

    @staticmethod
    def _pipfile_direct(path: str, read: ReadSibling) -> set[str] | None:
        blob = read(_sibling(path, "Pipfile"))
        if blob is None:
            return None
        try:
            doc = load_toml(decode(blob))
        except ParseError:
            return None
        return {_n(n) for s in ("packages", "dev-packages") for n in (doc.get(s) or {})}


class PylockSource:
    """PEP 751 `pylock.toml` / `pylock.<name>.toml`."""

    ecosystem = PYPI
    format = "pylock.toml"

    def matches(self, path: str) -> bool:
        base = posixpath.basename(path)
        return base == "pylock.toml" or (base.startswith("pylock.") and base.endswith(".toml"))

    @guarded
    def parse(self, path: str, data: bytes, read: ReadSibling) -> Parsed:
        items, lines = toml_array(data, "packages")
        entries, edges, registries = [], {}, {}
        for item, line in zip(items, lines, strict=True):
            expect(isinstance(item, dict) and "name" in item, "entry without name or version", line)
            key = _n(str(item["name"]))
            edges[key] = [
                _n(d["name"]) for d in item.get("dependencies") or [] if isinstance(d, dict) and "name" in d
            ]
            extra: dict[str, object] = {}
            source = as_str(item.get("index"))
            if source:
                registries.setdefault(url_origin(source) or source, line)
            vcs = item.get("vcs") or {}
            hashes: list[str] = []
            if vcs:
                source = f"{as_str(vcs.get('type')) or 'git'}+{as_str(vcs.get('url'))}"
                extra["vcs_ref"] = as_str(vcs.get("commit-id") or vcs.get("requested-revision"))
            for art in [item.get("archive") or {}, item.get("sdist") or {}, *(item.get("wheels") or [])]:
                if isinstance(art, dict):
                    hashes.extend(f"{k}:{v}" for k, v in (art.get("hashes") or {}).items())
                    if art is item.get("archive") and art.get("url"):
                        source = str(art["url"])
            if hashes:
                extra["hashes"] = hashes
            if item.get("marker"):
                extra["markers"] = str(item["marker"])
            pkg = {
                "ecosystem": PYPI,
                "name": str(item["name"]),
                "version": as_str(item.get("version")) or None,
                "source": source,
                "integrity": " ".join(hashes),
            }
            entries.append({"_name": key, "name": str(item["name"]), "_pkg": pkg, "_extra": extra})
        direct = _manifest_direct(path, read)
        if direct is None:
            direct = {e["_name"] for e in entries} - {d for ds in edges.values() for d in ds}
        packages = _graph_packages(path, entries, lines, edges, direct)
        settings = [Setting("registry", origin, line) for origin, line in registries.items()]
        return Parsed(
            path=path, ecosystem=PYPI, packages=tuple(packages), settings=tuple(settings), lockfile=True
        )
