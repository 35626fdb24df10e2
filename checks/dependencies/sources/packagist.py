"""`composer.lock` (Packagist), read with `json`.

`packages` and `packages-dev` list every installed package with its `require` map (the graph); the direct
ones come from the sibling composer.json, else from "nobody requires it". Lines: each entry's
`"name": "vendor/package"` key, found by one forward scan (entries appear in document order).
"""

from __future__ import annotations

import json
import posixpath
import re

from checks.dependencies.model import PACKAGIST, Package, Parsed, ReadSibling, Setting, normalise_name
from checks.dependencies.sources._common import (
    as_dict,
    as_str,
    decode,
    expect,
    guarded,
    load_json,
    shortest_paths,
)

_NAME_LINE = re.compile(r'^\s*"name"\s*:\s*"([^"]+)"', re.MULTILINE)


def _platform(name: str) -> bool:
    """php, ext-*, lib-*, composer-* requirements are the platform, not packages."""
    return "/" not in name


def _version(raw: str) -> str | None:
    if raw.startswith("dev-") or raw.endswith("-dev"):
        return None
    return raw[1:] if raw[:1] in "vV" and raw[1:2].isdigit() else raw


class ComposerLockSource:
    ecosystem = PACKAGIST
    format = "composer.lock"

    def matches(self, path: str) -> bool:
        return posixpath.basename(path) == "composer.lock"

    @guarded
    def parse(self, path: str, data: bytes, read: ReadSibling) -> Parsed:
        text = decode(data)
        doc = as_dict(load_json(text), "composer.lock")
        entries: list[tuple[dict, bool]] = []
        for section, dev in (("packages", False), ("packages-dev", True)):
            items = doc.get(section) or []
            expect(isinstance(items, list), f"`{section}` is not an array")
            for item in items:
                expect(
                    isinstance(item, dict) and isinstance(item.get("name"), str),
                    f"{section} entry without name",
                )
                entries.append((item, dev))
        name_lines: dict[str, list[int]] = {}
        line, last = 1, 0
        for m in _NAME_LINE.finditer(text):
            line += text.count("\n", last, m.start())
            last = m.start()
            name_lines.setdefault(m.group(1).lower(), []).append(line)
        edges = {
            e["name"].lower(): [r.lower() for r in (e.get("require") or {}) if not _platform(r)]
            for e, _ in entries
        }
        direct = self._manifest(path, read)
        if direct is None:
            required = {r for rs in edges.values() for r in rs}
            direct = {n for n in edges if n not in required}
        chains = shortest_paths(sorted(direct), edges)
        names = {e["name"].lower(): e["name"] for e, _ in entries}
        registries: dict[str, int] = {}
        out = []
        for item, dev in entries:
            key = item["name"].lower()
            line = (name_lines.get(key) or [1])[0]
            src = item.get("source") if isinstance(item.get("source"), dict) else {}
            dist = item.get("dist") if isinstance(item.get("dist"), dict) else {}
            extra: dict[str, object] = {"dev": True} if dev else {}
            source = as_str(dist.get("url")) or as_str(src.get("url"))
            if src.get("type") == "git" and not dist:
                source = f"git+{as_str(src.get('url'))}"
                extra["vcs_ref"] = as_str(src.get("reference"))
            if isinstance(item.get("notification-url"), str):
                registries.setdefault(item["notification-url"].split("/downloads")[0], line)
            chain = chains.get(key)
            if chain is None:
                extra["unreachable"] = True
            raw = as_str(item.get("version"))
            out.append(
                Package(
                    ecosystem=PACKAGIST,
                    name=item["name"],
                    version=_version(raw),
                    path=path,
                    line=line,
                    direct=chain == (),
                    via=tuple(names.get(c, c) for c in chain or ()),
                    spec=raw,
                    source=source,
                    integrity=as_str(dist.get("shasum")),
                    extra=extra,
                )
            )
        settings = [Setting("registry", url, line) for url, line in registries.items()]
        return Parsed(
            path=path, ecosystem=PACKAGIST, packages=tuple(out), settings=tuple(settings), lockfile=True
        )

    @staticmethod
    def _manifest(path: str, read: ReadSibling) -> set[str] | None:
        blob = read(posixpath.join(posixpath.dirname(path), "composer.json"))
        if blob is None:
            return None
        try:
            doc = json.loads(blob.decode("utf-8-sig"))
        except (ValueError, UnicodeDecodeError, RecursionError):
            return None
        if not isinstance(doc, dict):
            return None
        return {
            normalise_name(PACKAGIST, n)
            for f in ("require", "require-dev")
            for n in (doc.get(f) or {})
            if not _platform(n)
        }
