"""Supply-chain tampering and risky sources: what no CVE database catches.

Each rule compares one dependency file's base and head (`Parsed`), so only what the change introduces is
reported, and comment- or order-only edits report nothing (everything is compared as data, never as lines):

- `dependencies/outside-registry` (high): a lockfile entry whose resolved/source URL is not the ecosystem's
  registry (or a registry the policy allows), new or changed in this change;
- `dependencies/integrity-changed` (high): same package, same version, a different hash of the same
  algorithm: the bytes behind a version were swapped (lockfile injection);
- `dependencies/lockfile-only-change` (medium): versions changed in a lockfile while no manifest beside it
  changed (often a legitimate refresh, but it is how a hand-edited lockfile looks);
- `dependencies/unpinned-source` (medium): a VCS or URL dependency not pinned to a commit or a hash;
- `dependencies/extra-index` (high), `dependencies/index-url` (medium), `dependencies/trusted-host`
  (medium), `dependencies/require-hashes-removed` (medium), `dependencies/second-registry` (high);
- `dependencies/unpinned-requirement` (low): a range-only requirement in an application requirements file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from fnmatch import fnmatch
from urllib.parse import urlsplit

from checks.dependencies.model import CARGO, NPM, PACKAGIST, PYPI, RUBYGEMS, Package, Parsed, Setting
from checks.finding import Finding, Severity, make_fingerprint
from checks.redact import redact

#: hosts (globs) each ecosystem's packages come from by default
REGISTRIES: dict[str, tuple[str, ...]] = {
    NPM: ("registry.npmjs.org", "registry.yarnpkg.com"),
    PYPI: ("files.pythonhosted.org", "pypi.org", "pypi.python.org"),
    CARGO: ("github.com", "index.crates.io", "static.crates.io", "crates.io"),
    RUBYGEMS: ("rubygems.org", "index.rubygems.org"),
    # Composer dists are VCS archives pinned by their `reference`
    PACKAGIST: ("repo.packagist.org", "packagist.org", "api.github.com", "codeload.github.com", "github.com",
                "gitlab.com", "bitbucket.org"),
}
_VCS_PREFIXES = ("git+", "git://", "git@", "hg+", "svn+", "bzr+", "github:", "gitlab:", "bitbucket:", "gist:")
_COMMIT = re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{40}(?:[0-9a-fA-F]{24})?(?![0-9a-fA-F])")
_NPM_SHORTHAND = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(#.*)?$")
_ARCHIVE = re.compile(r"\.(tar\.gz|tgz|tar\.bz2|tar\.xz|zip|whl|gem|crate)([?#].*)?$", re.IGNORECASE)
_APP_REQUIREMENTS = re.compile(r"(^|/)([^/]*requirements[^/]*\.txt)$", re.IGNORECASE)
MAX_LISTED = 10


def _finding(rule: str, severity: Severity, path: str, line: int, title: str, message: str, content: str,
             remediation: str = "", **metadata: object) -> Finding:
    return Finding(rule_id=rule, severity=severity, path=path, line=line, title=title, message=message,
                   remediation=remediation, fingerprint=make_fingerprint(rule, path, content),
                   metadata=dict(metadata))


def shown(text: str) -> str:
    """`text` safe to print: a URL's credentials (`https://user:token@host`, `?token=…`) redacted, since
    private registry URLs in requirements files and lockfiles often carry them."""
    m = re.match(r"^([a-z][a-z0-9+.-]*://)([^/@\s]+)@", text, re.IGNORECASE)
    if m:
        text = m.group(1) + redact(m.group(2)) + "@" + text[m.end():]
    return re.sub(r"([?&][^=&#\s]*(?:token|key|secret|password|auth|sig)[^=&#\s]*=)([^&#\s]+)",
                  lambda q: q.group(1) + redact(q.group(2)), text, flags=re.IGNORECASE)


def _host(url: str) -> str:
    raw = url.split("+", 1)[1] if re.match(r"^[a-z]+\+[a-z]+://", url) else url
    if raw.startswith("git@"):
        return raw[4:].split(":", 1)[0].lower()
    try:
        return (urlsplit(raw).hostname or "").lower()
    except ValueError:
        return ""


def allowed_host(ecosystem: str, host: str, extra: Sequence[str]) -> bool:
    return any(fnmatch(host, pattern.lower()) for pattern in (*REGISTRIES.get(ecosystem, ()), *extra))


def is_vcs(text: str, ecosystem: str) -> bool:
    return text.startswith(_VCS_PREFIXES) or (ecosystem == NPM and bool(_NPM_SHORTHAND.match(text))
                                              and not text.startswith(("@", ".")))


def _pinned(pkg: Package, ref: str) -> bool:
    """A VCS reference pinned to a full commit, or a URL with a hash recorded for it."""
    vcs_ref = str(pkg.extra.get("vcs_ref") or "")
    return bool(_COMMIT.search(vcs_ref) or _COMMIT.search(ref.rsplit("@", 1)[-1].rsplit("#", 1)[-1]))


def _hashed(pkg: Package, ref: str) -> bool:
    return bool(pkg.integrity or pkg.extra.get("url_hash") or pkg.extra.get("hashes")
                or re.search(r"#(sha1|sha256|sha384|sha512|md5)=", ref))


def _by_key(parsed: Parsed | None) -> dict[tuple[str, str], list[Package]]:
    out: dict[tuple[str, str], list[Package]] = {}
    for p in parsed.packages if parsed is not None else ():
        out.setdefault(p.key, []).append(p)
    return out


def _hashes(integrity: str) -> dict[str, set[str]]:
    """{algorithm: digests} of an integrity field (`sha512-…`, `sha256:…`, `--hash=sha256:…`, several)."""
    out: dict[str, set[str]] = {}
    for token in integrity.replace(",", " ").split():
        token = token.removeprefix("--hash=")
        m = re.match(r"^(sha1|sha224|sha256|sha384|sha512|md5|h1)[-:=](.+)$", token, re.IGNORECASE)
        if m:
            out.setdefault(m.group(1).lower(), set()).add(m.group(2))
    return out


def audit(base: Parsed | None, head: Parsed, *, manifest_changed: bool, registries: Sequence[str]
          ) -> Iterator[Finding]:
    """Every tampering/risky-source finding the change introduces in one file."""
    before = _by_key(base)
    yield from _sources(head, before, registries)
    if head.lockfile and base is not None:
        yield from _integrity(head, before)
        if not manifest_changed:
            yield from _lockfile_only(head, before)
    yield from _settings(base, head, registries)
    if not head.lockfile and head.ecosystem == PYPI and _APP_REQUIREMENTS.search(head.path):
        yield from _unpinned_requirements(head, before)


def _sources(head: Parsed, before: dict[tuple[str, str], list[Package]], registries: Sequence[str]
             ) -> Iterator[Finding]:
    for pkg in head.packages:
        old = before.get(pkg.key, [])
        for ref in dict.fromkeys(r for r in (pkg.source, pkg.spec) if r):
            if any(ref in (o.source, o.spec) for o in old):
                continue  # the base already took this package from there
            url_like = "://" in ref or is_vcs(ref, pkg.ecosystem)
            if not url_like or ref.startswith("file:"):
                continue
            vcs = is_vcs(ref, pkg.ecosystem)
            label = f"{pkg.name}{' ' + pkg.version if pkg.version else ''}"
            if vcs and not _pinned(pkg, ref):
                yield _finding(
                    "dependencies/unpinned-source", Severity.MEDIUM, pkg.path, pkg.line,
                    f"{label} comes from a VCS reference not pinned to a commit",
                    f"{label} is taken from {shown(ref)}, which names a branch, tag or nothing: what gets "
                    "installed can change without this file changing, and cannot be audited.",
                    f"{pkg.key[1]} {ref}", "Pin the dependency to a full commit hash.", package=pkg.name)
            elif not vcs and _ARCHIVE.search(urlsplit(ref).path or "") and not _hashed(pkg, ref) \
                    and not allowed_host(pkg.ecosystem, _host(ref), registries):
                yield _finding(
                    "dependencies/unpinned-source", Severity.MEDIUM, pkg.path, pkg.line,
                    f"{label} is downloaded from a URL without a hash",
                    f"{label} is downloaded from {shown(ref)} with no hash recorded: the archive behind the "
                    "URL can be replaced without this file changing.",
                    f"{pkg.key[1]} {ref}", "Record the archive's hash (or depend on a registry release).",
                    package=pkg.name)
            if head.lockfile and ref == pkg.source and "://" in ref:
                host = _host(ref)
                if host and not allowed_host(pkg.ecosystem, host, registries):
                    yield _finding(
                        "dependencies/outside-registry", Severity.HIGH, pkg.path, pkg.line,
                        f"{label} resolves outside the {pkg.ecosystem} registry",
                        f"The lockfile entry for {label} resolves to {shown(ref)} (host {host}), not the "
                        f"{pkg.ecosystem} registry: a lockfile pointing one package elsewhere is how "
                        "lockfile injection looks. Allow the host with checks.dependencies.registries if it "
                        "is yours.",
                        f"{pkg.key[1]} {host}", "Regenerate the lockfile from the registry.",
                        package=pkg.name, host=host)


def _integrity(head: Parsed, before: dict[tuple[str, str], list[Package]]) -> Iterator[Finding]:
    reported: set[tuple[tuple[str, str], str]] = set()
    for pkg in head.packages:
        if not pkg.version or not pkg.integrity or (pkg.key, pkg.version) in reported:
            continue
        new: dict[str, set[str]] | None = None
        for old in before.get(pkg.key, []):
            if old.version != pkg.version or not old.integrity or old.integrity == pkg.integrity:
                continue
            new = _hashes(pkg.integrity) if new is None else new
            prev = _hashes(old.integrity)
            shared = set(new) & set(prev)
            if shared and any(not (new[a] & prev[a]) for a in shared):
                reported.add((pkg.key, pkg.version))
                yield _finding(
                    "dependencies/integrity-changed", Severity.HIGH, pkg.path, pkg.line,
                    f"{pkg.name} {pkg.version}: integrity hash changed, version did not",
                    f"The recorded hash of {pkg.name} {pkg.version} changed from {old.integrity[:60]} to "
                    f"{pkg.integrity[:60]} while the version stayed the same: the bytes behind a published "
                    "version do not change, so this lockfile entry was edited (lockfile injection) or points "
                    "at another artifact.",
                    f"{pkg.key[1]} {pkg.version} {pkg.integrity}",
                    "Regenerate the lockfile from the registry and compare.", package=pkg.name)
                break


def _lockfile_only(head: Parsed, before: dict[tuple[str, str], list[Package]]) -> Iterator[Finding]:
    after = _by_key(head)
    moved: list[tuple[Package, str]] = []
    for key, pkgs in after.items():
        old = {p.version for p in before.get(key, [])}
        new = {p.version for p in pkgs}
        if old and new != old:
            moved.append((pkgs[0], ", ".join(sorted(v or "?" for v in old))))
    if not moved:
        return
    moved.sort(key=lambda m: m[0].line)
    shown = "; ".join(f"{p.name} {old} → {p.version}" for p, old in moved[:MAX_LISTED])
    more = f" and {len(moved) - MAX_LISTED} more" if len(moved) > MAX_LISTED else ""
    yield _finding(
        "dependencies/lockfile-only-change", Severity.MEDIUM, head.path, moved[0][0].line,
        f"Lockfile versions changed with no manifest change ({len(moved)} package{'s' * (len(moved) != 1)})",
        f"{head.path} changes versions ({shown}{more}) while no manifest beside it changed. This is often a "
        "legitimate refresh (`npm update`, `poetry lock`), but it is also how a hand-edited lockfile looks: "
        "check that the lockfile was regenerated by the tool.",
        " ".join(sorted(f"{p.key[1]}={p.version}" for p, _ in moved)),
        "Regenerate the lockfile with the package manager, or change the manifest with it.",
        packages=[p.name for p, _ in moved])


def _setting_key(s: Setting) -> tuple[str, str]:
    return (s.kind, s.value.rstrip("/"))


def _settings(base: Parsed | None, head: Parsed, registries: Sequence[str]) -> Iterator[Finding]:
    old = {_setting_key(s) for s in (base.settings if base is not None else ())}
    for s in head.settings:
        if _setting_key(s) in old:
            continue
        path = s.path or head.path
        host = _host(s.value)
        if s.kind == "extra-index-url":
            yield _finding(
                "dependencies/extra-index", Severity.HIGH, path, s.line, "An extra package index was added",
                f"--extra-index-url {shown(s.value)} makes pip look in a second index as well as the first "
                "and take the highest version from either: anyone who registers one of your internal names "
                "on the public index wins (dependency confusion).", f"{s.kind} {s.value}",
                "Use one index (--index-url) that proxies the others, and pin with --require-hashes.")
        elif s.kind == "index-url" and not allowed_host(head.ecosystem, host, registries):
            yield _finding(
                "dependencies/index-url", Severity.MEDIUM, path, s.line, "The package index was changed",
                f"--index-url {shown(s.value)}: every package in this file now comes from "
                f"{host or 'that index'}.",
                f"{s.kind} {s.value}", "Allow the host with checks.dependencies.registries if it is yours.")
        elif s.kind == "trusted-host":
            yield _finding(
                "dependencies/trusted-host", Severity.MEDIUM, path, s.line,
                "TLS checks were turned off for a host",
                f"--trusted-host {s.value} lets pip fetch from that host over plain HTTP or with an invalid "
                "certificate: anyone on the path can swap packages.", f"{s.kind} {s.value}",
                "Remove --trusted-host and serve the index over valid HTTPS.")
        elif s.kind == "registry" and head.ecosystem != NPM and host \
                and not allowed_host(head.ecosystem, host, registries):
            yield _finding(
                "dependencies/second-registry", Severity.HIGH, path, s.line, "A package registry was added",
                f"{path} now also takes packages from {shown(s.value)}: a second registry is where "
                "dependency confusion happens.", f"{s.kind} {s.value}",
                "Allow the host with checks.dependencies.registries if it is yours.")
    new = {_setting_key(s) for s in head.settings}
    if any(k[0] == "require-hashes" for k in old) and not any(k[0] == "require-hashes" for k in new):
        yield _finding(
            "dependencies/require-hashes-removed", Severity.MEDIUM, head.path, 0,
            "--require-hashes was removed",
            f"{head.path} no longer sets --require-hashes: pip stops refusing packages whose hash is not the "
            "one recorded, so a swapped artifact installs silently.", "require-hashes removed",
            "Keep --require-hashes (pip-compile --generate-hashes keeps the hashes current).")


def _unpinned_requirements(head: Parsed, before: dict[tuple[str, str], list[Package]]) -> Iterator[Finding]:
    for pkg in head.packages:
        if pkg.version or pkg.source or pkg.extra.get("constraint") or pkg.path != head.path:
            continue
        if any(o.spec == pkg.spec and not o.version for o in before.get(pkg.key, [])):
            continue
        wanted = pkg.spec or "any version"
        yield _finding(
            "dependencies/unpinned-requirement", Severity.LOW, pkg.path, pkg.line,
            f"{pkg.name} is not pinned ({wanted})",
            f"{pkg.name} {wanted} in an application's requirements file installs whatever is newest at "
            "install time: the result cannot be audited or reproduced. Pin it (`==`) or use a lockfile.",
            f"{pkg.key[1]} {pkg.spec}", f"Pin {pkg.name} to an exact version (pip-compile does this).",
            package=pkg.name)
