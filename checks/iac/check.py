"""`IacCheck`: what a change makes newly wrong in its infrastructure and CI configuration.

Three engines, each run once per side (head, then base for the baseline):
- checkov on Terraform (.tf, .tfvars), Kubernetes, Dockerfiles, CloudFormation/SAM, ARM/Bicep, Serverless,
  OpenAPI and GitHub Actions files, over one materialized tree holding the changed files plus the usual
  files of each changed Terraform module's directory, so variables and locals declared beside resolve;
- zizmor on workflows, composite actions and dependabot.yml;
- prguard's own AI-infrastructure rules (`checks.iac.ai_rules`, when installed) on the files they apply to.

Novelty is BASELINE: a finding's fingerprint is (rule, file, resource) with no line number, so it is new
when the base run did not produce it. An added line that makes an old resource block fail is therefore
reported, and an unrelated edit to an already flawed file is not. Only files the change touched are
reported on, though the tree holds more.
"""

from __future__ import annotations

import posixpath
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from checks.base import Novelty
from checks.change import ChangedFile, FileStatus, ReadError
from checks.context import write_file
from checks.finding import Finding, Severity, Skipped, make_fingerprint
from checks.iac import checkov, severities, zizmor
from checks.iac.engines import DEFAULT_MEMORY_MB
from checks.iac.kinds import CHECKOV_FRAMEWORK, ZIZMOR_KINDS, Kind, kind_of, maybe_iac, path_kind
from checks.iac.parsing import parse_error

if TYPE_CHECKING:
    from checks.context import CheckContext

try:  # prguard's AI-infrastructure rules; the check works without them
    from checks.iac import ai_rules as _ai_rules
except ImportError:  # pragma: no cover - only before the package exists
    _ai_rules = None

ai_rules: ModuleType | None = _ai_rules

PARSE_ERROR = "iac/parse-error"
_PREFETCH = "iac_base_prefetch"  # the workspace attribute holding the base side's `_Prefetch`
DOCS = "docs/iac.md"
#: files a Terraform module usually splits into; materialized beside a changed .tf so references resolve
#: (a reader that can list directories, `reader.list_dir(side, dir)`, gives the real list instead)
TERRAFORM_NEIGHBOURS = ("main.tf", "variables.tf", "vars.tf", "outputs.tf", "locals.tf", "providers.tf",
                        "versions.tf", "data.tf", "terraform.tf", "backend.tf", "terraform.tfvars",
                        "terraform.tfvars.json")
_NOT_RENDERED = {
    Kind.HELM: "Helm chart file: not rendered (rendering needs the helm binary, not installed here); "
               "its manifests are not scanned",
    Kind.KUSTOMIZE: "kustomization: overlays are not rendered (remote bases would need the network); "
                    "the manifests it lists are scanned as Kubernetes files when changed",
}
#: kinds whose YAML/JSON text is checked to parse before an engine sees it
_STRUCTURED = {Kind.KUBERNETES, Kind.CLOUDFORMATION, Kind.ARM, Kind.SERVERLESS, Kind.OPENAPI, Kind.WORKFLOW,
               Kind.ACTION, Kind.DEPENDABOT, Kind.TERRAFORM, Kind.TFVARS}


class IacCheck:
    name = "iac"
    title = "IaC / CI config"
    novelty = Novelty.BASELINE

    def applies_to(self, file: ChangedFile) -> bool:
        if file.status is FileStatus.REMOVED or file.is_symlink or file.is_binary:
            return False
        return maybe_iac(file.path) or _ai_applies(file.path)

    def run(self, files: Sequence[ChangedFile], ctx: CheckContext) -> Iterator[Finding | Skipped]:
        """Scan this side. The head run starts the base side's engines beside its own (`_Prefetch`), so the
        baseline costs about one engine run of wall time, not two; the base run then only collects."""
        if ctx.side == "base":
            early: _Prefetch | None = getattr(ctx.workspace, _PREFETCH, None)
            yield from early.result() if early is not None else self._scan(files, ctx)
            return
        early = _Prefetch(lambda: self._scan_base(files, ctx))
        setattr(ctx.workspace, _PREFETCH, early)
        try:
            items = self._scan(files, ctx)
        except BaseException:
            early.wait()  # its engines stop at the same deadline; the trees go when the check ends
            raise
        yield from items

    def _scan_base(self, head_files: Sequence[ChangedFile], ctx: CheckContext) -> list[Finding | Skipped]:
        from checks.engine import _base_files  # the very files the engine's base run would be handed

        base = _base_files(ctx.change, list(head_files), ctx.deadline)
        # the head's Terraform modules, even where the change added every changed file: their unchanged
        # files' old failures must be known to the baseline (see `_checkov`)
        modules = {posixpath.dirname(f.path) for f in head_files
                   if path_kind(f.path) in (Kind.TERRAFORM, Kind.TFVARS)}
        return self._scan(base, ctx.for_side("base", base), modules) if base or modules else []

    def _scan(self, files: Sequence[ChangedFile], ctx: CheckContext,
              modules: set[str] | None = None) -> list[Finding | Skipped]:
        options = ctx.policy.options
        memory_mb = int(options.get("memory_mb", DEFAULT_MEMORY_MB))
        skip = set(options.get("skip_rules", ()))
        overrides = {k: Severity(v) for k, v in dict(options.get("severity", {})).items()}
        head = ctx.side == "head"
        contents: dict[str, bytes] = {}
        for_checkov: dict[str, Kind] = {}
        for_zizmor: list[str] = []
        out: list[Finding | Skipped] = []
        ai_inputs: dict[str, bytes] = {}
        for file in files:
            data = file.head_bytes()  # this run's side
            if data is None:
                continue
            kind = kind_of(file.path, data)
            if _ai_applies(file.path):
                ai_inputs[file.path] = data
            if kind is None:
                continue
            if kind in _NOT_RENDERED:
                if head:
                    out.append(Skipped(file.path, _NOT_RENDERED[kind]))
                continue
            problem = parse_error(file.path, data) if kind in _STRUCTURED else None
            if problem is not None:
                out += _unparsable(file.path, problem, head)
                continue
            contents[file.path] = data
            if kind in ZIZMOR_KINDS:
                for_zizmor.append(file.path)
                if kind is Kind.WORKFLOW:
                    for_checkov[file.path] = kind  # checkov's few GitHub Actions checks too
            else:
                for_checkov[file.path] = kind
        modules: dict[str, dict[str, str]] = {}
        for path, data in ai_inputs.items():
            directory = posixpath.dirname(path)
            if path.endswith(".tf") and directory not in modules:
                modules[directory] = _module_texts(ctx, directory, ai_inputs)
            out += _ai_findings(path, data, modules.get(directory) if path.endswith(".tf") else None)
        tf_dirs = set(modules or ()) | {posixpath.dirname(p) for p, k in for_checkov.items()
                                        if k in (Kind.TERRAFORM, Kind.TFVARS)}
        if for_checkov or for_zizmor or tf_dirs:
            tree = self._tree(ctx, contents, tf_dirs)
            if for_checkov or tf_dirs:
                out += self._checkov(tree, for_checkov, tf_dirs, ctx, memory_mb, head)
            if for_zizmor:
                out += self._zizmor(tree, for_zizmor, ctx, memory_mb, head)
        kept: list[Finding | Skipped] = []
        for item in out:
            if isinstance(item, Finding):
                if item.rule_id in skip:
                    continue
                if item.rule_id in overrides:
                    item = _with_severity(item, overrides[item.rule_id])
            kept.append(item)
        return kept

    # --- the tree --------------------------------------------------------------------------------------
    def _tree(self, ctx: CheckContext, contents: dict[str, bytes], tf_dirs: set[str]) -> Path:
        """The changed files of this side, plus the neighbours of each changed Terraform module."""
        neighbours = [p for d in sorted(tf_dirs) for p in _module_files(ctx, d) if p not in contents]
        tree = ctx.materialize(ctx.side, neighbours)
        for path, data in contents.items():
            write_file(tree, path, data)
        return tree

    # --- checkov ---------------------------------------------------------------------------------------
    def _checkov(self, tree: Path, for_checkov: dict[str, Kind], tf_dirs: set[str], ctx: CheckContext,
                 memory_mb: int, head: bool) -> list[Finding | Skipped]:
        """checkov's failures on the changed files. A failure in an unchanged file of a changed Terraform
        module (a resource in `main.tf` that a changed `variables.tf` or `.tfvars` makes fail) is reported
        on the module's changed file, as a whole-file finding naming the resource and its file: it keeps
        its own fingerprint, so one that the base already had is not new."""
        frameworks = {"github_actions" if k is Kind.WORKFLOW else CHECKOV_FRAMEWORK[k]
                      for k in for_checkov.values()}
        if tf_dirs:
            frameworks.add("terraform")
        result = checkov.run(tree, frameworks, ctx, memory_mb=memory_mb)
        out: list[Finding | Skipped] = []
        for path in dict.fromkeys(result.parse_errors):
            if path in for_checkov:
                out += _unparsable(path, "checkov could not parse it", head)
        changed_in = {}
        for path, kind in sorted(for_checkov.items(), key=lambda item: (item[1] is not Kind.TFVARS, item[0])):
            if kind in (Kind.TERRAFORM, Kind.TFVARS):
                changed_in.setdefault(posixpath.dirname(path), path)  # a .tfvars first, else the first .tf
        for failure in result.failures:
            if failure.path in for_checkov:
                out.append(_checkov_finding(failure))
            elif posixpath.dirname(failure.path) in tf_dirs:
                reported_on = changed_in.get(posixpath.dirname(failure.path), failure.path)
                out.append(_checkov_finding(failure, reported_on=reported_on))
        return out

    # --- zizmor ----------------------------------------------------------------------------------------
    def _zizmor(self, tree: Path, paths: list[str], ctx: CheckContext, memory_mb: int,
                head: bool) -> list[Finding | Skipped]:
        result = zizmor.run(tree, paths, ctx, memory_mb=memory_mb)
        out: list[Finding | Skipped] = []
        for path in result.unparsed:
            out += _unparsable(path, "zizmor could not load it as a GitHub Actions file (YAML or schema "
                                     "error)", head)
        wanted = set(paths)
        out += [_zizmor_finding(f) for f in result.findings if f.path in wanted]
        return out


class _Prefetch:
    """The base side's scan, running in a thread while the head side's runs."""

    def __init__(self, scan: Callable[[], list[Finding | Skipped]]) -> None:
        self._value: list[Finding | Skipped] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(scan,), name="iac-base", daemon=True)
        self._thread.start()

    def _run(self, scan: Callable[[], list[Finding | Skipped]]) -> None:
        try:
            self._value = scan()
        except BaseException as exc:  # re-raised in the base run, where the engine reports it
            self._error = exc

    def wait(self) -> None:
        self._thread.join()  # bounded: every engine it runs is killed at the check's deadline

    def result(self) -> list[Finding | Skipped]:
        self.wait()
        if self._error is not None:
            raise self._error
        return self._value


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


def _unparsable(path: str, reason: str, head: bool) -> list[Finding | Skipped]:
    """A file-level finding (new when the base parsed) and, on the head side, a skip saying it was not
    scanned: an unparsable file is never "clean"."""
    finding = Finding(
        rule_id=PARSE_ERROR, severity=Severity.HIGH, path=path, line=0,
        title="Could not parse this file: it was not scanned",
        message=f"could not parse {path}: {reason}. Its infrastructure/CI checks did not run.",
        fingerprint=make_fingerprint(PARSE_ERROR, path, ""),
        remediation="Fix the syntax error so the file can be scanned (and applied).",
        metadata={"engine": "prguard", "links": [f"{DOCS}#parse-errors"]})
    return [finding, Skipped(path, f"could not parse: {reason}")] if head else [finding]


def _checkov_finding(f: checkov.CheckovFailure, reported_on: str | None = None) -> Finding:
    """A finding for `f`, on its own lines, or (`reported_on`: a changed file of the same module) on the
    changed file as a whole, with the same fingerprint."""
    if reported_on is not None:
        finding = _checkov_finding(f)
        return Finding(
            rule_id=finding.rule_id, severity=finding.severity, path=reported_on, line=0, title=finding.title,
            message=f"{f.name} — now failed by `{f.resource}` in {f.path} (lines {f.start}-{f.end}), which "
                    f"this change does not touch: a value set here makes it fail (checkov {f.check_id}).",
            fingerprint=finding.fingerprint, remediation=finding.remediation,
            metadata={**finding.metadata, "resource_path": f.path, "resource_lines": [f.start, f.end]})
    severity = severities.checkov_severity(f.check_id)
    metadata: dict[str, object] = {
        "engine": "checkov", "framework": f.framework, "resource": f.resource,
        "severity_reason": severities.checkov_reason(f.check_id),
        "links": [severities.POLICY_INDEX.format(_index_page(f.framework))],
    }
    risk = severities.checkov_cicd(f.check_id)
    if risk:
        metadata["owasp"] = [risk]
    line = max(0, f.start)
    where = f"`{f.resource}`" if f.resource else "this file"
    return Finding(
        rule_id=f.check_id, severity=severity, path=f.path, line=line,
        end_line=f.end if f.end >= line and line else None, title=f.name,
        message=f"{f.name} — failed by {where} (checkov {f.check_id}).",
        fingerprint=make_fingerprint(f.check_id, f.path, _stable_resource(f.resource)),
        remediation=severities.remediation_from_name(f.name, f.resource), metadata=metadata)


def _stable_resource(resource: str) -> str:
    """The resource as fingerprinted: checkov names a workflow's top level `on(<workflow name>)`, so
    renaming a workflow would make its old findings look new."""
    return "on" if resource.startswith("on(") and resource.endswith(")") else resource


def _index_page(framework: str) -> str:
    return {"github_actions": "GitHub%20Actions", "cloudformation": "CloudFormation",
            "kubernetes": "Kubernetes", "terraform": "Terraform", "dockerfile": "Dockerfile",
            "arm": "arm", "bicep": "bicep", "serverless": "serverless", "openapi": "OpenAPI"}.get(
        framework, "all")


def _zizmor_finding(f: zizmor.ZizmorFinding) -> Finding:
    risk = severities.zizmor_cicd(f.audit)
    note = f" ({f.annotation})" if f.annotation else ""
    return Finding(
        rule_id=f.audit, severity=severities.zizmor_severity(f.severity, f.confidence), path=f.path,
        line=f.start, end_line=f.end if f.end > f.start else None, title=f.desc,
        message=f"{f.desc}{note} at {f.route or 'the top level'} — {risk} "
                f"{severities.CICD_RISKS[risk]} (zizmor {f.audit}, confidence {f.confidence.lower()}).",
        fingerprint=make_fingerprint(f.audit, f.path, f"{f.route_keys}\0{f.feature}"),
        remediation=f"See {f.url} for how to fix `{f.audit}`." if f.url else "",
        metadata={"engine": "zizmor", "resource": f.route, "owasp": [risk], "confidence": f.confidence,
                  "zizmor_severity": f.severity, "links": [f.url] if f.url else []})


def _with_severity(finding: Finding, severity: Severity) -> Finding:
    import dataclasses

    return dataclasses.replace(finding, severity=severity)


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
