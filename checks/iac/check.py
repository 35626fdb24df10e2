"""`IacCheck`: what a change makes newly wrong in its infrastructure and CI configuration.

Three engines:
- checkov on Terraform (.tf, .tfvars), Kubernetes, Dockerfiles, CloudFormation/SAM, ARM/Bicep, Serverless,
  OpenAPI and GitHub Actions files, over a materialized tree holding the changed files plus the usual
  files of each changed Terraform module's directory, so variables and locals declared beside resolve;
- zizmor on workflows, composite actions and dependabot.yml;
- prguard's own AI-infrastructure rules (`checks.iac.ai_rules`, when installed) on the files they apply to.

Novelty is BASELINE: a finding's fingerprint is (rule, file, resource) with no line number, so it is new
when the base run did not produce it. An added line that makes an old resource block fail is therefore
reported, and an unrelated edit to an already flawed file is not. Only files the change touched are
reported on, though the tree holds more.

The head run prepares both sides and runs each engine once over both (`checks.iac.sides`): checkov spends
about 3 s starting before it reads a file, so one process for head and base costs one start-up, not two.
The base run then only hands back what that run found for the base.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING

from checks.base import Novelty
from checks.change import ChangedFile, FileStatus, ReadError
from checks.finding import Finding, Severity, Skipped
from checks.iac import helm, kustomize
from checks.iac import sides as engines_over_sides
from checks.iac.engines import DEFAULT_MEMORY_MB
from checks.iac.kinds import CHECKOV_FRAMEWORK, ZIZMOR_KINDS, Kind, kind_of, maybe_iac, path_kind
from checks.iac.mapping import PARSE_ERROR, checkov_finding, unparsable, with_severity, zizmor_finding
from checks.iac.parsing import parse_error

if TYPE_CHECKING:
    from checks.context import CheckContext
    from checks.iac import checkov, zizmor

try:  # prguard's AI-infrastructure rules; the check works without them
    from checks.iac import ai_rules as _ai_rules
except ImportError:  # pragma: no cover - only before the package exists
    _ai_rules = None

ai_rules: ModuleType | None = _ai_rules

__all__ = ["PARSE_ERROR", "IacCheck"]

_BASE_RESULT = "iac_base_result"  # the workspace attribute holding the base side's findings
#: files a Terraform module usually splits into; materialized beside a changed .tf so references resolve
#: (a reader that can list directories, `reader.list_dir(side, dir)`, gives the real list instead)
TERRAFORM_NEIGHBOURS = ("main.tf", "variables.tf", "vars.tf", "outputs.tf", "locals.tf", "providers.tf",
                        "versions.tf", "data.tf", "terraform.tf", "backend.tf", "terraform.tfvars",
                        "terraform.tfvars.json")
#: kinds listed as not scanned; Helm charts (`checks.iac.helm`) and kustomizations (`checks.iac.kustomize`)
#: are rendered
_NOT_RENDERED: dict[Kind, str] = {}
#: kinds whose YAML/JSON text is checked to parse before an engine sees it
_STRUCTURED = {Kind.KUBERNETES, Kind.CLOUDFORMATION, Kind.ARM, Kind.SERVERLESS, Kind.OPENAPI, Kind.WORKFLOW,
               Kind.ACTION, Kind.DEPENDABOT, Kind.TERRAFORM, Kind.TFVARS}


@dataclass
class _Plan:
    """One side's work for the engines, and the findings it already has (parse errors, AI rules)."""

    ctx: CheckContext
    for_checkov: dict[str, Kind] = field(default_factory=dict)
    for_zizmor: list[str] = field(default_factory=list)
    contents: dict[str, bytes] = field(default_factory=dict)
    tf_dirs: set[str] = field(default_factory=set)
    out: list[Finding | Skipped] = field(default_factory=list)
    #: charts holding changed files, rendered by checkov's helm framework (`checks.iac.helm`)
    charts: list[helm.Chart] = field(default_factory=list)
    #: kustomizations using changed files, rendered with kubectl; their output is in `contents`
    kustomize: kustomize.Plan | None = None

    @property
    def head(self) -> bool:
        return self.ctx.side == "head"

    def engine_inputs(self) -> engines_over_sides.SideInputs:
        frameworks = {"github_actions" if k is Kind.WORKFLOW else CHECKOV_FRAMEWORK[k]
                      for k in self.for_checkov.values()}
        if self.tf_dirs:
            frameworks.add("terraform")
        if self.charts:
            frameworks.add("helm")
        if self.kustomize is not None and self.kustomize.contents:
            frameworks.add("kubernetes")  # the rendered objects (`checks.iac.kustomize`)
        neighbours = [p for d in sorted(self.tf_dirs) for p in _module_files(self.ctx, d)
                      if p not in self.contents]
        neighbours += [p for c in self.charts for p in c.files if p not in self.contents]
        return engines_over_sides.SideInputs(
            ctx=self.ctx, contents=self.contents, neighbours=neighbours, checkov_frameworks=frameworks,
            zizmor_paths=list(self.for_zizmor))


class IacCheck:
    name = "iac"
    title = "IaC / CI config"
    novelty = Novelty.BASELINE

    def applies_to(self, file: ChangedFile) -> bool:
        if file.status is FileStatus.REMOVED or file.is_symlink or file.is_binary:
            return False
        return maybe_iac(file.path) or _ai_applies(file.path)

    def run(self, files: Sequence[ChangedFile], ctx: CheckContext) -> Iterator[Finding | Skipped]:
        """Scan this side. The head run scans both sides with one run of each engine and keeps the base's
        findings for the base run, which only hands them back."""
        if ctx.side == "base":
            done: list[Finding | Skipped] | None = getattr(ctx.workspace, _BASE_RESULT, None)
            yield from done if done is not None else self._scan([self._plan(files, ctx)])[0]
            return
        plans = [self._plan(files, ctx)]
        base = self._base_plan(files, ctx)
        if base is not None:
            plans.append(base)
        results = self._scan(plans)
        setattr(ctx.workspace, _BASE_RESULT, results[1] if base is not None else [])
        yield from results[0]

    def _base_plan(self, head_files: Sequence[ChangedFile], ctx: CheckContext) -> _Plan | None:
        from checks.engine import _base_files  # the very files the engine's base run would be handed

        base = _base_files(ctx.change, list(head_files), ctx.deadline)
        # the head's Terraform modules, even where the change added every changed file: their unchanged
        # files' old failures must be known to the baseline (see `_checkov`)
        head_modules = {posixpath.dirname(f.path) for f in head_files
                        if path_kind(f.path) in (Kind.TERRAFORM, Kind.TFVARS)}
        if not base and not head_modules:
            return None
        return self._plan(base, ctx.for_side("base", base), head_modules)

    def _plan(self, files: Sequence[ChangedFile], ctx: CheckContext,
              head_modules: set[str] | None = None) -> _Plan:
        """What each engine gets on this side; parse errors and prguard's own rules are found here."""
        head = ctx.side == "head"
        plan = _Plan(ctx, tf_dirs=set(head_modules or ()))
        out = plan.out
        ai_inputs: dict[str, bytes] = {}
        helm_paths: list[str] = []
        kustomize_paths: list[str] = []
        for file in files:
            data = file.head_bytes()  # this run's side
            if data is None:
                continue
            kind = kind_of(file.path, data)
            if _ai_applies(file.path):
                ai_inputs[file.path] = data
            if kustomize.may_use(file.path):
                kustomize_paths.append(file.path)  # the kustomizations using it are rendered, below
            if kind is None or kind is Kind.KUSTOMIZE:
                continue
            if kind is Kind.HELM:
                helm_paths.append(file.path)  # its whole chart is rendered, below
                continue
            if kind in _NOT_RENDERED:
                if head:
                    out.append(Skipped(file.path, _NOT_RENDERED[kind]))
                continue
            problem = parse_error(file.path, data) if kind in _STRUCTURED else None
            if problem is not None:
                out += unparsable(file.path, problem, head)
                continue
            plan.contents[file.path] = data
            if kind in ZIZMOR_KINDS:
                plan.for_zizmor.append(file.path)
                if kind is Kind.WORKFLOW:
                    plan.for_checkov[file.path] = kind  # checkov's few GitHub Actions checks too
            else:
                plan.for_checkov[file.path] = kind
        ai_modules: dict[str, dict[str, str]] = {}
        for path, data in ai_inputs.items():
            directory = posixpath.dirname(path)
            if path.endswith(".tf") and directory not in ai_modules:
                ai_modules[directory] = _module_texts(ctx, directory, ai_inputs)
            out += _ai_findings(path, data, ai_modules.get(directory) if path.endswith(".tf") else None)
        plan.tf_dirs |= set(ai_modules) | {posixpath.dirname(p) for p, k in plan.for_checkov.items()
                                           if k in (Kind.TERRAFORM, Kind.TFVARS)}
        if helm_paths:
            plan.charts, known = helm.plan(helm_paths, ctx, head)
            out += known
        if kustomize_paths:
            memory_mb = int(ctx.policy.options.get("memory_mb", DEFAULT_MEMORY_MB))
            plan.kustomize, known = kustomize.plan(kustomize_paths, ctx, head, memory_mb)
            out += known
            if plan.kustomize is not None:
                plan.contents.update(plan.kustomize.contents)
                for path in plan.kustomize.inputs:  # patches, generator inputs: not whole manifests
                    plan.for_checkov.pop(path, None)
        return plan

    def _scan(self, plans: list[_Plan]) -> list[list[Finding | Skipped]]:
        """Run the engines once over every side's plan; each side's findings, in the plans' order."""
        ctx = plans[0].ctx
        options = ctx.policy.options
        memory_mb = int(options.get("memory_mb", DEFAULT_MEMORY_MB))
        results = engines_over_sides.run([p.engine_inputs() for p in plans], ctx, memory_mb=memory_mb)
        skip = set(options.get("skip_rules", ()))
        overrides = {k: Severity(v) for k, v in dict(options.get("severity", {})).items()}
        out = []
        for plan, result in zip(plans, results, strict=True):
            items = list(plan.out)
            if result.checkov is not None:
                items += _checkov_items(result.checkov, plan)
            if result.zizmor is not None:
                items += _zizmor_items(result.zizmor, plan)
            if plan.charts:
                items += helm.findings(result.checkov, plan.charts, plan.ctx, plan.head)
            if plan.kustomize is not None:
                items += kustomize.findings(result.checkov, plan.kustomize, plan.head)
            kept: list[Finding | Skipped] = []
            for item in items:
                if isinstance(item, Finding):
                    if item.rule_id in skip:
                        continue
                    if item.rule_id in overrides:
                        item = with_severity(item, overrides[item.rule_id])
                kept.append(item)
            out.append(kept)
        return out


def _checkov_items(result: checkov.CheckovRun, plan: _Plan) -> list[Finding | Skipped]:
    """checkov's failures on the changed files. A failure in an unchanged file of a changed Terraform
    module (a resource in `main.tf` that a changed `variables.tf` or `.tfvars` makes fail) is reported
    on the module's changed file, as a whole-file finding naming the resource and its file: it keeps
    its own fingerprint, so one that the base already had is not new."""
    for_checkov, tf_dirs = plan.for_checkov, plan.tf_dirs
    out: list[Finding | Skipped] = []
    for path in dict.fromkeys(result.parse_errors):
        if path in for_checkov:
            out += unparsable(path, "checkov could not parse it", plan.head)
    changed_in: dict[str, str] = {}
    for path, kind in sorted(for_checkov.items(), key=lambda item: (item[1] is not Kind.TFVARS, item[0])):
        if kind in (Kind.TERRAFORM, Kind.TFVARS):
            changed_in.setdefault(posixpath.dirname(path), path)  # a .tfvars first, else the first .tf
    for failure in result.failures:
        if failure.path in for_checkov:
            out.append(checkov_finding(failure))
        elif posixpath.dirname(failure.path) in tf_dirs:
            reported_on = changed_in.get(posixpath.dirname(failure.path), failure.path)
            out.append(checkov_finding(failure, reported_on=reported_on))
    return out


def _zizmor_items(result: zizmor.ZizmorRun, plan: _Plan) -> list[Finding | Skipped]:
    out: list[Finding | Skipped] = []
    for path in result.unparsed:
        out += unparsable(path, "zizmor could not load it as a GitHub Actions file (YAML or schema error)",
                          plan.head)
    wanted = set(plan.for_zizmor)
    out += [zizmor_finding(f) for f in result.findings if f.path in wanted]
    return out


def _module_files(ctx: CheckContext, directory: str) -> list[str]:
    """The files of Terraform module `directory` on this side that exist (never following symlinks)."""
    lister = getattr(ctx.change.reader, "list_dir", None)
    if lister is not None:
        try:
            names = [n for n in lister(ctx.side, directory) if n.endswith((".tf", ".tf.json", ".tfvars"))]
            return [posixpath.join(directory, n) for n in names]
        except (OSError, ReadError):
            pass
    found = []
    for name in TERRAFORM_NEIGHBOURS:
        path = posixpath.join(directory, name)
        try:
            if ctx.read(path) is not None:
                found.append(path)
        except (ReadError, ValueError):
            continue
    return found


def _module_texts(ctx: CheckContext, directory: str, changed: dict[str, bytes]) -> dict[str, str]:
    """The .tf files of module `directory` on this side (changed ones as this run sees them), as text."""
    texts = {p: d.decode("utf-8", "replace") for p, d in changed.items()
             if p.endswith(".tf") and posixpath.dirname(p) == directory}
    for path in _module_files(ctx, directory):
        if path.endswith(".tf") and path not in texts:
            try:
                data = ctx.read(path)
            except (ReadError, ValueError):
                continue
            if data is not None:
                texts[path] = data.decode("utf-8", "replace")
    return texts


# --- prguard's AI-infrastructure rules ---------------------------------------------------------------------
def _ai_applies(path: str) -> bool:
    if ai_rules is None:
        return False
    try:
        return bool(ai_rules.applies(path))
    except Exception:
        return False


def _ai_findings(path: str, data: bytes, module: dict[str, str] | None) -> list[Finding | Skipped]:
    assert ai_rules is not None
    try:
        text = data.decode("utf-8-sig", "replace")
        found = list(ai_rules.scan_file(path, text, module) if module else ai_rules.scan_file(path, text))
    except Exception as exc:  # one rule module failing must not hide the engines' findings
        reason = f"prguard's AI-infrastructure rules failed on this file ({type(exc).__name__})"
        return [Skipped(path, reason)]
    out: list[Finding | Skipped] = []
    for f in found:
        if isinstance(f, Finding):
            meta = {"engine": "prguard", **f.metadata}
            out.append(f if f.metadata.get("engine") else _with_metadata(f, meta))
    return out


def _with_metadata(finding: Finding, metadata: dict[str, object]) -> Finding:
    import dataclasses

    return dataclasses.replace(finding, metadata=metadata)
