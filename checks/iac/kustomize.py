"""Kustomize: overlays rendered offline with `kubectl kustomize` (or `kustomize build`), then scanned by
checkov as the Kubernetes objects they deploy, findings put back on the changed files.

Which kustomizations: a changed `kustomization.yaml`, and every kustomization that uses a changed file — a
patch, a generator's input, a component, or anything in a local base, found in the changed file's directory
and the directories above it, and beside the nearest one (`app/overlays/*` for a change in `app/base/`).
A plain manifest listed directly under `resources:` does not make its own kustomization render (the
Kubernetes scan of that file already covers it), but does make every overlay that uses that base render.

How: each kustomization's local references are followed on the change's side (`closure`: resources, bases,
components, patches, generator files, …, recursively through local bases) and read through the change's
reader, so symlinks are never followed and nothing outside the repository is read (`..` beyond the root,
absolute paths and anything remote refuse the render). Those files are written to a private tree and
rendered there; the output goes into the engines' tree as one Kubernetes file per kustomization, under
`RENDER_DIR`, so checkov's ordinary `kubernetes` framework reads it on both sides in its one run.

Why not checkov's own `kustomize` framework: it writes every render into a directory named after the last
two or three path components of the base (`/deploy/app/overlays/prod`), the same for the head's and the
base's copy of one overlay (and empty for an overlay whose base is elsewhere), so one side's objects
overwrite the other's and the baseline breaks; it also only logs a render that failed, which would read as
clean. Rendering here names each render's file, and a failure is known.

Never the network: a reference that looks remote (`https://`, `git@`, `github.com/…`, `?ref=`) refuses the
render before anything runs, and the renderer runs with a dead proxy (`KUSTOMIZE_OFFLINE_ENV`).

A kustomization that does not render (remote reference, YAML error, kubectl's error, no renderer) is never
clean: an `iac/kustomize-not-rendered` finding (new when the base rendered; not for a missing renderer,
which is the machine's, not the change's) and, on the head side, a *not scanned* entry with the reason.
"""

from __future__ import annotations

import posixpath
import re
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import yaml

from checks.change import FileTooLarge, ReadError, check_repo_path
from checks.context import write_file
from checks.finding import Finding, Skipped, make_fingerprint
from checks.iac.engines import KUSTOMIZE_OFFLINE_ENV
from checks.iac.mapping import checkov_finding, not_rendered, unparsable
from checks.tools import CheckTimeout

if TYPE_CHECKING:
    from checks.context import CheckContext
    from checks.iac import checkov

NOT_RENDERED = "iac/kustomize-not-rendered"
DOCS = "docs/iac.md"
#: where the rendered objects of each kustomization go in the engines' tree (`<dir>/<kustomization path>`)
RENDER_DIR = "prguard-kustomize-render"
NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
#: kustomizations one side renders; more are listed as not scanned
MAX_RENDERS = 20
#: files one kustomization may pull in (recursively); a bigger one is not rendered
MAX_FILES = 2000
#: how far above a changed file a kustomization is looked for (with a reader that lists directories; one
#: that cannot, the GitHub contents reader, costs a request a name and directory: `PROBE_DEPTH`)
MAX_DEPTH = 6
PROBE_DEPTH = 3
#: kustomizations looked at beside the nearest one (overlays of a changed base)
MAX_SIBLINGS = 50
#: bytes of rendered output one kustomization may produce
MAX_OUTPUT = 16 * 1024 * 1024
#: seconds one render may take
RENDER_TIMEOUT = 60
MISSING_RENDERER = "Kustomize overlay not rendered: needs kubectl or kustomize on PATH"

_REMOTE = re.compile(r"^[a-z][a-z0-9+.-]*://|^git@|^git::|^(?:github|gitlab)\.com/|^bitbucket\.org/"
                     r"|\?(?:.*&)?(?:ref|version|timeout|submodules)=", re.IGNORECASE)
#: kubectl's log header (`E1202 17:20:37.859227 23574 run.go:72] "command failed" err=`): not the reason
_KLOG = re.compile(r'^[EWIF]\d{4} [\d:.]+\s+\d+ \S+:\d+\] (?:"command failed" err=)?', re.MULTILINE)
#: keys whose entries are kustomization directories or whole manifests
_RESOURCE_KEYS = ("resources", "bases", "components", "crds")
#: keys whose entries are files (or kustomization directories) that change what renders
_PLUGIN_KEYS = ("generators", "transformers", "validators")


@dataclass
class Closure:
    """What one kustomization uses on one side, read: repository path → bytes."""

    files: dict[str, bytes] = field(default_factory=dict)
    #: manifests listed directly under the root kustomization's `resources:` (covered by the plain scan)
    direct: set[str] = field(default_factory=set)
    #: files used otherwise than as whole manifests (patches, generator inputs): not scanned on their own
    inputs: set[str] = field(default_factory=set)
    problem: str = ""
    #: the kustomization file that is not valid YAML, when that is the problem
    unparsable: str = ""


@dataclass
class Render:
    """One kustomization to render on this side: its file, the changed files that brought it in."""

    path: str
    changed: list[str] = field(default_factory=list)
    closure: Closure = field(default_factory=Closure)
    error: str = ""

    @property
    def directory(self) -> str:
        return posixpath.dirname(self.path)

    @property
    def output_path(self) -> str:
        return f"{RENDER_DIR}/{self.path}.rendered.yaml"

    def reported_on(self) -> str:
        """Where a failure of the render lands: the kustomization when changed, else a changed patch or
        input, else the first changed file."""
        def rank(path: str) -> tuple[int, str]:
            return (0 if path == self.path else 1 if path in self.closure.inputs else 2, path)
        return sorted(self.changed, key=rank)[0]


@dataclass
class Plan:
    """This side's renders: `contents` for the engines' tree, `inputs` to keep out of the plain scan."""

    renders: list[Render] = field(default_factory=list)
    contents: dict[str, bytes] = field(default_factory=dict)
    inputs: set[str] = field(default_factory=set)


def is_kustomization(path: str) -> bool:
    return posixpath.basename(path) in NAMES


def may_use(path: str) -> bool:
    """Whether a changed file could be part of a kustomization (YAML/JSON, or the kustomization)."""
    if path.startswith(".github/"):
        return False  # workflows, dependabot: never part of a kustomization
    return is_kustomization(path) or path.lower().endswith((".yaml", ".yml", ".json"))


def renderer() -> list[str] | None:
    """The render command before the directory: `kubectl kustomize`, else `kustomize build`; None."""
    kubectl = shutil.which("kubectl")
    if kubectl:
        return [kubectl, "kustomize"]
    kustomize = shutil.which("kustomize")
    return [kustomize, "build"] if kustomize else None


def plan(paths: Sequence[str], ctx: CheckContext, head: bool,
         memory_mb: int) -> tuple[Plan | None, list[Finding | Skipped]]:
    """Find and render this side's kustomizations using `paths`; the plan (None: none) and what is already
    known (YAML errors, not rendered)."""
    finder = _Finder(ctx)
    renders = finder.renders(paths)
    if not renders:
        return None, []
    out: list[Finding | Skipped] = []
    command = renderer()
    if command is None:
        if head:
            out += [Skipped(p, f"{MISSING_RENDERER} (see {DOCS}#kustomize)")
                    for p in sorted({p for r in renders for p in r.changed})]
        return None, out
    result = Plan()
    for index, render in enumerate(renders):
        if index >= MAX_RENDERS:
            render.error = f"more than {MAX_RENDERS} kustomizations to render in one change"
        elif render.closure.unparsable == render.path and render.path in render.changed:
            out += unparsable(render.path, render.closure.problem, head)
            continue
        else:
            render.error = render.closure.problem or _render(render, command, ctx, memory_mb, result)
        if render.error:
            out += _not_rendered(render, render.error, head)
        result.renders.append(render)
        result.inputs |= render.closure.inputs
    return result, out


def findings(run: checkov.CheckovRun | None, plan: Plan, head: bool) -> list[Finding | Skipped]:
    """checkov's failures in this side's rendered kustomizations (`run`: repository-relative paths)."""
    out: list[Finding | Skipped] = []
    failures = run.failures if run is not None else []
    unparsed = set(run.parse_errors) if run is not None else set()
    for render in plan.renders:
        if render.error:
            continue
        if render.output_path in unparsed:
            out += _not_rendered(render, "checkov could not parse the rendered manifests", head)
            continue
        seen: set[str] = set()
        for failure in failures:
            if failure.path == render.output_path:
                finding = _finding(failure, render)
                if finding.fingerprint not in seen:
                    seen.add(finding.fingerprint)
                    out.append(finding)
    return out


# --- finding the kustomizations ---------------------------------------------------------------------------
class _Finder:
    """Kustomizations on one side, read once each (directory listings and closures are cached)."""

    def __init__(self, ctx: CheckContext) -> None:
        self.ctx = ctx
        self.lister = getattr(ctx.change.reader, "list_dir", None)
        self.all_lister = getattr(ctx.change.reader, "list_files", None)
        self._in_dir: dict[str, str | None] = {}
        self._beside_cache: dict[str, list[str]] = {}
        self._closures: dict[str, Closure] = {}

    def renders(self, paths: Sequence[str]) -> list[Render]:
        found: dict[str, Render] = {}
        for path in paths:
            for kpath in self._candidates(path):
                closure = self.closure(kpath)
                uses = path == kpath or (path in closure.files and path not in closure.direct)
                if uses:
                    found.setdefault(kpath, Render(kpath, closure=closure)).changed.append(path)
        return [found[k] for k in sorted(found)]

    def _candidates(self, path: str) -> list[str]:
        """Kustomizations that may use `path`: its own, those above it, and those beside the nearest."""
        out = [path] if is_kustomization(path) else []
        directory = posixpath.dirname(path)
        nearest = posixpath.dirname(path) if out else None
        for _ in range(MAX_DEPTH if self.lister is not None else PROBE_DEPTH):
            kpath = self.kustomization_in(directory)
            if kpath is not None:
                out.append(kpath)
                nearest = directory if nearest is None else nearest
            if not directory:
                break
            directory = posixpath.dirname(directory)
        if nearest and self.all_lister is not None:
            out += self._beside(posixpath.dirname(nearest))
        return list(dict.fromkeys(out))

    def _beside(self, directory: str) -> list[str]:
        assert self.all_lister is not None
        if directory not in self._beside_cache:
            try:
                listed = self.all_lister(self.ctx.side, directory)
            except (OSError, ReadError):
                listed = []
            self._beside_cache[directory] = [p for p in listed if is_kustomization(p)][:MAX_SIBLINGS]
        return self._beside_cache[directory]

    def kustomization_in(self, directory: str) -> str | None:
        """The kustomization file directly in `directory` on this side, or None."""
        if directory in self._in_dir:
            return self._in_dir[directory]
        found: str | None = None
        if self.lister is not None:
            try:
                names = set(self.lister(self.ctx.side, directory))
                found = next((posixpath.join(directory, n) for n in NAMES if n in names), None)
            except (OSError, ReadError):
                found = self._probe(directory)
        else:
            found = self._probe(directory)
        self._in_dir[directory] = found
        return found

    def _probe(self, directory: str) -> str | None:
        for name in NAMES[:2]:  # `Kustomization` is rare; each name is a request to the contents API
            path = posixpath.join(directory, name)
            try:
                if self.ctx.read(path) is not None:
                    return path
            except (ReadError, ValueError):
                continue
        return None

    def closure(self, kpath: str) -> Closure:
        if kpath not in self._closures:
            self._closures[kpath] = self._follow(kpath)
        return self._closures[kpath]

    def _follow(self, root: str) -> Closure:
        """Every local file `root` uses on this side, recursively; `problem` says why it cannot render
        (the first reason; the references are still followed, so every changed file it uses is known)."""
        out = Closure()
        pending = [root]
        visited: set[str] = set()
        while pending:
            kpath = pending.pop()
            if kpath in visited:
                continue
            visited.add(kpath)
            doc = self._kustomization(kpath, out)
            if doc is None:
                continue
            directory = posixpath.dirname(kpath)
            for key, ref in _references(doc):
                target = _join(directory, ref)
                if _REMOTE.search(ref):
                    out.problem = out.problem or (
                        f"{kpath} refers to a remote {key} entry `{ref}`: prguard renders kustomizations "
                        "offline and never fetches remote bases")
                    continue
                if target is None:
                    out.problem = out.problem or f"{kpath} refers to `{ref}`, outside the repository"
                    continue
                nested = self._nested(key, target, out)
                if nested is not None:
                    pending.append(nested)
                elif target in out.files:
                    if key in ("resources", "bases", "crds"):
                        if kpath == root:
                            out.direct.add(target)
                    else:
                        out.inputs.add(target)
            if len(out.files) > MAX_FILES:
                out.problem = out.problem or f"{root} uses more than {MAX_FILES} files"
                break
        return out

    def _kustomization(self, kpath: str, out: Closure) -> dict[str, Any] | None:
        """The parsed kustomization `kpath`, or None (the reason in `out.problem`)."""
        data = self._read(kpath, out)
        if data is None:
            return None
        try:
            doc = yaml.safe_load(data.decode("utf-8-sig", "replace"))
        except yaml.YAMLError as exc:
            doc = exc
        if doc is None:
            return {}
        if not isinstance(doc, dict):
            shown = " ".join(str(doc).split())[:300] if isinstance(doc, Exception) else "not a mapping"
            if not out.problem:
                out.problem, out.unparsable = f"{kpath} is not a valid kustomization: {shown}", kpath
            return None
        if doc.get("helmCharts") or doc.get("helmChartInflationGenerator"):
            out.problem = out.problem or (
                f"{kpath} inflates Helm charts (`helmCharts`), which kustomize only does with --enable-helm "
                "and may download")
        return doc

    def _nested(self, key: str, target: str, out: Closure) -> str | None:
        """The kustomization at `target` when it is a directory holding one (read otherwise as a file)."""
        looks_like_file = target.lower().endswith((".yaml", ".yml", ".json"))
        if looks_like_file and self._read(target, out) is not None:
            return None
        if key in (*_RESOURCE_KEYS, *_PLUGIN_KEYS):
            nested = self.kustomization_in(target)
            if nested is not None:
                return nested
        if not looks_like_file:
            self._read(target, out)  # absent, or a directory without a kustomization: the renderer says so
        return None

    def _read(self, path: str, out: Closure) -> bytes | None:
        if path in out.files:
            return out.files[path]
        if not path:
            return None
        try:
            data = self.ctx.read(path)
        except FileTooLarge as exc:
            out.problem = out.problem or str(exc)
            return None
        except (ReadError, ValueError) as exc:
            out.problem = out.problem or f"could not read {path}: {exc}"
            return None
        if data is not None:
            out.files[path] = data
        return data


def _join(directory: str, ref: str) -> str | None:
    """`ref` relative to `directory` as a repository path; None when absolute or above the root."""
    if ref.startswith("/") or "\\" in ref:
        return None
    joined = posixpath.normpath(posixpath.join(directory, ref))
    if joined == ".." or joined.startswith("../"):
        return None
    if joined == ".":
        return ""
    try:
        return check_repo_path(joined)
    except ValueError:
        return None


def _references(doc: dict[str, Any]) -> Iterable[tuple[str, str]]:
    """(key, path) of every file or directory a kustomization names (inline patches left out)."""
    def paths(value: Any) -> list[str]:
        items = value if isinstance(value, list) else [value]
        return [v.strip() for v in items if isinstance(v, str) and v.strip() and "\n" not in v]

    for key in (*_RESOURCE_KEYS, *_PLUGIN_KEYS, "patchesStrategicMerge", "configurations"):
        for ref in paths(doc.get(key)):
            yield key, ref
    for key in ("patches", "patchesJson6902", "replacements"):
        for entry in doc.get(key) or []:
            if isinstance(entry, dict):
                yield from ((key, p) for p in paths(entry.get("path")))
            elif key == "patches":
                yield from ((key, p) for p in paths(entry))
    for key in ("configMapGenerator", "secretGenerator"):
        for entry in doc.get(key) or []:
            if not isinstance(entry, dict):
                continue
            for ref in [*paths(entry.get("files")), *paths(entry.get("envs")), *paths(entry.get("env"))]:
                yield key, ref.split("=", 1)[1] if "=" in ref else ref
    openapi = doc.get("openapi")
    if isinstance(openapi, dict):
        yield from (("openapi", p) for p in paths(openapi.get("path")))


# --- rendering --------------------------------------------------------------------------------------------
def _render(render: Render, command: list[str], ctx: CheckContext, memory_mb: int, result: Plan) -> str:
    """Render into `result.contents`; "" when it rendered, else the reason."""
    files = render.closure.files

    def fill(root: Any) -> None:
        for path, data in files.items():
            write_file(root, path, data)

    tree = ctx.workspace.tree(("kustomize", ctx.side, (render.path, *sorted(files))), fill)
    target = str(tree / render.directory) if render.directory else str(tree)
    timeout = min(float(RENDER_TIMEOUT), max(1.0, ctx.remaining()))
    try:
        done = ctx.run_tool([*command, target], cwd=tree, env=KUSTOMIZE_OFFLINE_ENV, timeout=timeout,
                            memory_mb=memory_mb)
    except CheckTimeout as exc:
        return f"the render did not finish: {exc}"
    except OSError as exc:
        return f"the renderer could not run: {exc}"
    if done.returncode != 0:
        text = _KLOG.sub("", done.stderr.decode("utf-8", "replace").replace(str(tree) + "/", ""))
        tail = " ".join(text.split())
        return f"{' '.join(c.rsplit('/', 1)[-1] for c in command)} failed: {tail[:500] or 'no message'}"
    if len(done.stdout) > MAX_OUTPUT:
        return f"the rendered manifests are larger than {MAX_OUTPUT} bytes"
    result.contents[render.output_path] = done.stdout
    return ""


# --- findings ---------------------------------------------------------------------------------------------
def _finding(failure: checkov.CheckovFailure, render: Render) -> Finding:
    """A whole-file finding for a failure in the rendered objects, fingerprinted on the kustomization and
    the object (not on lines, which count in the rendered output)."""
    base = checkov_finding(replace(failure, framework="kubernetes"))
    path = render.reported_on()
    via = "" if path == render.path else (f" This change touches {path}, which that kustomization uses: "
                                          "the failure is in what it renders.")
    return Finding(
        rule_id=base.rule_id, severity=base.severity, path=path, line=0, title=base.title,
        message=(f"{failure.name} — failed by `{failure.resource}` as rendered by kustomize from "
                 f"{render.path} (checkov {failure.check_id}).{via}"),
        fingerprint=make_fingerprint(failure.check_id, render.path, failure.resource),
        remediation=base.remediation,
        metadata={**base.metadata, "framework": "kustomize", "kustomization": render.path,
                  "resource_path": render.path})


def _not_rendered(render: Render, reason: str, head: bool) -> list[Finding | Skipped]:
    return not_rendered(
        NOT_RENDERED, list(render.changed), head,
        title="Could not render this kustomization: it was not scanned",
        message=f"could not render the kustomization {render.path} offline: {reason}. What it deploys was "
                "not scanned.",
        remediation="Make `kubectl kustomize` succeed on it from the repository alone: vendor remote bases "
                    "into the repository (prguard never fetches them) and fix the errors.",
        skip_reason=f"Kustomize overlay not rendered ({render.path}): {reason}",
        fingerprint_extra=render.path,
        metadata={"kustomization": render.path, "links": [f"{DOCS}#kustomize"]})
