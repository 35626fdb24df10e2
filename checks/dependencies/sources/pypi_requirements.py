"""pip requirements files (`requirements*.txt`, `*.in`), parsed with `pip-requirements-parser`.

That library is pip's own requirements-file grammar (line continuations, options, hashes, markers, editable
and URL requirements) lifted out of pip, so nothing is resolved or installed. `-r`/`-c` includes are followed
here, through the `read` callback, only to paths inside the repository and each file once.
"""

from __future__ import annotations

import optparse
import os
import posixpath
import re
import shlex
import tempfile
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import pip_requirements_parser as prp
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from checks.dependencies.model import PYPI, Package, Parsed, ParseError, ReadSibling, Setting
from checks.dependencies.sources._common import decode, guarded

_NAME = re.compile(
    r"(^|/)((requirements|constraints)[^/]*\.(txt|in)|[^/]*requirements\.(txt|in)|requirements/[^/]+\.txt|[^/.]+\.in)$",
    re.IGNORECASE,
)
#: `*.in` files that are not pip-tools inputs
_NOT_REQUIREMENTS = {"manifest.in", "makefile.in", "configure.in", "config.in", "aclocal.in"}
_VCS = ("git+", "hg+", "svn+", "bzr+")
_HASH_FRAGMENT = re.compile(r"(sha1|sha224|sha256|sha384|sha512|md5)=([0-9a-fA-F]+)")
#: a requirements tree deeper or wider than this is refused
_MAX_FILES = 64


_LINE_OPTIONS = prp.build_parser()
_LINE_DEFAULTS = vars(_LINE_OPTIONS.get_default_values())
_LINE_LOCK = threading.Lock()
_HASH_OPTION = re.compile(r"--hash=[A-Za-z0-9]+:[0-9A-Fa-f]+")


def _parse_line(line: str) -> tuple[str, optparse.Values, list[str]]:
    """pip-requirements-parser's line parser with its optparse parser built once.

    The library builds a new parser for every line (about 2 ms each: 0.6 s for a 300-line hashed file)
    only so that its list defaults do not accumulate; fresh copies of the defaults do the same.
    """
    args, options = prp.break_args_options(line)
    fresh = {k: list(v) if isinstance(v, list) else v for k, v in _LINE_DEFAULTS.items()}
    tokens = options.split()
    if tokens and all(_HASH_OPTION.fullmatch(t) for t in tokens):  # the common case, as optparse would
        fresh["hashes"].extend(t[len("--hash=") :] for t in tokens)
        return args, optparse.Values(fresh), []
    with _LINE_LOCK:
        opts, arguments = _LINE_OPTIONS.parse_args(
            shlex.split(options) if options else [], optparse.Values(fresh)
        )
    return args, opts, arguments


def _entries(text: str) -> Iterator[object]:
    """Requirements, options and invalid lines of one file, as `RequirementsFile.parse` yields them.

    pip-requirements-parser reads files by name, so it gets a private temporary copy of this one file.
    """
    with tempfile.TemporaryDirectory(prefix="prguard-req-") as tmp:
        name = os.path.join(tmp, "requirements.txt")
        with open(name, "w", encoding="utf-8") as fh:
            fh.write(text)
        parser = prp.RequirementsFileParser(_parse_line)
        for line in parser.parse(filename=name, is_constraint=False, include_nested=False):
            if not isinstance(line, prp.ParsedLine):
                yield line  # comment or invalid line
                continue
            for item in prp.handle_line(line):
                if not isinstance(item, prp.ParsedRequirement):
                    yield item
                    if isinstance(item, prp.OptionLine) and any(
                        o in prp.LEGACY_OPTIONS_DEST for o in item.options
                    ):
                        yield prp.InvalidRequirementLine(item.requirement_line, "unsupported legacy option")
                    continue
                try:
                    req = prp.build_req_from_parsedreq(item)
                except Exception as exc:  # the library reports any requirement it cannot build this way
                    yield prp.InvalidRequirementLine(item.requirement_line, str(exc).strip())
                    continue
                if req.invalid_options:
                    yield prp.InvalidRequirementLine(
                        item.requirement_line, "global option on a requirement line"
                    )
                else:
                    yield req


def pinned_version(spec: str) -> str | None:
    """The exact version of `==X` / `===X` (no wildcard), else None."""
    try:
        specs = list(SpecifierSet(spec))
    except InvalidSpecifier:
        return None
    if len(specs) == 1 and specs[0].operator in ("==", "===") and not specs[0].version.endswith(".*"):
        return specs[0].version
    return None


def _name_from_url(url: str) -> str:
    """A name for an unnamed URL requirement: the `#egg=` or the archive's file name, else the URL."""
    path = urlsplit(url).path.rstrip("/")
    base = path.rsplit("/", 1)[-1]
    for ext in (".tar.gz", ".tar.bz2", ".tgz", ".zip", ".whl", ".tar"):
        if base.endswith(ext):
            stem = base[: -len(ext)]
            return stem.split("-", 1)[0] if ext == ".whl" else stem.rsplit("-", 1)[0]
    if base.endswith(".git"):
        return base[:-4]
    return base or url


def vcs_ref(url: str) -> str:
    """The `@ref` of a VCS URL (`git+https://host/repo@main#egg=x` → "main"), "" when none is given."""
    path = urlsplit(url.split("+", 1)[1] if "+" in url.split(":", 1)[0] else url).path
    return path.rsplit("@", 1)[1] if "@" in path else ""


def _package(req: prp.InstallRequirement, path: str, constraint: bool) -> Package:
    url = req.link.url if req.link else ""
    spec = str(req.specifier) if req.specifier else ""
    if spec:
        try:
            SpecifierSet(spec)
        except InvalidSpecifier:
            raise ParseError(f"invalid version specifier {spec!r}", req.line_number) from None
    extra: dict[str, object] = {}
    hashes = list(req.hash_options or [])
    if hashes:
        extra["hashes"] = hashes
    if req.marker:
        extra["markers"] = str(req.marker)
    if req.extras:
        extra["extras"] = sorted(req.extras)
    if req.is_editable:
        extra["editable"] = True
    if constraint:
        extra["constraint"] = True
    if url:
        if url.startswith(_VCS):
            extra["vcs_ref"] = vcs_ref(url)
        m = _HASH_FRAGMENT.search(urlsplit(url).fragment)
        if m:
            extra["url_hash"] = f"{m.group(1)}:{m.group(2)}"
        if not urlsplit(url).scheme or url.startswith("file:"):
            extra["local"] = True
    name = req.name or _name_from_url(url)
    return Package(
        ecosystem=PYPI,
        name=name,
        version=None if url else pinned_version(spec),
        path=path,
        line=req.line_number,
        direct=True,
        spec=spec,
        source=url,
        integrity=" ".join(hashes),
        extra=extra,
    )


def _settings(opts: dict, line: int, path: str, top: str) -> Iterator[Setting]:
    where = "" if path == top else path
    if opts.get("index_url"):
        yield Setting("index-url", opts["index_url"], line, where)
    for url in opts.get("extra_index_urls") or ():
        yield Setting("extra-index-url", url, line, where)
    for host in opts.get("trusted_hosts") or ():
        yield Setting("trusted-host", host, line, where)
    if opts.get("require_hashes"):
        yield Setting("require-hashes", "true", line, where)
    if opts.get("no_index"):
        yield Setting("no-index", "true", line, where)
    for url in opts.get("find_links") or ():
        yield Setting("find-links", url, line, where)


def _include_target(base: str, ref: str) -> str | None:
    """The repository path `-r ref` in `base` names, or None for URLs and paths leaving the repository."""
    if "://" in ref or ref.startswith(("/", "~")) or re.match(r"^[A-Za-z]:[\\/]", ref):
        return None
    target = posixpath.normpath(posixpath.join(posixpath.dirname(base), ref.replace("\\", "/")))
    if target == ".." or target.startswith("../"):
        return None
    return target


class RequirementsSource:
    """`requirements*.txt`, `*requirements.txt` and `*.in` (pip-tools inputs)."""

    ecosystem = PYPI
    format = "requirements file"

    def matches(self, path: str) -> bool:
        return bool(_NAME.search(path)) and posixpath.basename(path).lower() not in _NOT_REQUIREMENTS

    @guarded
    def parse(self, path: str, data: bytes, read: ReadSibling) -> Parsed:
        packages: list[Package] = []
        settings: list[Setting] = []
        includes: list[str] = []
        seen = {path}
        todo: list[tuple[str, str, bool]] = [(path, decode(data), False)]
        while todo:
            current, text, constraint = todo.pop(0)
            for entry in _entries(text):
                if isinstance(entry, prp.InvalidRequirementLine):
                    where = "" if current == path else f" (in {current})"
                    line = None if where else entry.line_number
                    raise ParseError(f"{entry.error_message}{where}", line)
                if isinstance(entry, prp.InstallRequirement):
                    packages.append(_package(entry, current, constraint))
                elif isinstance(entry, prp.OptionLine):
                    opts = entry.options
                    settings.extend(_settings(opts, entry.line_number, current, path))
                    for key, is_constraint in (("requirements", False), ("constraints", True)):
                        for ref in opts.get(key) or ():
                            target = _include_target(current, ref)
                            if target is None:
                                settings.append(
                                    Setting(
                                        "outside-include",
                                        ref,
                                        entry.line_number,
                                        "" if current == path else current,
                                    )
                                )
                                continue
                            if target in seen:
                                continue
                            seen.add(target)
                            if len(seen) > _MAX_FILES:
                                raise ParseError(f"more than {_MAX_FILES} included requirements files")
                            blob = read(target)
                            if blob is None:
                                settings.append(
                                    Setting(
                                        "missing-include",
                                        target,
                                        entry.line_number,
                                        "" if current == path else current,
                                    )
                                )
                                continue
                            includes.append(target)
                            todo.append((target, decode(blob), is_constraint))
        return Parsed(
            path=path,
            ecosystem=PYPI,
            packages=tuple(packages),
            settings=tuple(settings),
            lockfile=False,
            includes=tuple(includes),
        )
