"""Helm charts in the IaC check, through the real engines: checkov's helm framework running prguard's
`helm` shim over Helm's Go SDK (helm-python-sdk), offline, on charts this module writes to a git branch.

One branch holds every case, so checkov runs once (both sides) for the whole module: a values.yaml edit
that turns a privileged container on, a flawed chart edited on an unrelated line, a new chart, a vendored
subchart made privileged by its parent's values, a template error, and a dependency that is not vendored.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from checks.engine import CheckResult, run_check
from checks.finding import Finding, Severity
from checks.git_change import change_from_git
from checks.iac import IacCheck
from checks.iac.engines import checkov_home, helm_shim_path
from checks.iac.helm import RENDER_ERROR
from checks.iac.kinds import Kind, path_kind
from tests.gitrepo import GitRepo

CHART = "apiVersion: v2\nname: NAME\nversion: 0.1.0\n"
VALUES = "image: nginx:1.27\nprivileged: false\nreplicas: 1\n"
DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "app.name" . }}
  labels: {app: web}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: {{ .Values.image }}
          securityContext:
            privileged: {{ .Values.privileged }}
"""
HELPERS = '{{- define "app.name" -}}{{ .Release.Name }}-{{ .Chart.Name }}{{- end -}}\n'
REMOTE_DEPENDENCY = ("dependencies:\n  - name: redis\n    version: 17.0.0\n"
                     "    repository: https://charts.example.invalid/bitnami\n")


def chart(directory: str, name: str, values: str = VALUES, deployment: str = DEPLOYMENT,
          chart_yaml: str | None = None) -> dict[str, str]:
    return {f"{directory}/Chart.yaml": chart_yaml or CHART.replace("NAME", name),
            f"{directory}/values.yaml": values,
            f"{directory}/templates/deployment.yaml": deployment,
            f"{directory}/templates/_helpers.tpl": HELPERS}


BASE = {
    **chart("charts/web", "web"),
    **chart("charts/old", "old", values=VALUES.replace("false", "true")),
    **chart("deploy/broken", "broken"),
    **chart("deploy/remote", "remote"),
    **chart("deploy/umbrella", "umbrella", chart_yaml=CHART.replace("NAME", "umbrella")
            + "dependencies:\n  - name: sub\n    version: 0.1.0\n"),
    **chart("deploy/umbrella/charts/sub", "sub"),
}
HEAD = {
    "charts/web/values.yaml": VALUES.replace("privileged: false", "privileged: true"),  # renders privileged
    "charts/old/values.yaml": VALUES.replace("false", "true").replace("replicas: 1", "replicas: 2"),
    **chart("charts/new", "new", values=VALUES.replace("false", "true")),  # a new chart, privileged
    "deploy/broken/templates/deployment.yaml": DEPLOYMENT + "  x: {{ .Values.missing.deeper }}\n",
    "deploy/remote/Chart.yaml": CHART.replace("NAME", "remote") + REMOTE_DEPENDENCY,
    "deploy/umbrella/values.yaml": VALUES + "sub:\n  privileged: true\n",  # the subchart's container
}


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> CheckResult:
    repo = GitRepo.on_feature_branch(tmp_path_factory.mktemp("helm") / "repo", BASE)
    repo.commit(HEAD, "chart changes")
    change = change_from_git(repo.path, "main", head="HEAD")
    return run_check(IacCheck(), change, timeout=150)


def on(result: CheckResult, path: str) -> list[Finding]:
    return [f for f in result.findings if f.path == path]


def skipped(result: CheckResult, path: str) -> list[str]:
    return [s.reason for s in result.skipped if s.path == path]


@pytest.mark.timeout(200)
def test_the_check_finishes_without_error(result: CheckResult) -> None:
    assert result.error is None, result.error


def test_a_values_change_that_renders_a_privileged_container_is_reported_on_values(
        result: CheckResult) -> None:
    found = {f.rule_id: f for f in on(result, "charts/web/values.yaml")}
    privileged = found["CKV_K8S_16"]
    assert privileged.severity is Severity.CRITICAL and privileged.file_level
    assert privileged.metadata["framework"] == "helm"
    assert privileged.metadata["resource_path"] == "charts/web/templates/deployment.yaml"
    assert privileged.metadata["resource"] == "Deployment.default.release-name-web"
    assert "charts/web/templates/deployment.yaml" in privileged.message
    # what the chart failed on the base already (no probes, no resource limits, …) is not new
    assert "CKV_K8S_8" not in found and "CKV_K8S_11" not in found
    assert not skipped(result, "charts/web/values.yaml")


def test_an_unrelated_edit_to_an_already_flawed_chart_reports_nothing(result: CheckResult) -> None:
    assert on(result, "charts/old/values.yaml") == []
    assert not skipped(result, "charts/old/values.yaml")


def test_a_new_chart_is_reported_on_its_template(result: CheckResult) -> None:
    found = {f.rule_id: f for f in on(result, "charts/new/templates/deployment.yaml")}
    assert found["CKV_K8S_16"].metadata["resource"] == "Deployment.default.release-name-new"
    assert "CKV_K8S_8" in found  # everything is new in a new chart
    assert on(result, "charts/new/values.yaml") == []  # reported where it renders, once


def test_a_vendored_subchart_renders_with_its_parents_values(result: CheckResult) -> None:
    found = {f.rule_id: f for f in on(result, "deploy/umbrella/values.yaml")}
    sub = "deploy/umbrella/charts/sub/templates/deployment.yaml"
    assert found["CKV_K8S_16"].metadata["resource_path"] == sub
    assert [f.rule_id for f in on(result, "deploy/umbrella/values.yaml")].count("CKV_K8S_16") == 1


def test_a_template_error_is_never_clean(result: CheckResult) -> None:
    path = "deploy/broken/templates/deployment.yaml"
    [error] = on(result, path)
    assert error.rule_id == RENDER_ERROR and error.severity is Severity.HIGH
    assert "nil pointer" in error.message
    [reason] = skipped(result, path)
    assert reason.startswith("Helm chart could not render:") and "deployment.yaml" in reason


def test_a_dependency_that_is_not_vendored_is_never_clean_and_never_fetched(result: CheckResult) -> None:
    path = "deploy/remote/Chart.yaml"
    [error] = on(result, path)
    assert error.rule_id == RENDER_ERROR
    [reason] = skipped(result, path)
    assert "not vendored in charts/" in reason
    assert "redis 17.0.0 from https://charts.example.invalid/bitnami (missing)" in reason
    assert "never downloads" in reason


def test_helpers_are_helm_files() -> None:
    assert path_kind("charts/web/templates/_helpers.tpl") is Kind.HELM
    assert path_kind("docs/_helpers.tpl") is None


# --- the shim and the engines environment ------------------------------------------------------------------
def shim() -> Path:
    found = helm_shim_path()
    assert found is not None, "the helm shim is not installed: run `prguard engines install`"
    return found


def test_the_shim_answers_checkovs_version_probe_as_helm_does() -> None:
    out = subprocess.run([str(shim()), "version"], capture_output=True, text=True, timeout=60,
                         check=True).stdout
    # checkov 3.3's `check_system_deps`: the text between the first ':' + 2 and the first ',' - 1
    assert out[out.find(":") + 2: out.find(",") - 1].startswith(("v3.", "v4."))


def test_the_shim_renders_like_helm_template_and_reports_each_chart(tmp_path: Path) -> None:
    for rel, text in chart("web", "web", values=VALUES + "---\n").items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    (tmp_path / "web/templates/NOTES.txt").write_text("installed {{ .Release.Name }}\n")
    (tmp_path / "web/templates/two.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
                                                     "---\n\n---\napiVersion: v1\nkind: ConfigMap\n"
                                                     "metadata: {name: b}\n")
    report = tmp_path / "report.jsonl"
    env = {"PATH": os.defpath, "PRGUARD_HELM_REPORT": str(report)}
    done = subprocess.run([str(shim()), "template", "--dependency-update", str(tmp_path / "web")],
                          capture_output=True, text=True, timeout=60, env=env)
    assert (done.returncode, done.stderr) == (0, "")
    sources = [line for line in done.stdout.splitlines() if line.startswith("# Source: ")]
    assert sources == ["# Source: web/templates/deployment.yaml", "# Source: web/templates/two.yaml",
                       "# Source: web/templates/two.yaml"]  # no NOTES.txt, no partials, no empty document
    assert done.stdout.startswith("---\n# Source: ")
    assert json.loads(report.read_text()) == {"chart": str(tmp_path / "web"), "ok": True, "error": "",
                                              "documents": 3}
    other = subprocess.run([str(shim()), "repo", "update"], capture_output=True, text=True, timeout=60,
                           env=env)
    assert other.returncode == 1 and "does not implement `helm repo update`" in other.stderr


def test_the_engines_environment_stays_consistent() -> None:
    python = checkov_home() / "bin" / "python"
    done = subprocess.run([str(python), "-m", "pip", "check"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    status = subprocess.run([str(Path(sys.executable).parent / "prguard"), "engines", "status"],
                            capture_output=True, text=True, timeout=120)
    assert "helm: v4." in status.stdout and "helm-python-sdk 0.2.2" in status.stdout, status.stdout
