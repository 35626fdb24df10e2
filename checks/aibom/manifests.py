"""Components a repository *states*: AI SDKs in dependency files, MCP servers in agent configs.

Dependency files are read with `packaging` (requirements, pyproject) and `json`; MCP configs with the
prompt-safety check's own parser (`checks.prompt_safety.mcp`: JSONC/JSON5 and TOML, every known shape), so
the AI-BOM and the check agree on what a server entry is. Nothing is fetched or started.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from checks.aibom import names
from checks.aibom.model import Component, Evidence, Kind, Strength

_RUNNERS = {"npx": "npm", "bunx": "npm", "pnpx": "npm", "uvx": "pypi", "pipx": "pypi"}


def is_requirements(path: str) -> bool:
    name = path.rsplit("/", 1)[-1].lower()
    return (name.startswith("requirements") and name.endswith((".txt", ".in"))) or \
        ("/requirements/" in f"/{path.lower()}" and name.endswith((".txt", ".in")))


def is_manifest(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return name in ("pyproject.toml", "package.json") or is_requirements(path)


def _line_of(text: str, needle: str) -> int:
    at = text.find(needle)
    return text.count("\n", 0, at) + 1 if at >= 0 else 0


def _pypi(path: str, text: str, requirement: str) -> Iterator[Component]:
    try:
        req = Requirement(requirement)
    except InvalidRequirement:
        return
    name = canonicalize_name(req.name)
    if name not in names.PYPI_SDKS:
        return
    spec = str(req.specifier) or None
    pinned = bool(spec) and len(req.specifier) == 1 and next(iter(req.specifier)).operator in ("==", "===") \
        and "*" not in (spec or "")
    ev = Evidence(path, _line_of(text, req.name), Strength.STATED, f"dependency {requirement.strip()[:80]}")
    yield Component(Kind.SDK, name, source="pypi", version=spec, pinned=pinned, evidence=[ev])
    provider = names.PYPI_SDKS[name]
    if provider:
        yield Component(Kind.PROVIDER, provider, source=provider, evidence=[ev])


def from_requirements(path: str, text: str) -> Iterator[Component]:
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        yield from _pypi(path, text, line)


def from_pyproject(path: str, text: str) -> Iterator[Component]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return
    project = data.get("project") or {}
    reqs: list[str] = list(project.get("dependencies") or [])
    for group in (project.get("optional-dependencies") or {}).values():
        reqs += list(group or [])
    for group in (data.get("dependency-groups") or {}).values():
        reqs += [r for r in group or [] if isinstance(r, str)]
    poetry = ((data.get("tool") or {}).get("poetry") or {})
    for table in (poetry.get("dependencies") or {}, *((g or {}).get("dependencies") or {}
                                                     for g in (poetry.get("group") or {}).values())):
        for name, spec in table.items():
            version = spec if isinstance(spec, str) else (spec or {}).get("version", "") \
                if isinstance(spec, Mapping) else ""
            reqs.append(f"{name}{_poetry_spec(version)}")
    for req in reqs:
        if isinstance(req, str):
            yield from _pypi(path, text, req)


def _poetry_spec(version: str) -> str:
    version = version.strip()
    if not version or version == "*":
        return ""
    if re.fullmatch(r"\d[\w.]*", version):
        return f"=={version}"
    return "" if version[0] in "^~" else version


def from_package_json(path: str, text: str) -> Iterator[Component]:
    try:
        data = json.loads(text)
    except ValueError:
        return
    if not isinstance(data, Mapping):
        return
    for section in ("dependencies", "devDependencies", "peerDependencies", "optionalDependencies"):
        block = data.get(section)
        if not isinstance(block, Mapping):
            continue
        for name, spec in block.items():
            if name not in names.NPM_SDKS:
                continue
            spec = str(spec)
            ev = Evidence(path, _line_of(text, f'"{name}"'), Strength.STATED, f"{section} {name} {spec}")
            pinned = re.fullmatch(r"v?\d+\.\d+\.\d+(?:[-+][\w.]+)?", spec) is not None
            yield Component(Kind.SDK, name, source="npm", version=spec, pinned=pinned, evidence=[ev])
            if names.NPM_SDKS[name]:
                provider = names.NPM_SDKS[name]
                yield Component(Kind.PROVIDER, provider, source=provider, evidence=[ev])


def from_manifest(path: str, text: str) -> Iterable[Component]:
    name = path.rsplit("/", 1)[-1]
    if name == "pyproject.toml":
        return from_pyproject(path, text)
    if name == "package.json":
        return from_package_json(path, text)
    return from_requirements(path, text)


# --- MCP servers ------------------------------------------------------------------------------------------
def _package(runner: str, args: list[str]) -> str | None:
    """The package a runner starts (`npx -y @scope/pkg@1.2.3 ...` -> `@scope/pkg@1.2.3`)."""
    take_next = {"-p", "--package", "--from"}
    skip_next = {"--with", "--python", "--registry", "--index-url"}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in take_next:
            return args[i + 1] if i + 1 < len(args) else None
        if arg in skip_next:
            i += 2
            continue
        if arg.startswith("-") or (runner == "docker" and arg == "run"):
            i += 1
            continue
        return arg
    return None


def describe_server(entry: Mapping[str, Any]) -> dict[str, Any]:
    """What starts or serves an MCP server: runner, package or image, URL, and whether it is pinned."""
    from checks.prompt_safety.mcp import unpinned

    url = entry.get("url") or entry.get("serverUrl") or entry.get("httpUrl") or entry.get("uri")
    if isinstance(url, str) and url:
        return {"transport": str(entry.get("type") or "http"), "url": url, "pinned": None}
    command = entry.get("command")
    if not isinstance(command, str) or not command:
        return {"transport": "unknown", "pinned": None}
    args = [str(a) for a in entry.get("args") or [] if isinstance(a, str | int | float)]
    runner = command.rsplit("/", 1)[-1].removesuffix(".cmd").removesuffix(".exe").lower()
    out: dict[str, Any] = {"transport": "stdio", "command": command, "args": args}
    if runner in _RUNNERS or runner in ("docker", "podman"):
        package = _package("docker" if runner == "podman" else runner, args)
        if package:
            out["package"] = package
            out["ecosystem"] = _RUNNERS.get(runner, "docker")
        why = unpinned(command, args)
        out["pinned"] = why is None
        if why:
            out["unpinned_reason"] = why
    else:
        out["pinned"] = None  # a local program or script: pinned by the repository itself
    return out


def from_mcp_config(path: str, text: str) -> Iterator[Component]:
    from checks.prompt_safety.mcp import Locator, parse, servers

    try:
        data = parse(path, text)
    except ValueError:
        return
    loc = Locator(text)
    for name, entry in servers(data):
        info = describe_server(entry)
        line = loc.line(f'"{name}"') or loc.line(name)
        runner = info.get("command", "").rsplit("/", 1)[-1]
        what = info.get("url") or " ".join(x for x in (runner, info.get("package", "")) if x) or "?"
        ev = Evidence(path, line, Strength.STATED, f"MCP server {name}: {what}")
        yield Component(Kind.MCP_SERVER, name, source=path, version=_version_of(info.get("package")),
                        pinned=info.get("pinned"), attrs={k: v for k, v in info.items() if k != "pinned"},
                        evidence=[ev])


def _version_of(package: str | None) -> str | None:
    if not package:
        return None
    for sep in ("==", "@sha256:", "@"):
        head, found, tail = package[1:].rpartition(sep) if sep == "@" else package.rpartition(sep)
        if found and head:
            return tail
    tag = package.rsplit("/", 1)[-1].partition(":")[2]
    return tag or None
