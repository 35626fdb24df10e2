"""Benchmark: the IaC check on a PR touching 20 IaC files and 5 workflows, beside plain checkov and zizmor.

The branch modifies 10 IaC files and 3 workflows that exist on its base and adds 10 IaC files and 2
workflows (Terraform in two modules, Kubernetes manifests, Dockerfiles, CloudFormation, an ARM template).
Rows, each the best of N runs in the same process and on the same files:

- "prguard iac check": `run_check(IacCheck(), change)` — both sides (the baseline needs the base's
  findings), the materialized trees, parsing and mapping;
- "plain checkov + zizmor, head": one `checkov -d` (same frameworks) and one `zizmor --offline` over the
  head's files — what a user running the engines once would pay;
- "plain checkov + zizmor, head + base": the same on both sides — the engines' own share of the check's
  work, so `check / this` is what prguard adds (goal: at most 1.2x).

    .venv/bin/python bench/iac.py [RUNS]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from checks.engine import run_check
from checks.git_change import change_from_git
from checks.iac import IacCheck
from checks.iac.checkov import OFFLINE_ENV
from checks.iac.engines import checkov_path, zizmor_path
from tests.gitrepo import GitRepo

FRAMEWORKS = ["terraform", "kubernetes", "dockerfile", "cloudformation", "arm", "github_actions"]


def tf_bucket(i: int, acl: str) -> str:
    return (f'resource "aws_s3_bucket" "b{i}" {{\n  bucket = "bucket-{i}"\n  acl    = "{acl}"\n}}\n\n'
            f'resource "aws_security_group" "sg{i}" {{\n  name = "sg{i}"\n  ingress {{\n'
            f'    from_port   = {20 + i}\n    to_port     = {20 + i}\n    protocol    = "tcp"\n'
            f'    cidr_blocks = [var.cidr]\n  }}\n}}\n')


def pod(i: int, privileged: bool) -> str:
    return (f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app{i}\nspec:\n  replicas: 2\n"
            f"  selector:\n    matchLabels: {{app: app{i}}}\n  template:\n    metadata:\n"
            f"      labels: {{app: app{i}}}\n    spec:\n      containers:\n        - name: c\n"
            f"          image: nginx:1.27\n          securityContext:\n"
            f"            privileged: {'true' if privileged else 'false'}\n")


def dockerfile(i: int, user: str) -> str:
    return f"FROM python:3.12-slim\nRUN pip install app{i}\nUSER {user}\nCMD [\"python\"]\n"


def cfn(i: int, access: str) -> str:
    return (f'AWSTemplateFormatVersion: "2010-09-09"\nResources:\n  Bucket{i}:\n    Type: AWS::S3::Bucket\n'
            f"    Properties:\n      AccessControl: {access}\n")


ARM = """{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
  "contentVersion": "1.0.0.0",
  "resources": [{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2021-09-01", "name": "st%d",
    "location": "westeurope", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2",
    "properties": {"supportsHttpsTrafficOnly": %s, "minimumTlsVersion": "TLS1_0"}}]
}
"""


def workflow(i: int, trigger: str) -> str:
    return (f"name: wf{i}\non: {trigger}\npermissions: {{}}\njobs:\n  build:\n    runs-on: ubuntu-latest\n"
            f"    steps:\n      - uses: actions/checkout@v4\n"
            f"      - run: echo \"${{{{ github.event.pull_request.title }}}}\"\n")


def files(head: bool) -> dict[str, str]:
    """10 IaC files + 3 workflows on the base; the head changes them and adds 10 + 2 more."""
    acl, priv, user, access = ("public-read", True, "root", "PublicRead") if head else \
        ("private", False, "app", "Private")
    out = {"mod_a/variables.tf": 'variable "cidr" {\n  default = "10.0.0.0/8"\n}\n',
           "mod_b/variables.tf": 'variable "cidr" {\n  default = "0.0.0.0/0"\n}\n'}
    for i in range(4):
        out[f"mod_a/bucket{i}.tf"] = tf_bucket(i, acl)
    for i in range(2):
        out[f"k8s/app{i}.yaml"] = pod(i, priv)
    out["docker/a/Dockerfile"] = dockerfile(0, user)
    out["cfn/bucket0.yaml"] = cfn(0, access)
    out["arm/storage0.json"] = ARM % (0, "false" if head else "true")
    out["k8s/app9.yaml"] = pod(9, False).replace("replicas: 2", "replicas: 3" if head else "replicas: 2")
    for i in range(3):
        out[f".github/workflows/wf{i}.yml"] = workflow(i, "pull_request_target" if head else "push")
    if head:
        for i in range(4, 8):
            out[f"mod_b/bucket{i}.tf"] = tf_bucket(i, "public-read")
        for i in range(2, 5):
            out[f"k8s/app{i}.yaml"] = pod(i, True)
        out["docker/b/Dockerfile"] = dockerfile(1, "root")
        out["cfn/bucket1.yaml"] = cfn(1, "PublicReadWrite")
        out["arm/storage1.json"] = ARM % (1, "false")
        for i in range(3, 5):
            out[f".github/workflows/wf{i}.yml"] = workflow(i, "pull_request_target")
    return out


def best(runs: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def plain_commands(root: Path, home: Path) -> list[tuple[list[str], dict[str, str], tuple[int, ...]]]:
    """The plain engine runs over `root` (argv, environment, exit codes that mean "ran"): one checkov, one
    zizmor. Shared with bench/per_check.py, which runs them under its own timer."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), **OFFLINE_ENV}
    workflows = sorted(str(p.relative_to(root)) for p in (root / ".github" / "workflows").glob("*.yml"))
    return [([checkov_path(), "-d", ".", "--framework", *FRAMEWORKS, "-o", "json", "--compact",
              "--skip-download"], env, (0, 1)),
            ([zizmor_path(), "--offline", "--no-config", "--format", "json", *workflows], env,
             (0, 10, 11, 12, 13, 14))]


def plain(root: Path, home: Path) -> None:
    for argv, env, ok in plain_commands(root, home):
        proc = subprocess.run(argv, cwd=root, capture_output=True, env=env, check=False)
        assert proc.returncode in ok, proc.stderr[-400:]


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    with tempfile.TemporaryDirectory() as tmp:
        base_files, head_files = files(False), files(True)
        repo = GitRepo.on_feature_branch(Path(tmp) / "repo", base_files)
        repo.commit(head_files, "infrastructure changes")
        base_tree = Path(tmp) / "base"
        for rel, text in base_files.items():
            (base_tree / rel).parent.mkdir(parents=True, exist_ok=True)
            (base_tree / rel).write_text(text)
        home = Path(tmp) / "home"
        home.mkdir()
        change = change_from_git(repo.path, "main", head="HEAD")
        workflows = sum(f.path.startswith(".github/") for f in change.files)
        iac = len(change.files) - workflows
        result = run_check(IacCheck(), change)
        assert result.error is None, result.error
        check_s = best(runs, lambda: run_check(IacCheck(), change))
        head_s = best(runs, lambda: plain(repo.path, home))
        both_s = best(runs, lambda: (plain(repo.path, home), plain(base_tree, home)))
    load = os.getloadavg()[0]
    print(f"PR: {iac} IaC files and {workflows} workflows changed; {len(result.findings)} new findings; "
          f"best of {runs}; load average {load:.1f} on {os.cpu_count()} cores\n")
    print("| run | seconds | check / run |")
    print("|---|---:|---:|")
    print(f"| prguard iac check (head + base, mapping, trees) | {check_s:.2f} | 1.00x |")
    print(f"| plain checkov + zizmor, head only | {head_s:.2f} | {check_s / head_s:.2f}x |")
    print(f"| plain checkov + zizmor, head + base | {both_s:.2f} | {check_s / both_s:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
