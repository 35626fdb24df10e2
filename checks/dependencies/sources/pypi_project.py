"""`pyproject.toml`: PEP 621 `[project]` dependencies (and optional ones), PEP 735 `[dependency-groups]`,
Poetry's `[tool.poetry.*dependencies]` tables and package sources (`[[tool.poetry.source]]`,
`[[tool.uv.index]]`).

TOML is read with `tomllib`, PEP 508 strings with `packaging`; the line of each requirement is found by one
pass over the file's lines (its string or its key).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

from packaging.requirements import InvalidRequirement, Requirement

from checks.dependencies.model import PYPI, Package, Parsed, ParseError, ReadSibling, Setting
from checks.dependencies.sources._common import (
    decode,
    guarded,
    load_toml,
    string_lines,
    toml_key_lines,
)
from checks.dependencies.sources.pypi_requirements import pinned_version, vcs_ref


def pep508_package(text: str, path: str, line: int, extra: dict[str, object] | None = None) -> Package:
    """A Package from one PEP 508 string (`name[extras] spec ; markers` or `name @ url`)."""
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        raise ParseError(f"invalid requirement {text!r}: {exc}", line) from None
    info: dict[str, object] = dict(extra or {})
    if req.marker:
        info["markers"] = str(req.marker)
    if req.extras:
        info["extras"] = sorted(req.extras)
    spec = str(req.specifier)
    if req.url:
        if req.url.startswith(("git+", "hg+", "svn+", "bzr+")):
            info["vcs_ref"] = vcs_ref(req.url)
        if "sha256=" in req.url:
            info["url_hash"] = "sha256:" + req.url.split("sha256=", 1)[1].split("&", 1)[0]
    return Package(
        ecosystem=PYPI,
        name=req.name,
        version=None if req.url else pinned_version(spec),
        path=path,
        line=line,
        direct=True,
        spec=spec,
        source=req.url or "",
        extra=info,
    )


def _poetry_spec(value: object) -> tuple[str, str, dict[str, object]]:
    """(spec, source, extra) of a Poetry dependency value: "^1.2", {version=…}, {git=…, rev=…}, {url=…}."""
    if isinstance(value, str):
        return value, "", {}
    if isinstance(value, list):  # multiple-constraint form: take the first entry's shape
        return _poetry_spec(value[0]) if value else ("", "", {})
    if not isinstance(value, dict):
        raise ParseError(f"unreadable Poetry dependency {value!r}")
    extra: dict[str, object] = {}
    if value.get("optional"):
        extra["optional"] = True
    if value.get("markers"):
        extra["markers"] = str(value["markers"])
    if value.get("source"):
        extra["index"] = str(value["source"])
    if value.get("git"):
        ref = value.get("rev") or value.get("tag") or value.get("branch") or ""
        extra["vcs_ref"] = str(ref)
        return "", f"git+{value['git']}" + (f"@{ref}" if ref else ""), extra
    if value.get("url"):
        return "", str(value["url"]), extra
    if value.get("path"):
        extra["local"] = True
        return "", str(value["path"]), extra
    return str(value.get("version", "")), "", extra


def _poetry_version(spec: str) -> str | None:
    """Poetry reads a bare version ("1.2.3") as exact, like `==1.2.3`."""
    s = spec.strip()
    if s and s[0].isdigit() and all(c.isalnum() or c in ".-+" for c in s) and "*" not in s:
        return s
    return pinned_version(s) if s.startswith("==") else None


class PyprojectSource:
    ecosystem = PYPI
    format = "pyproject.toml"

    def matches(self, path: str) -> bool:
        return posixpath.basename(path) == "pyproject.toml"

    @guarded
    def parse(self, path: str, data: bytes, read: ReadSibling) -> Parsed:
        text = decode(data)
        doc = load_toml(text)
        keys = toml_key_lines(text)
        strings = string_lines(text)
        used: dict[str, int] = {}

        def line_of(req: str) -> int:
            lines = strings.get(req) or [0]
            i = used.get(req, 0)
            used[req] = i + 1
            return lines[min(i, len(lines) - 1)]

        packages = list(self._pep621(doc, path, line_of))
        packages.extend(self._poetry(doc, path, keys))
        return Parsed(
            path=path,
            ecosystem=PYPI,
            packages=tuple(packages),
            settings=tuple(self._settings(doc, keys)),
            lockfile=False,
        )

    @staticmethod
    def _pep621(doc: dict, path: str, line_of) -> Iterator[Package]:
        project = doc.get("project") or {}
        if not isinstance(project, dict):
            raise ParseError("[project] is not a table")
        groups: list[tuple[str, object]] = [("", project.get("dependencies") or [])]
        for name, reqs in (project.get("optional-dependencies") or {}).items():
            groups.append((f"extra:{name}", reqs))
        for name, reqs in (doc.get("dependency-groups") or {}).items():
            groups.append((f"group:{name}", reqs))
        for group, reqs in groups:
            if not isinstance(reqs, list):
                raise ParseError(f"dependencies of {group or '[project]'} are not a list")
            for req in reqs:
                if isinstance(req, dict):  # PEP 735 {include-group = "…"}
                    continue
                if not isinstance(req, str):
                    raise ParseError(f"requirement {req!r} is not a string")
                extra: dict[str, object] = {"group": group} if group else {}
                if group.startswith("group:dev") or group == "extra:dev":
                    extra["dev"] = True
                yield pep508_package(req, path, line_of(req), extra)

    @staticmethod
    def _poetry(doc: dict, path: str, keys: dict[tuple[str, str], int]) -> Iterator[Package]:
        poetry = (doc.get("tool") or {}).get("poetry") or {}
        tables: list[tuple[str, str, object]] = [
            ("tool.poetry.dependencies", "", poetry.get("dependencies") or {}),
            ("tool.poetry.dev-dependencies", "dev", poetry.get("dev-dependencies") or {}),
        ]
        for group, body in (poetry.get("group") or {}).items():
            deps = (body or {}).get("dependencies") or {}
            tables.append((f"tool.poetry.group.{group}.dependencies", group, deps))
        for table, group, deps in tables:
            if not isinstance(deps, dict):
                raise ParseError(f"[{table}] is not a table")
            for name, value in deps.items():
                if name.lower() == "python":
                    continue
                spec, source, extra = _poetry_spec(value)
                if group:
                    extra["group"] = group
                    extra["dev"] = group in ("dev", "test", "tests", "lint", "docs")
                yield Package(
                    ecosystem=PYPI,
                    name=name,
                    version=None if source else _poetry_version(spec),
                    path=path,
                    line=keys.get((table, name), 0),
                    direct=True,
                    spec=spec,
                    source=source,
                    extra=extra,
                )

    @staticmethod
    def _settings(doc: dict, keys: dict[tuple[str, str], int]) -> Iterator[Setting]:
        tool = doc.get("tool") or {}
        for src in (tool.get("poetry") or {}).get("source") or []:
            if isinstance(src, dict) and src.get("url"):
                yield Setting("registry", str(src["url"]), keys.get(("tool.poetry.source", "url"), 0))
        for idx in (tool.get("uv") or {}).get("index") or []:
            if isinstance(idx, dict) and idx.get("url"):
                yield Setting("registry", str(idx["url"]), keys.get(("tool.uv.index", "url"), 0))
