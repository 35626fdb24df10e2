"""Kustomize in the IaC check, through the real engines: kustomizations rendered offline by the machine's
`kubectl kustomize`, their objects scanned by checkov, on kustomizations this module writes to a git branch.

One branch holds every case, so checkov runs once (both sides) for the whole module: an overlay patch that
makes a Deployment privileged, an unrelated edit to an already flawed overlay, a base edit that reaches an
overlay beside it, a remote base, a kustomization that is not YAML, one that kubectl cannot build, one
that reaches outside the repository, and one that uses a symlinked file.

kubectl is required (CI runs on this machine, which has it): without it these tests fail, saying so.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from checks.engine import CheckResult, run_check
from checks.finding import Finding, Severity
from checks.git_change import change_from_git
from checks.iac import IacCheck, kustomize, kustomize_refs
from checks.iac.engines import KUSTOMIZE_OFFLINE_ENV
from checks.iac.mapping import PARSE_ERROR
from tests.gitrepo import GitRepo

NEEDS_KUBECTL = ("kubectl (or kustomize) must be on PATH for the Kustomize tests: these tests render real "
                 "kustomizations and must not pass without a renderer")

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: nginx:1.27
"""
BASE_K = "resources:\n  - deployment.yaml\n"
OVERLAY_K = "namespace: prod\nresources:\n  - ../../base\npatches:\n  - path: patch.yaml\n"
PATCH = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
"""
PRIVILEGED_PATCH = PATCH + """  template:
    spec:
      containers:
        - name: web
          securityContext:
            privileged: true
"""
REMOTE = "https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v3.3.1"


def app(root: str, patch: str = PATCH) -> dict[str, str]:
    return {f"{root}/base/kustomization.yaml": BASE_K, f"{root}/base/deployment.yaml": DEPLOYMENT,
            f"{root}/overlays/prod/kustomization.yaml": OVERLAY_K, f"{root}/overlays/prod/patch.yaml": patch}


BASE = {
    **app("app"),
    **app("old", patch=PRIVILEGED_PATCH),
    **app("deploy/svc"),
    "remote/kustomization.yaml": BASE_K, "remote/deployment.yaml": DEPLOYMENT,
    "broken/kustomization.yaml": BASE_K, "broken/deployment.yaml": DEPLOYMENT,
    "missing/kustomization.yaml": BASE_K, "missing/deployment.yaml": DEPLOYMENT,
    "escape/kustomization.yaml": BASE_K, "escape/deployment.yaml": DEPLOYMENT,
    "linked/kustomization.yaml": BASE_K, "linked/deployment.yaml": DEPLOYMENT,
}
HEAD = {
    "app/overlays/prod/patch.yaml": PRIVILEGED_PATCH,  # the overlay now renders a privileged container
    "old/overlays/prod/patch.yaml": PRIVILEGED_PATCH.replace("replicas: 2", "replicas: 3"),  # unrelated
    # the base's pods now share the host's PID namespace: the overlay beside it renders that too
    "deploy/svc/base/deployment.yaml": DEPLOYMENT.replace("    spec:\n", "    spec:\n      hostPID: true\n"),
    "remote/kustomization.yaml": BASE_K + f"  - {REMOTE}\n",
    "broken/kustomization.yaml": "resources:\n  - deployment.yaml\n  bad: [unclosed\n",
    "missing/kustomization.yaml": BASE_K + "  - not-there.yaml\n",
    "escape/kustomization.yaml": BASE_K + "  - ../../../../etc\n",
    "linked/kustomization.yaml": BASE_K + "  - service.yaml\n",
}


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> CheckResult:
    assert kustomize.renderer() is not None, NEEDS_KUBECTL
    repo = GitRepo.on_feature_branch(tmp_path_factory.mktemp("kustomize") / "repo", BASE)
    (repo.path / "elsewhere").mkdir()
    (repo.path / "elsewhere/service.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata: {name: s}\n")
    repo.symlink("linked/service.yaml", "../elsewhere/service.yaml")  # never followed
    repo.commit(HEAD, "kustomize changes")
    change = change_from_git(repo.path, "main", head="HEAD")
    return run_check(IacCheck(), change, timeout=150)


def on(result: CheckResult, path: str) -> list[Finding]:
    return [f for f in result.findings if f.path == path]


def skipped(result: CheckResult, path: str) -> list[str]:
    return [s.reason for s in result.skipped if s.path == path]


def test_kubectl_is_on_path() -> None:
    assert kustomize.renderer() is not None, NEEDS_KUBECTL


@pytest.mark.timeout(200)
def test_the_check_finishes_without_error(result: CheckResult) -> None:
    assert result.error is None, result.error


def test_an_overlay_patch_that_makes_a_deployment_privileged_is_reported_on_the_patch(
        result: CheckResult) -> None:
    found = {f.rule_id: f for f in on(result, "app/overlays/prod/patch.yaml")}
    privileged = found["CKV_K8S_16"]
    assert privileged.severity is Severity.CRITICAL and privileged.file_level
    assert privileged.metadata["framework"] == "kustomize"
    assert privileged.metadata["kustomization"] == "app/overlays/prod/kustomization.yaml"
    assert privileged.metadata["resource"] == "Deployment.prod.web"  # the overlay's namespace: rendered
    assert "app/overlays/prod/kustomization.yaml" in privileged.message
    # what the overlay failed on the base already (no probes, no limits, …) is not new
    assert "CKV_K8S_8" not in found and "CKV_K8S_11" not in found
    # a patch is not a whole manifest: it is not scanned on its own (no line-numbered duplicates)
    assert all(f.line == 0 for f in on(result, "app/overlays/prod/patch.yaml"))
    assert not skipped(result, "app/overlays/prod/patch.yaml")


def test_an_unrelated_edit_to_an_already_flawed_overlay_reports_nothing(result: CheckResult) -> None:
    assert on(result, "old/overlays/prod/patch.yaml") == []
    assert not skipped(result, "old/overlays/prod/patch.yaml")


def test_a_base_edit_is_rendered_through_the_overlay_beside_it(result: CheckResult) -> None:
    path = "deploy/svc/base/deployment.yaml"
    rendered = [f for f in on(result, path) if f.metadata.get("framework") == "kustomize"]
    assert [(f.rule_id, f.metadata["kustomization"], f.metadata["resource"]) for f in rendered] == [
        ("CKV_K8S_17", "deploy/svc/overlays/prod/kustomization.yaml", "Deployment.prod.web")]
    # the base's own kustomization is not rendered for a plain manifest it lists: the file's own scan
    # (with lines) covers it
    direct = [f for f in on(result, path) if f.metadata.get("framework") == "kubernetes"]
    assert [f.rule_id for f in direct] == ["CKV_K8S_17"] and direct[0].line > 0


def test_a_remote_base_is_never_fetched_and_never_clean(result: CheckResult) -> None:
    path = "remote/kustomization.yaml"
    [finding] = on(result, path)
    assert finding.rule_id == kustomize.NOT_RENDERED and finding.severity is Severity.HIGH
    [reason] = skipped(result, path)
    assert REMOTE in reason and "never fetches remote bases" in reason


def test_a_kustomization_that_is_not_yaml_is_never_clean(result: CheckResult) -> None:
    path = "broken/kustomization.yaml"
    assert [f.rule_id for f in on(result, path)] == [PARSE_ERROR]
    [reason] = skipped(result, path)
    assert reason.startswith("could not parse:") and "broken/kustomization.yaml" in reason


def test_a_kustomization_kubectl_cannot_build_is_never_clean(result: CheckResult) -> None:
    path = "missing/kustomization.yaml"
    assert [f.rule_id for f in on(result, path)] == [kustomize.NOT_RENDERED]
    [reason] = skipped(result, path)
    assert "kubectl kustomize failed: \"accumulating resources" in reason and "not-there.yaml" in reason
    assert "run.go" not in reason  # kubectl's log header is not the reason


def test_a_reference_outside_the_repository_is_refused(result: CheckResult) -> None:
    path = "escape/kustomization.yaml"
    assert [f.rule_id for f in on(result, path)] == [kustomize.NOT_RENDERED]
    [reason] = skipped(result, path)
    assert "../../../../etc" in reason and "outside the repository" in reason


def test_a_symlinked_file_is_not_followed(result: CheckResult) -> None:
    path = "linked/kustomization.yaml"
    assert [f.rule_id for f in on(result, path)] == [kustomize.NOT_RENDERED]
    [reason] = skipped(result, path)
    assert "service.yaml" in reason  # absent from the render: kubectl says it cannot find it


# --- the second guard: the renderer's environment -----------------------------------------------------------
@pytest.mark.timeout(60)
def test_the_renderers_environment_has_no_way_out(tmp_path: Path) -> None:
    """With prguard's refusal bypassed, kubectl itself cannot fetch a remote resource: the proxy is dead."""
    command = kustomize.renderer()
    assert command is not None, NEEDS_KUBECTL
    (tmp_path / "kustomization.yaml").write_text(
        "resources:\n  - https://raw.githubusercontent.com/kubernetes/website/main/content/en/examples/"
        "application/deployment.yaml\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **KUSTOMIZE_OFFLINE_ENV}
    done = subprocess.run([*command, str(tmp_path)], capture_output=True, text=True, timeout=50, env=env)
    assert done.returncode != 0
    assert "127.0.0.1:9" in done.stderr or "proxy" in done.stderr.lower(), done.stderr
    assert KUSTOMIZE_OFFLINE_ENV["CHECKOV_KUSTOMIZE_ALLOWED_REMOTE_PREFIXES"] == "none"
    assert KUSTOMIZE_OFFLINE_ENV["GIT_TERMINAL_PROMPT"] == "0"


def test_references_are_read_as_kustomize_does() -> None:
    doc = {"resources": ["../base", "a.yaml"], "patchesStrategicMerge": ["p.yaml", "kind: X\nx: 1\n"],
           "patches": [{"path": "q.yaml"}, {"patch": "inline"}],
           "configMapGenerator": [{"name": "c", "files": ["key=conf/app.properties"], "envs": ["e.env"]}],
           "components": ["../comp"], "openapi": {"path": "schema.json"}}
    assert sorted(kustomize_refs.references(doc)) == sorted([
        ("resources", "../base"), ("resources", "a.yaml"), ("patchesStrategicMerge", "p.yaml"),
        ("patches", "q.yaml"), ("configMapGenerator", "conf/app.properties"), ("configMapGenerator", "e.env"),
        ("components", "../comp"), ("openapi", "schema.json")])
    assert kustomize_refs.join_ref("app/overlays/prod", "../../base") == "app/base"
    assert kustomize_refs.join_ref("app", "../../etc") is None
    assert kustomize_refs.join_ref("app", "/etc") is None
    for remote in (REMOTE, "git@github.com:org/repo.git", "github.com/org/repo/base?ref=v1",
                   "git::https://example.com/r.git", "ssh://git@example.com/r"):
        assert kustomize_refs.REMOTE.search(remote), remote
    assert not kustomize_refs.REMOTE.search("../base") and not kustomize_refs.REMOTE.search("github/base")


@pytest.mark.timeout(120)
def test_engines_status_names_the_renderer() -> None:
    status = subprocess.run([str(Path(sys.executable).parent / "prguard"), "engines", "status"],
                            capture_output=True, text=True, timeout=110)
    [line] = [x for x in status.stdout.splitlines() if x.startswith("kustomize: ")]
    assert line.startswith("kustomize: v") and "kubectl kustomize" in line, status.stdout
