"""`package.json`: the direct npm dependencies a project declares, with the spec as written.

Git, GitHub-shorthand and tarball specs are kept as the package's `source` (the tampering rules need them);
only a plain exact version (`1.2.3`) counts as a pinned version.
"""

from __future__ import annotations

import json
import posixpath
import re
from urllib.parse import urlsplit

from checks.dependencies.model import NPM, Package, Parsed, ParseError, ReadSibling, Setting
from checks.dependencies.sources._common import as_dict, as_str, decode, guarded, json_key_lines, load_json

DEP_FIELDS = ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies")
_EXACT = re.compile(r"^=?v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)$")
_GIT_SHORTHAND = re.compile(r"^(github|gitlab|bitbucket|gist):|^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(#.*)?$")
_SHA = re.compile(r"^[0-9a-f]{40}$")


def spec_info(name: str, spec: str) -> tuple[str, str | None, str, dict[str, object]]:
    """(name, exact version or None, source, extra) of an npm dependency spec.

    `npm:real@1.0.0` aliases name the real package; git/GitHub/tarball/file specs give a source and
    `extra["vcs_ref"]` (the `#ref`, "" when none) or `extra["url"]`.
    """
    spec = spec.strip()
    extra: dict[str, object] = {}
    if spec.startswith("npm:"):
        body = spec[4:]
        at = body.find("@", 1)
        if at < 0:  # yarn berry's `npm:^1.2.0`: the registry protocol, not an alias
            spec = body
        else:
            real, rng = body[:at], body[at + 1 :]
            m = _EXACT.match(rng)
            return real, m.group(1) if m else None, "", {"alias": name} if real != name else {}
    if spec.startswith(("git+", "git:", "git@")) or _GIT_SHORTHAND.match(spec):
        ref = urlsplit(spec).fragment if "#" in spec else ""
        extra["vcs_ref"] = ref
        extra["vcs_pinned"] = bool(_SHA.match(ref))
        return name, None, spec, extra
    if spec.startswith(("http://", "https://")):
        extra["url"] = True
        return name, None, spec, extra
    if spec.startswith(("file:", "link:", "workspace:", "portal:", "./", "../", "/")):
        extra["local"] = True
        return name, None, spec, extra
    m = _EXACT.match(spec)
    return name, m.group(1) if m else None, "", extra


class PackageJsonSource:
    ecosystem = NPM
    format = "package.json"

    def matches(self, path: str) -> bool:
        return posixpath.basename(path) == "package.json" and "/node_modules/" not in f"/{path}"

    @guarded
    def parse(self, path: str, data: bytes, read: ReadSibling) -> Parsed:
        text = decode(data)
        doc = as_dict(load_json(text), "package.json")
        lines = json_key_lines(text, scalars=True, depth=2)
        packages = []
        for field in DEP_FIELDS:
            deps = as_dict(doc.get(field) or {}, field)
            for dep, spec in deps.items():
                line = lines.get((field, dep), 1)
                if not isinstance(spec, str):
                    raise ParseError(f"{field}.{dep} is not a string", line)
                name, version, source, extra = spec_info(dep, spec)
                if field != "dependencies":
                    extra[
                        {"devDependencies": "dev", "optionalDependencies": "optional"}.get(field, "peer")
                    ] = True
                packages.append(
                    Package(
                        ecosystem=NPM,
                        name=name,
                        version=version,
                        path=path,
                        line=line,
                        direct=True,
                        spec=spec,
                        source=source,
                        extra=extra,
                    )
                )
        settings = []
        registry = (
            as_str((doc.get("publishConfig") or {}).get("registry"))
            if isinstance(doc.get("publishConfig"), dict)
            else ""
        )
        if registry:
            settings.append(Setting("registry", registry, lines.get(("publishConfig", "registry"), 1)))
        return Parsed(path=path, ecosystem=NPM, packages=tuple(packages), settings=tuple(settings))


def manifest_roots(path: str, read: ReadSibling) -> tuple[str, dict[str, str]] | None:
    """(project name, {dependency: spec}) of the package.json beside a lockfile, else None."""

    blob = read(posixpath.join(posixpath.dirname(path), "package.json"))
    if blob is None:
        return None
    try:
        doc = json.loads(blob.decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(doc, dict):
        return None
    deps: dict[str, str] = {}
    for field in DEP_FIELDS:
        if isinstance(doc.get(field), dict):
            deps.update({k: v for k, v in doc[field].items() if isinstance(v, str)})
    return as_str(doc.get("name")), deps
