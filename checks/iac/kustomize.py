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

The parts: `kustomize_refs` (what a kustomization names), `kustomize_find` (which kustomizations a change
uses, and their closures), `kustomize_render` (the renderer subprocess); this module plans one side's
renders and maps checkov's failures, and the renders that failed, back onto the changed files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from checks.finding import Finding, Skipped, make_fingerprint
from checks.iac.kustomize_find import Finder, Render
from checks.iac.kustomize_refs import is_kustomization
from checks.iac.kustomize_render import MISSING_RENDERER, render_into, renderer
from checks.iac.mapping import checkov_finding, not_rendered, unparsable

if TYPE_CHECKING:
    from checks.context import CheckContext
    from checks.iac import checkov

NOT_RENDERED = "iac/kustomize-not-rendered"
DOCS = "docs/iac.md"
#: kustomizations one side renders; more are listed as not scanned
MAX_RENDERS = 20


@dataclass
class Plan:
    """This side's renders: `contents` for the engines' tree, `inputs` to keep out of the plain scan."""

    renders: list[Render] = field(default_factory=list)
    contents: dict[str, bytes] = field(default_factory=dict)
    inputs: set[str] = field(default_factory=set)


def may_use(path: str) -> bool:
    """Whether a changed file could be part of a kustomization (YAML/JSON, or the kustomization)."""
    if path.startswith(".github/"):
        return False  # workflows, dependabot: never part of a kustomization
    return is_kustomization(path) or path.lower().endswith((".yaml", ".yml", ".json"))


def plan(paths: Sequence[str], ctx: CheckContext, head: bool,
         memory_mb: int) -> tuple[Plan | None, list[Finding | Skipped]]:
    """Find and render this side's kustomizations using `paths`; the plan (None: none) and what is already
    known (YAML errors, not rendered)."""
    finder = Finder(ctx)
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
            render.error = render.closure.problem or render_into(render, command, ctx, memory_mb,
                                                                 result.contents)
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
