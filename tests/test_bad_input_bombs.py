"""Bad input, end to end (issue 11, part 2; shared setup and what is measured: `tests/bad_input_app.py`):
YAML alias bombs in a PR's workflows and manifests and as the base policy, and zip and pickle bombs in model
files, through the App and through `prguard scan`.
"""

from __future__ import annotations

import asyncio
import gzip
from pathlib import Path

import pytest

from tests.ai_corpus import models as corpus
from tests.bad_input_app import (
    MAX_MB,
    MAX_SECONDS,
    SCAN,
    STRICT,
    assert_all_completed,
    assert_no_unchecked_success,
    assert_ordinary_pr_found,
    bounded,
    deliver,
    ordinary_leak,
    run_scan,
)
from tests.e2e_stack import Stack
from tests.github_double.double import GitHubDouble
from tests.gitrepo import GitRepo
from tests.secrets_keys import github_token

pytestmark = pytest.mark.timeout(120)


# --- YAML bombs: in the PR's workflows and manifests, and as the base policy ------------------------------


def billion_laughs(top: str) -> bytes:
    """Nine levels of ten aliases each: 10^9 leaves once expanded, under 1 KiB as written."""
    lines = ["x-a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 9):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"x-{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 10) + "]")
    return ("\n".join(lines) + f"\n{top}\n").encode()


async def test_yaml_bombs_in_a_workflow_and_a_manifest_are_bounded_and_never_pass(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    d = github_double
    with bounded():
        async with Stack(d, redis_url, redis_prefix, only=SCAN) as stack:
            inst = stack.repo()
            pr = d.create_pull_request("octo/repo", changes={
                ".github/workflows/bomb.yml": (None, billion_laughs(
                    "on: push\njobs:\n  b:\n    runs-on: ubuntu-latest\n    steps: *i")),
                "k8s/bomb.yaml": (None, billion_laughs(
                    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\ndata:\n  k: *i")),
                "litellm/config.yaml": (None, billion_laughs("model_list: [*i]")),
            })
            ordinary, token = ordinary_leak(d)
            await asyncio.gather(deliver(stack, pr, inst), deliver(stack, ordinary, inst))
            runs = await stack.completed(pr.head_sha, timeout=MAX_SECONDS)
            await assert_ordinary_pr_found(stack, ordinary, token)
    iac = runs["prguard/iac"]
    for path in (".github/workflows/bomb.yml", "k8s/bomb.yaml"):
        assert f"`{path}` — could not parse: YAML alias bomb" in iac.summary, iac.summary
    assert {(a["path"], a["raw_details"].split("\n")[0]) for a in iac.annotations} == {
        (".github/workflows/bomb.yml", "rule: iac/parse-error"), ("k8s/bomb.yaml", "rule: iac/parse-error"),
        ("litellm/config.yaml", "rule: PRG-AI-039")}
    assert iac.conclusion == "failure", (iac.title, iac.summary)
    assert_no_unchecked_success(runs)
    assert_all_completed(d, pr.head_sha)


@pytest.mark.parametrize("policy, reason", [
    (billion_laughs("fail_on: high"), "alias"),
    (b"# pad\n" * 20_000, "policy too large: 120000 bytes"),
], ids=["alias-bomb", "huge"])
async def test_a_bomb_or_a_huge_base_policy_fails_every_run_with_the_reason(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str, policy: bytes, reason: str
) -> None:
    d = github_double
    with bounded():
        async with Stack(d, redis_url, redis_prefix, only=SCAN) as stack:
            inst = d.add_installation("octo")
            d.add_repo("octo/repo", installation_id=inst, files={".github/prguard.yml": policy})
            leak = b"T = '%s'\n" % github_token().encode()
            pr = d.create_pull_request("octo/repo", changes={"app.py": (None, leak)})
            await deliver(stack, pr, inst)
            runs = await stack.completed(pr.head_sha, timeout=MAX_SECONDS)
    for name, run in runs.items():
        assert run.conclusion == "failure", (name, run.title)
        assert run.title.startswith("Invalid .github/prguard.yml"), run.title
        assert reason in run.summary, run.summary
    assert_all_completed(d, pr.head_sha)


def test_prguard_scan_survives_bombs_links_and_strange_names_in_bounded_time_and_rss(tmp_path: Path) -> None:
    repo = GitRepo.on_feature_branch(tmp_path / "repo", {"README.md": "hi\n"})
    repo.symlink("out.env", "../../../../etc/passwd")
    repo.commit({
        "k8s/bomb.yaml": billion_laughs("apiVersion: v1\nkind: ConfigMap\ndata:\n  k: *i"),
        ".github/workflows/bomb.yml": billion_laughs("on: push\njobs:\n  b:\n    steps: *i"),
        "models/bomb.pt": corpus.zip_bomb(),
        "esc\x1b[2Kape.py": f"T = '{github_token()}'\n",
    }, "hostile files")
    code, out, took, rss_mb = run_scan(repo)
    assert took < MAX_SECONDS and rss_mb < MAX_MB, (took, rss_mb)
    assert code == 1 and "Traceback" not in out, out[-3000:]
    assert "esc\\u001b[2Kape.py:1" in out and "\x1b" not in out
    for path in ("k8s/bomb.yaml", ".github/workflows/bomb.yml"):
        assert f"skipped {path}: could not parse: YAML alias bomb" in out, out[-3000:]
    assert "models/bomb.pt (whole file)" in out and "model-archive-bomb" in out
    assert "skipped out.env: symbolic link (its target is not followed)" in out


# --- bombs in model files -----------------------------------------------------------------------------------


async def test_zip_and_pickle_bombs_in_model_files_are_bounded_and_flagged(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    d = github_double
    memo_bomb = corpus.proto(4) + (corpus.ustr("x") + corpus.MEMOIZE) * 1_200_000 + corpus.STOP  # 5 MiB
    gzip_bomb = gzip.compress(corpus.proto(4) + b"\0" * (64 * 2**20), 9)  # 64 MiB of NULs in ~64 KiB
    with bounded():
        async with Stack(d, redis_url, redis_prefix, only=SCAN) as stack:
            inst = d.add_installation("octo")
            d.add_repo("octo/repo", installation_id=inst, files={".github/prguard.yml": STRICT})
            pr = d.create_pull_request("octo/repo", changes={
                "models/bomb.pt": (None, corpus.zip_bomb()),
                "models/bomb.zip": (None, corpus.zip_bomb()),
                "models/memo.pkl": (None, memo_bomb),
                "models/inflate.pkl": (None, gzip_bomb),
            })
            await deliver(stack, pr, inst)
            runs = await stack.completed(pr.head_sha, timeout=MAX_SECONDS)
    ps = runs["prguard/prompt-safety"]
    assert ps.conclusion == "failure", (ps.title, ps.summary)
    by_path: dict[str, set[str]] = {}
    for a in ps.annotations:
        by_path.setdefault(a["path"], set()).add(a["raw_details"].split("\n")[0].removeprefix("rule: "))
    assert "prompt-safety/model-archive-bomb" in by_path.get("models/bomb.pt", set()), by_path
    assert "prompt-safety/model-pickle-unreadable" in by_path.get("models/memo.pkl", set()), by_path
    assert "prompt-safety/model-archive-bomb" in by_path.get("models/inflate.pkl", set()), by_path
    assert "`models/bomb.zip` — binary" in runs["prguard/secrets"].summary
    assert_no_unchecked_success(runs)
    assert_all_completed(d, pr.head_sha)
