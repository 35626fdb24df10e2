"""A PR's history from GitHub (`bot.github.pull_commits`) against the GitHub double over real HTTP.

The double's two new endpoints first (their replies parse with githubkit's models, GitHub's limits and
pagination hold), then the builder: what it requests per PR, the head commit it does not fetch, the commit
cap and GitHub's 250-commit limit listed as not scanned, patches GitHub omits listed, and a list that ends on
another head raising `HeadMoved`.
"""

from __future__ import annotations

import pytest

from bot.github.pull_change import HeadMoved
from bot.github.pull_commits import build_history, next_page
from tests.github_double import GitHubDouble
from tests.github_double.testing import installation_client
from tests.secrets_keys import rand

REPO = "octo/repo"


def pr_with_pushes(d: GitHubDouble, pushes: int) -> tuple[int, object, list[str]]:
    """`octo/repo` PR #1 whose first commit adds a.txt, then `pushes` commits adding p<i>.txt."""
    inst = d.add_installation("octo")
    d.add_repo(REPO, files={"README.md": b"hello\n"})
    pr = d.create_pull_request(REPO, changes={"a.txt": (None, b"a\n")})
    shas = [pr.head_sha] + [d.push(REPO, pr.number, {f"p{i}.txt": b"p %d\n" % i}) for i in range(pushes)]
    return inst, pr, shas


# ------------------------------------------------------------------------------------------------- double
async def test_the_double_lists_a_prs_commits_oldest_first_with_githubs_limit(
    github_double: GitHubDouble,
) -> None:
    d = github_double
    inst, pr, shas = pr_with_pushes(d, 259)  # 260 commits: GitHub lists 250
    async with installation_client(d, inst) as gh:
        first = await gh.rest.pulls.async_list_commits("octo", "repo", pr.number, per_page=100)
        assert [c.sha for c in first.parsed_data] == shas[:100]
        assert next_page(first.headers.get("link")) == 2
        listed = [c.sha async for c in gh.rest.paginate(gh.rest.pulls.async_list_commits, owner="octo",
                                                         repo="repo", pull_number=pr.number, per_page=100)]
        assert listed == shas[:250]
        assert (await gh.rest.pulls.async_get("octo", "repo", pr.number)).parsed_data.commits == 260
        assert len((await gh.rest.pulls.async_list_commits("octo", "repo", pr.number)).parsed_data) == 30


async def test_the_double_gives_a_commit_with_its_files_and_patches(github_double: GitHubDouble) -> None:
    d = github_double
    inst, pr, shas = pr_with_pushes(d, 1)
    many = d.push(REPO, pr.number, {f"m/{i:03d}.txt": b"m\n" for i in range(301)} | {"x.bin": b"\0\1"})
    async with installation_client(d, inst) as gh:
        one = (await gh.rest.repos.async_get_commit("octo", "repo", shas[0])).parsed_data
        assert (one.sha, [p.sha for p in one.parents]) == (shas[0], [pr.base_sha])
        assert [(f.filename, f.status, f.patch) for f in one.files] == [
            ("a.txt", "added", "@@ -0,0 +1 @@\n+a")]
        page1 = await gh.rest.repos.async_get_commit("octo", "repo", many)
        assert len(page1.parsed_data.files) == 300 and next_page(page1.headers.get("link")) == 2
        page2 = (await gh.rest.repos.async_get_commit("octo", "repo", many, page=2)).parsed_data
        assert [(f.filename, isinstance(f.patch, str)) for f in page2.files] == [
            ("m/300.txt", True), ("x.bin", False)]
        assert page2.stats.additions == page1.parsed_data.stats.additions == 301, "stats: the whole commit"
        small = (await gh.rest.repos.async_get_commit("octo", "repo", many, per_page=100, page=4)).parsed_data
        assert [f.filename for f in small.files] == ["m/300.txt", "x.bin"]


# ------------------------------------------------------------------------------------------------ builder
async def test_one_list_and_one_request_per_commit_but_not_the_head(github_double: GitHubDouble) -> None:
    d = github_double
    token = "ghp_" + rand(36)
    inst, pr, (first,) = pr_with_pushes(d, 0)
    second = d.push(REPO, pr.number, {"leak.py": f'T = "{token}"\n'.encode(), "logo.png": b"\x89PNG\0\0"})
    head = d.push(REPO, pr.number, {"leak.py": None})
    async with installation_client(d, inst) as gh:
        hist = await build_history(gh, "octo", "repo", pr_number=pr.number, head_sha=head, max_commits=200)
    assert [c.sha for c in hist.commits] == [first, second, head] and hist.total_commits == 3
    files = {c.sha: {f.path: f.added for f in c.files} for c in hist.commits}
    assert files[second] == {"leak.py": f'T = "{token}"\n'.encode()}
    assert files[head] == {}, "the head commit is not fetched: the head scan covers what it added"
    assert [(s.path, s.reason) for s in hist.skipped] == [
        ("logo.png", "GitHub sent no patch (a binary file, or a diff too large to show); added in commit "
                     f"{second[:12]}")]
    requests = [r.path for r in d.requests(method="GET") if "/commits" in r.path]
    assert sorted(requests) == sorted([f"/repos/octo/repo/pulls/{pr.number}/commits",
                                       f"/repos/octo/repo/commits/{first}",
                                       f"/repos/octo/repo/commits/{second}"])


async def test_the_commit_cap_and_githubs_limit_are_listed_as_not_scanned(
    github_double: GitHubDouble,
) -> None:
    d = github_double
    inst, pr, shas = pr_with_pushes(d, 259)
    async with installation_client(d, inst) as gh:
        hist = await build_history(gh, "octo", "repo", pr_number=pr.number, head_sha=shas[-1],
                                   max_commits=200)
    assert [c.sha for c in hist.commits] == shas[:200] and hist.total_commits is None
    assert [(s.path, s.reason) for s in hist.skipped] == [
        ("(50 more commits)", f"the history scan reads at most 200 commits (PRGUARD_HISTORY_MAX_COMMITS or "
                              f"--max-commits); what commits {shas[200][:12]}…{shas[249][:12]} added was not "
                              "scanned for secrets"),
        ("(more commits)", "GitHub lists at most 250 commits of a pull request; what the later commits added "
                           "was not scanned"),
    ]
    assert len(d.requests(method="GET", path_regex=r"^/repos/octo/repo/commits/[0-9a-f]{40}$")) == 200


async def test_a_single_commit_pr_costs_one_request(github_double: GitHubDouble) -> None:
    d = github_double
    inst, pr, _ = pr_with_pushes(d, 0)
    async with installation_client(d, inst) as gh:
        hist = await build_history(gh, "octo", "repo", pr_number=pr.number, head_sha=pr.head_sha,
                                   max_commits=200)
    assert [c.sha for c in hist.commits] == [pr.head_sha] and hist.skipped == []
    assert [r.path for r in d.requests(method="GET") if "/commits" in r.path] == [
        f"/repos/octo/repo/pulls/{pr.number}/commits"]


async def test_a_list_that_ends_on_another_head_raises_head_moved(github_double: GitHubDouble) -> None:
    d = github_double
    inst, pr, shas = pr_with_pushes(d, 1)
    async with installation_client(d, inst) as gh:
        with pytest.raises(HeadMoved) as moved:
            await build_history(gh, "octo", "repo", pr_number=pr.number, head_sha=shas[0], max_commits=200)
    assert (moved.value.scanning, moved.value.listed) == (shas[0], shas[1])
