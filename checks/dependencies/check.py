"""`DependenciesCheck`: the dependency files a change touches, audited offline against the OSV index, plus
supply-chain tampering (`checks.dependencies.tampering`).

Each changed dependency file is parsed statically on both sides (`checks.dependencies.sources`), and only
what the change introduces is reported: packages it adds or moves into a vulnerable version
(`checks.dependencies.audit`), sources and settings it adds. The check compares the two sides itself, per
package rather than per line (a version bump in a lockfile may touch no line the package is declared on),
so it declares `Novelty.BASELINE` and yields nothing on the engine's base run: every head finding is new by
construction. "Could not check" (no index, no data for an ecosystem, an unparseable file) is a finding on the
file, never silence.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from checks.base import Novelty
from checks.change import ChangedFile, FileStatus, ReadError
from checks.dependencies import audit, online, tampering
from checks.dependencies.advisories.store import AdvisoryIndex, IndexMeta
from checks.dependencies.index_access import NO_INDEX_HINT, open_index
from checks.dependencies.model import (
    CARGO,
    GO,
    MAVEN,
    NPM,
    PACKAGIST,
    PYPI,
    RUBYGEMS,
    Package,
    Parsed,
    ParseError,
)
from checks.dependencies.sources import source_for
from checks.finding import Finding, Severity, Skipped, make_fingerprint

if TYPE_CHECKING:
    from checks.context import CheckContext

DEFAULT_MAX_AGE_DAYS = 30
#: manifests looked up beside a lockfile (by its ecosystem) to name the direct dependency a transitive
#: package comes through
_MANIFESTS: dict[str, tuple[str, ...]] = {
    NPM: ("package.json",), PYPI: ("pyproject.toml", "Pipfile", "requirements.txt"), CARGO: ("Cargo.toml",),
    GO: ("go.mod",), RUBYGEMS: ("Gemfile",), PACKAGIST: ("composer.json",),
    MAVEN: ("pom.xml", "build.gradle", "build.gradle.kts"),
}


class DependenciesCheck:
    name = "dependencies"
    title = "Dependencies"
    #: compares base and head per package itself (see the module docstring); the base run yields nothing
    novelty = Novelty.BASELINE

    def __init__(self) -> None:
        #: lines for the report's footer (data source and date, "already present" counts): `prguard scan`
        #: prints them
        self.notes: list[str] = []

    def applies_to(self, file: ChangedFile) -> bool:
        if file.status is FileStatus.REMOVED or file.is_symlink:
            return False
        return source_for(file.path) is not None

    def run(self, files: Sequence[ChangedFile], ctx: CheckContext) -> Iterator[Finding | Skipped]:
        if ctx.side != "head":
            return
        yield from _too_large(ctx)
        if not files:
            return
        options = dict(ctx.policy.options)
        registries = [str(h) for h in options.get("registries") or ()]
        heads: dict[str, Parsed] = {}
        bases: dict[str, Parsed | None] = {}
        for file in files:
            parsed = yield from self._parse_head(file, ctx)
            if parsed is None:
                continue
            heads[file.path] = parsed
            bases[file.path] = _parse_base(file, ctx)
        manifest_dirs = _manifest_dirs(ctx, heads)
        for path, head in heads.items():
            yield from tampering.audit(bases[path], head, registries=registries,
                                       manifest_changed=posixpath.dirname(path) in manifest_dirs)
        if not heads:
            return
        index, problem = open_index(ctx.services.get("advisories"))
        if index is None:
            for path in heads:
                yield _no_data(path, problem or "no advisory index", "")
            return
        self.notes.append(index.meta.line())
        yield from self._stale(index.meta, min(heads), options)
        yield from self._vulnerabilities(index, heads, bases, ctx, bool(options.get("online")))

    # --- parsing ------------------------------------------------------------------------------------------
    def _parse_head(self, file: ChangedFile, ctx: CheckContext) -> Iterator[Finding | Skipped]:
        source = source_for(file.path)
        assert source is not None  # applies_to
        try:
            data = file.head_bytes()
        except ReadError as exc:
            yield Skipped(file.path, f"dependency file not read: {exc}")
            return None
        finally:
            file.release()
        if data is None:
            return None
        try:
            return source.parse(file.path, data, _reader(ctx, "head"))
        except ParseError as exc:
            yield Finding(
                rule_id="dependencies/could-not-check", severity=Severity.HIGH, path=file.path,
                line=exc.line or 0, title=f"Could not parse this {source.format}",
                message=(f"{file.path} could not be parsed as a {source.format} ({exc}): its dependencies "
                         "were not checked, so this file is not known to be clean."),
                remediation="Fix the file so its package manager (and prguard) can read it.",
                fingerprint=make_fingerprint("dependencies/could-not-check", file.path, source.format),
                metadata={"format": source.format, "error": exc.message},
            )
            return None

    # --- advisories ---------------------------------------------------------------------------------------
    def _stale(self, meta: IndexMeta, path: str, options: dict[str, object]) -> Iterator[Finding]:
        limit = options.get("max_advisory_age_days", DEFAULT_MAX_AGE_DAYS)
        if not isinstance(limit, int) or limit <= 0:
            return
        try:
            newest = datetime.fromisoformat(meta.data_date.replace("Z", "+00:00"))
        except ValueError:
            newest = None
        if newest is not None and newest.tzinfo is None:
            newest = newest.replace(tzinfo=UTC)
        age = (datetime.now(UTC) - newest).days if newest is not None else None
        if age is not None and age <= limit:
            return
        shown = f"{age} days old" if age is not None else "of unknown date"
        yield Finding(
            rule_id="dependencies/stale-advisories", severity=Severity.MEDIUM, path=path, line=0,
            title=f"Advisory data is {shown}",
            message=(f"The offline advisory index is {shown} (newest record {meta.data_date or '?'}, from "
                     f"{meta.source}; the policy allows {limit} days): advisories published since are not "
                     "known to this check."),
            remediation="Run `prguard advisories sync`.",
            fingerprint=make_fingerprint("dependencies/stale-advisories", path, "stale"),
            metadata={"data_date": meta.data_date, "data_source": meta.source, "max_age_days": limit},
        )

    def _vulnerabilities(self, index: AdvisoryIndex, heads: dict[str, Parsed],
                         bases: dict[str, Parsed | None], ctx: CheckContext, online_requested: bool
                         ) -> Iterator[Finding]:
        matches = audit.match(index, [p for parsed in heads.values() for p in parsed.packages])
        # base versions matter only for packages vulnerable on the head: match just those
        hit = {(eco, name) for eco, name, _ in matches}
        on_base = [p for b in bases.values() if b for p in b.packages if p.key in hit]
        matches.update(audit.match(index, on_base))
        note, failure = online.augment(matches, heads, bases, online_requested)
        if note:
            self.notes.append(note)
        if failure:
            yield _online_failed(min(heads), failure)
        already = 0
        # (folder, ecosystem, name, version) -> the package to report: a direct dependency pinned in a
        # manifest is reported once, on the manifest line, not again on its lockfile entry
        chosen: dict[tuple[str, str, str, str], tuple[bool, Package, audit.Match]] = {}
        for path, head in heads.items():
            missing = sorted({p.ecosystem for p in head.packages if not index.covers(p.ecosystem)})
            for ecosystem in missing:
                yield _no_data(path, f"the index holds no {ecosystem} advisories", ecosystem)
            base_versions: dict[tuple[str, str], set[str]] = {}
            for p in bases[path].packages if bases[path] else ():
                if p.version:
                    base_versions.setdefault(p.key, set()).add(p.version)
            for pkg in head.packages:
                if not pkg.version or pkg.ecosystem in missing:
                    continue
                found = matches.get((pkg.ecosystem, pkg.key[1], pkg.version))
                if found is None:
                    continue
                before = {a.id for v in base_versions.get(pkg.key, ()) for a in
                          (matches.get((pkg.ecosystem, pkg.key[1], v)) or audit.Match()).advisories}
                key = (posixpath.dirname(path), *pkg.key, pkg.version)
                if found.advisories and {a.id for a in found.advisories} - before:
                    if key not in chosen or (chosen[key][0] and not head.lockfile):
                        chosen[key] = (head.lockfile, pkg, found)
                elif found.advisories:
                    already += 1
                if found.unevaluated and pkg.version not in base_versions.get(pkg.key, ()):
                    yield audit.unevaluated_finding(pkg, found)
        manifests: dict[str, list[Parsed]] = {}
        for _lockfile, pkg, found in chosen.values():
            declared = "" if pkg.direct else _declared_by(pkg, heads, ctx, manifests)
            yield audit.vulnerable_finding(pkg, found, index.meta, declared)
        if already:
            self.notes.append(f"{already} vulnerable package version{'s' * (already != 1)} already present, "
                              "not introduced here (not reported)")


def _reader(ctx: CheckContext, side: str) -> Callable[[str], bytes | None]:
    def read(path: str) -> bytes | None:
        try:
            return ctx.read(path, side)  # type: ignore[arg-type]
        except (ReadError, ValueError):
            return None
    return read


def _parse_base(file: ChangedFile, ctx: CheckContext) -> Parsed | None:
    """The file's base version parsed; None when it is new or unreadable (everything then counts as new)."""
    if file.status is FileStatus.ADDED:
        return None
    path = file.old_path or file.path
    source = source_for(path) or source_for(file.path)
    try:
        data = ctx.read(path, "base")
        return source.parse(file.path, data, _reader(ctx, "base")) if data is not None and source else None
    except (ParseError, ReadError, ValueError):
        return None


def _manifest_dirs(ctx: CheckContext, heads: dict[str, Parsed]) -> set[str]:
    """Directories where the change touches a manifest (a dependency file that is not a lockfile)."""
    dirs = {posixpath.dirname(p) for p, parsed in heads.items() if not parsed.lockfile}
    for f in ctx.change.files:
        if f.path in heads or source_for(f.path) is None:
            continue
        side = "base" if f.status is FileStatus.REMOVED else "head"
        path = (f.old_path or f.path) if side == "base" else f.path
        try:
            data = ctx.read(path, side)  # type: ignore[arg-type]
            source = source_for(path)
            parsed = source.parse(path, data, _reader(ctx, side)) if data is not None and source else None
            if parsed is not None and not parsed.lockfile:
                dirs.add(posixpath.dirname(f.path))
        except (ParseError, ReadError, ValueError):
            dirs.add(posixpath.dirname(f.path))  # an unreadable manifest counts as changed: no accusation
    return dirs


def _declared_by(pkg: Package, heads: dict[str, Parsed], ctx: CheckContext,
                 manifests: dict[str, list[Parsed]]) -> str:
    """`through left-pad, declared in package.json line 12`: the direct dependency the path starts from.

    The manifests beside a lockfile are read once per folder (`manifests` caches them for the run)."""
    folder = posixpath.dirname(pkg.path)
    cache = f"{pkg.ecosystem}:{folder}"
    if cache not in manifests:
        found: list[Parsed] = []
        for name in _MANIFESTS.get(pkg.ecosystem, ()):
            path = posixpath.join(folder, name)
            parsed = heads.get(path)
            source = source_for(path)
            if parsed is None and source is not None:
                data = _reader(ctx, "head")(path)
                try:
                    parsed = source.parse(path, data, _reader(ctx, "head")) if data is not None else None
                except ParseError:
                    parsed = None
            if parsed is not None and not parsed.lockfile:
                found.append(parsed)
        manifests[cache] = found
    for parsed in manifests[cache]:
        direct = {p.key[1]: p for p in parsed.packages if p.direct and p.ecosystem == pkg.ecosystem}
        for step in reversed(pkg.via):
            hit = direct.get(audit.normalise(pkg.ecosystem, step))
            if hit is not None:
                return f"through {hit.name}, declared in {hit.path} line {hit.line}"
    if pkg.via:
        return f"through {pkg.via[-2] if len(pkg.via) > 1 else pkg.via[-1]}"
    return ""


def _online_failed(path: str, why: str) -> Finding:
    return Finding(
        rule_id="dependencies/could-not-check", severity=Severity.MEDIUM, path=path, line=0,
        title="Online advisory lookup failed",
        message=f"{why}. Packages were checked against the offline index.",
        remediation="Check PRGUARD_OSV_URL and the service's reachability.",
        fingerprint=make_fingerprint("dependencies/could-not-check", path, "online"),
        metadata={"online": True},
    )


def _too_large(ctx: CheckContext) -> Iterator[Finding]:
    """A dependency file the change skipped for its size: padding a lockfile past the cap must not hide an
    injected source, so it is "could not check" (blocking), never a quiet skip."""
    for item in ctx.change.skipped:
        source = source_for(item.path)
        if source is not None and item.reason.startswith("larger than"):
            yield Finding(
                rule_id="dependencies/could-not-check", severity=Severity.HIGH, path=item.path, line=0,
                title=f"Could not check this {source.format}: {item.reason}",
                message=(f"{item.path} was not read ({item.reason}): its dependencies and sources were not "
                         "checked, so this file is not known to be clean."),
                remediation="Raise the size cap (PRGUARD_MAX_FILE_BYTES in the App, --max-file-size locally) "
                            "or split the file.",
                fingerprint=make_fingerprint("dependencies/could-not-check", item.path, "size"),
                metadata={"format": source.format, "error": item.reason},
            )


def _no_data(path: str, why: str, ecosystem: str) -> Finding:
    command = f"prguard advisories sync --ecosystem {ecosystem}" if ecosystem else "prguard advisories sync"
    return Finding(
        rule_id="dependencies/no-advisory-data", severity=Severity.HIGH, path=path, line=0,
        title="Could not check: no advisory data" + (f" for {ecosystem}" if ecosystem else ""),
        message=(f"{path} was not checked for known vulnerabilities: {why}. Run `{command}` "
                 f"({NO_INDEX_HINT})."),
        remediation=f"Run `{command}`.",
        fingerprint=make_fingerprint("dependencies/no-advisory-data", path, ecosystem or "index"),
        metadata={"command": command, "ecosystem": ecosystem},
    )
