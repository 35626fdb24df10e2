"""The dependencies check in the App, end to end: a signed `pull_request` delivery for a PR that bumps a
lockfile into a vulnerable version → receiver → Redis → worker → `prguard/dependencies` on the GitHub double,
annotated on the lockfile line, with the advisory data's source and date in the run's summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dep_support import index_fixture, line_of, lock_v3, package_json
from tests.e2e_stack import Stack, pr_payload
from tests.github_double.double import GitHubDouble

index_dir = index_fixture()


async def test_pr_bumping_a_lockfile_into_a_vulnerable_version(
        github_double: GitHubDouble, redis_url: str, redis_prefix: str, index_dir: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRGUARD_ADVISORY_DIR", str(index_dir))  # the worker's environment
    manifest = package_json("shop", {"mkdirp": "^0.5.5"}).encode()
    base = lock_v3("shop", {"mkdirp": "^0.5.5"}, {"mkdirp": ("0.5.6", {"minimist": "^1.2.6"}),
                                                 "minimist": ("1.2.6", {})})
    head = lock_v3("shop", {"mkdirp": "^0.5.5"}, {"mkdirp": ("0.5.5", {"minimist": "^1.2.5"}),
                                                 "minimist": ("1.2.5", {})})
    async with Stack(github_double, redis_url, redis_prefix) as stack:
        inst = stack.repo({"package.json": manifest, "package-lock.json": base.encode()})
        pr = github_double.create_pull_request("octo/repo", changes={
            "package-lock.json": (base.encode(), head.encode())})
        assert (await stack.deliver("pull_request", pr_payload(pr, inst))).status_code == 202
        runs = await stack.completed(pr.head_sha)
    run = runs["prguard/dependencies"]
    assert run.conclusion == "failure"  # critical (CVSS 9.8) at the default fail_on high
    rules = sorted((a["path"], a["start_line"], a["title"]) for a in run.annotations)
    assert ("package-lock.json", line_of(head, '"node_modules/minimist"'),
            "[critical] minimist 1.2.5: 1 known vulnerability") in rules
    # the lockfile changed versions while package.json did not: said, at medium (often a refresh)
    assert ("package-lock.json", line_of(head, '"node_modules/mkdirp"'),
            "[medium] Lockfile versions changed with no manifest change (2 packages)") in rules
    assert "Advisory data: OSV from" in run.summary
