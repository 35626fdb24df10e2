"""Finding the kustomizations a change uses on one side (`checks.iac.kustomize`), and reading what each uses.

A changed file brings in its own kustomization, those in the directories above it, and those beside the
nearest one (`app/overlays/*` for a change in `app/base/`), when the kustomization's closure holds it. The
closure is followed through the change's reader only, so symlinks are never followed and nothing outside
the repository is read; its `problem` says why it cannot render, which the caller reports.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml

from checks.change import FileTooLarge, ReadError
from checks.iac.kustomize_refs import (
    NAMES,
    PLUGIN_KEYS,
    REMOTE,
    RESOURCE_KEYS,
    is_kustomization,
    join_ref,
    references,
)

if TYPE_CHECKING:
    from checks.context import CheckContext

#: where the rendered objects of each kustomization go in the engines' tree (`<dir>/<kustomization path>`)
RENDER_DIR = "prguard-kustomize-render"
#: files one kustomization may pull in (recursively); a bigger one is not rendered
MAX_FILES = 2000
#: how far above a changed file a kustomization is looked for (with a reader that lists directories; one
#: that cannot, the GitHub contents reader, costs a request a name and directory: `PROBE_DEPTH`)
MAX_DEPTH = 6
PROBE_DEPTH = 3
#: kustomizations looked at beside the nearest one (overlays of a changed base)
MAX_SIBLINGS = 50


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


class Finder:
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
            for key, ref in references(doc):
                target = join_ref(directory, ref)
                if REMOTE.search(ref):
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
        if key in (*RESOURCE_KEYS, *PLUGIN_KEYS):
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
