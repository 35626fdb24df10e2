"""Helm charts: rendered offline by checkov's helm framework, findings put back on the changed chart files.

A changed chart file (`Chart.yaml`, `values.yaml`, a template, `templates/_helpers.tpl`) makes its whole
chart — the nearest directory above it holding a `Chart.yaml`, or the chart that vendors it under
`charts/` — land in the engines' tree, on each side (`plan`), and checkov's run over that tree gets
`--framework helm`: it calls `helm template --dependency-update CHART`, which here is prguard's shim over
Helm's Go SDK (`checks/iac/helm_shim.py`, first on checkov's PATH: `checks.iac.engines.run_engine`). It
never downloads: a chart whose dependencies are not vendored in `charts/` does not render, and says which.

checkov names each failure after the template it was rendered from (`web/templates/deployment.yaml`) and
the object (`Deployment.default.release-name-web`); that pair, with the rule, is the fingerprint, so the
base side's render of the same chart gives the same ones and only what the change made fail is new. A
failure in a template the change touched is reported on it; one in an untouched template (a `values.yaml`
edit that turns `privileged` on) is reported on the chart's changed file, naming the template. Both are
whole-file findings (line 0): checkov's lines count in the rendered manifest, not in the template.

A chart that does not render (template error, missing dependency, shim not installed or killed) is
never clean: a `iac/helm-render-error` finding (new when the base rendered) and, on the head side, a
*not scanned* entry with the reason.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from checks.change import FileTooLarge, ReadError
from checks.finding import Finding, Skipped, make_fingerprint
from checks.iac import checkov
from checks.iac.engines import EngineMissing, checkov_path, helm_report_path, helm_shim_path
from checks.iac.mapping import checkov_finding, not_rendered

if TYPE_CHECKING:
    from checks.context import CheckContext

RENDER_ERROR = "iac/helm-render-error"
DOCS = "docs/iac.md"
#: charts one run renders; more are listed as not scanned (each costs reads and a render)
MAX_CHARTS = 10
#: files of one chart materialized; a bigger chart is not rendered (listed as not scanned)
MAX_CHART_FILES = 2000
#: how far above a changed file a `Chart.yaml` is looked for
MAX_DEPTH = 6
#: files that sit at a chart's top
_CHART_ROOT_FILES = ("chart.yaml", "chart.yml", "values.yaml", "values.yml", "values.schema.json")
#: without a reader that lists directories (the GitHub contents reader today), the files a chart is
#: usually made of (`helm create`'s), read when they exist; templates named otherwise are not rendered
USUAL_FILES = ("Chart.yaml", "values.yaml", "values.schema.json", ".helmignore", "templates/_helpers.tpl",
               "templates/deployment.yaml", "templates/service.yaml", "templates/serviceaccount.yaml",
               "templates/ingress.yaml", "templates/hpa.yaml", "templates/httproute.yaml",
               "templates/statefulset.yaml", "templates/daemonset.yaml", "templates/job.yaml",
               "templates/cronjob.yaml", "templates/pod.yaml", "templates/configmap.yaml",
               "templates/secret.yaml", "templates/role.yaml", "templates/rolebinding.yaml",
               "templates/clusterrole.yaml", "templates/clusterrolebinding.yaml",
               "templates/networkpolicy.yaml", "templates/pdb.yaml", "templates/NOTES.txt")


@dataclass
class Chart:
    """One chart to render: its directory, its files on this side, the changed files it holds."""

    directory: str
    changed: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def reported_on(self) -> str:
        """The changed file a failure in an untouched template is put on: values first, then Chart.yaml."""
        def rank(path: str) -> tuple[int, str]:
            name = posixpath.basename(path).lower()
            return (0 if name.startswith("values") else 1 if name.startswith("chart.") else 2, path)
        return sorted(self.changed, key=rank)[0]


def plan(paths: Sequence[str], ctx: CheckContext, head: bool) -> tuple[list[Chart], list[Finding | Skipped]]:
    """The charts holding the changed `paths` on this run's side, with their files listed (what to add to
    the engines' tree, `Chart.files`, with checkov's `helm` framework), and what is already known: paths
    in no chart, charts that cannot be listed, a renderer that is not installed."""
    charts, out = find_charts(paths, ctx, head)
    if not charts:
        return [], out
    try:
        shim = helm_shim_path(checkov_path())
    except EngineMissing:
        shim = helm_shim_path()  # checkov's own absence is reported by the checkov run
    if shim is None:
        if head:
            reason = ("Helm chart not rendered: the helm renderer is not installed (run `prguard engines "
                      "install`)")
            out += [Skipped(p, reason) for c in charts for p in c.changed]
        return [], out
    ready: list[Chart] = []
    for chart in charts:
        problem = _list_files(chart, ctx)
        if problem:
            out += _not_rendered(chart, problem, head)
        else:
            ready.append(chart)
    return ready, out


def findings(result: checkov.CheckovRun | None, charts: Sequence[Chart], ctx: CheckContext,
             head: bool) -> list[Finding | Skipped]:
    """checkov's failures in this side's charts (`result`: its run over this side, paths repository-
    relative), and a could-not-render for each chart the shim did not record as rendered."""
    rendered = read_report(helm_report_path(ctx), ctx.side)
    failures = result.failures if result is not None else []
    out: list[Finding | Skipped] = []
    seen: set[str] = set()
    for chart in charts:
        error = rendered.get(chart.directory, "the helm renderer did not run or did not finish (killed at "
                                              "its time or memory limit?)")
        if error:
            out += _not_rendered(chart, error, head)
            continue
        prefix = chart.directory + "/" if chart.directory else ""
        for failure in failures:
            if failure.framework != "helm" or not failure.path.startswith(prefix):
                continue
            finding = _finding(failure, chart)
            if finding.fingerprint not in seen:  # a vendored subchart is also rendered on its own
                seen.add(finding.fingerprint)
                out.append(finding)
    return out


def find_charts(paths: Sequence[str], ctx: CheckContext, head: bool) -> tuple[list[Chart], list[Skipped]]:
    """The charts holding `paths` on this side, and a skip (head side) for each path in none of them."""
    charts: dict[str, Chart] = {}
    skipped: list[Skipped] = []
    for path in paths:
        directory = chart_dir(path, ctx)
        if directory is None:
            if posixpath.basename(path).lower() in _CHART_ROOT_FILES:
                continue  # a values.yaml of something else than Helm: not infrastructure as code
            if head:
                skipped.append(Skipped(path, "Helm file outside any chart (no Chart.yaml beside or above "
                                             "it): not rendered"))
            continue
        if directory not in charts and len(charts) >= MAX_CHARTS:
            if head:
                skipped.append(Skipped(path, f"Helm chart not rendered: more than {MAX_CHARTS} charts "
                                             "changed in one change"))
            continue
        charts.setdefault(directory, Chart(directory)).changed.append(path)
    return list(charts.values()), skipped


def chart_dir(path: str, ctx: CheckContext) -> str | None:
    """The chart `path` belongs to, or None. A `values.yaml` or `Chart.yaml` belongs to its own directory,
    a template to the directory above `templates/`, anything else to the nearest directory above it with a
    `Chart.yaml`; and when that chart is a subchart vendored under another chart's `charts/`, the outermost
    such chart (a subchart renders with its parent's values)."""
    parts = path.split("/")
    if parts[-1].lower() in _CHART_ROOT_FILES:
        candidates = [posixpath.dirname(path)]
    elif "templates" in parts[:-1]:
        at = len(parts) - 2 - parts[-2::-1].index("templates")
        candidates = ["/".join(parts[:at])]
    else:
        candidates = []
        directory = posixpath.dirname(path)
        for _ in range(MAX_DEPTH):
            candidates.append(directory)
            if not directory:
                break
            directory = posixpath.dirname(directory)
    found = next((d for d in candidates if _has_chart_yaml(d, ctx)), None)
    while found is not None:
        parent = posixpath.dirname(found)
        outer = posixpath.dirname(parent)
        if posixpath.basename(parent) != "charts" or not _has_chart_yaml(outer, ctx):
            break
        found = outer
    return found


def _has_chart_yaml(directory: str, ctx: CheckContext) -> bool:
    try:
        return ctx.read(posixpath.join(directory, "Chart.yaml")) is not None
    except (ReadError, ValueError):
        return False


def _list_files(chart: Chart, ctx: CheckContext) -> str | None:
    """Fill `chart.files` on this side (every file, or the usual ones without a lister); a reason when
    the chart cannot be materialized."""
    lister = getattr(ctx.change.reader, "list_files", None)
    prefix = chart.directory + "/" if chart.directory else ""
    if lister is not None:
        try:
            files = list(lister(ctx.side, chart.directory))
        except (ReadError, OSError) as exc:
            return f"could not list the chart's files: {exc}"
    else:
        files = []
        for name in USUAL_FILES:
            path = prefix + name
            try:
                if ctx.read(path) is not None:
                    files.append(path)
            except FileTooLarge:
                continue
            except (ReadError, ValueError) as exc:
                return f"could not read {path}: {exc}"
    files = sorted(set(files) | set(chart.changed))
    if len(files) > MAX_CHART_FILES:
        return f"the chart has more than {MAX_CHART_FILES} files"
    chart.files = files
    return None


def read_report(report: Path, side: str) -> dict[str, str]:
    """The shim's record for this check: chart directory on `side` (repository-relative) → "" when it
    rendered, else the reason. The engines' tree holds each side under a directory named after it
    (`checks.iac.sides`), so `/<side>/<chart>` ends each path. A chart rendered more than once (checkov
    renders every `Chart.yaml` it finds, a subchart too) keeps a failure."""
    results: dict[str, str] = {}
    try:
        lines = report.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return results
    for line in lines:
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        parts = str(entry.get("chart", "")).rstrip("/").split("/")
        if side not in parts:
            continue
        at = len(parts) - 1 - parts[::-1].index(side)  # the last `side` component: the tree's side root
        rel = "/".join(parts[at + 1:])
        error = "" if entry.get("ok") else str(entry.get("error") or "helm template failed")
        if results.get(rel, "") == "":
            results[rel] = error
    return results


def _finding(failure: checkov.CheckovFailure, chart: Chart) -> Finding:
    """A whole-file finding for a failure in a rendered template, on the template when the change
    touched it, else on the chart's changed file; fingerprinted on the template and the object."""
    base = checkov_finding(replace(failure, framework="kubernetes"))  # what was scanned: links its index
    rendered = f"rendered by helm from {failure.path}"
    if failure.path in chart.changed:
        path = failure.path
        message = (f"{failure.name} — failed by `{failure.resource}` as {rendered} "
                   f"(checkov {failure.check_id}).")
    else:
        path = chart.reported_on()
        message = (f"{failure.name} — now failed by `{failure.resource}`, {rendered}, which this change does "
                   f"not touch: a value or helper changed here makes it fail (checkov {failure.check_id}).")
    return Finding(
        rule_id=base.rule_id, severity=base.severity, path=path, line=0, title=base.title, message=message,
        fingerprint=make_fingerprint(failure.check_id, failure.path, failure.resource),
        remediation=base.remediation,
        metadata={**base.metadata, "framework": "helm", "chart": chart.directory or ".",
                  "resource_path": failure.path})


def _not_rendered(chart: Chart, reason: str, head: bool) -> list[Finding | Skipped]:
    shown = chart.directory or "the repository root"
    return not_rendered(
        RENDER_ERROR, list(chart.changed), head,
        title="Could not render this Helm chart: it was not scanned",
        message=f"could not render the Helm chart in {shown} offline: {reason}. Its manifests were not "
                "scanned.",
        remediation="Fix the template so `helm template` succeeds, and vendor dependencies in charts/ "
                    "(`helm dependency build`, then commit them): prguard never downloads them.",
        skip_reason=f"Helm chart could not render: {reason}", fingerprint_extra="",
        metadata={"chart": chart.directory or ".", "links": [f"{DOCS}#helm-charts"]})
