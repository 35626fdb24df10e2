"""The App scans every commit of a PR, end to end: signed delivery → receiver → Redis → worker → the double.

A token pushed in one commit and deleted by the next push is reported on `prguard/secrets` (failure, an
annotation on the file's line 1 marked "(whole file)", naming the commit); a token still in the head is
reported once; a token only on the base is not. The PR's commits come from the double's
`pulls/{n}/commits` and `commits/{sha}`, modelled from its pushes.
"""

from __future__ import annotations

from tests.e2e_stack import Stack, pr_payload
from tests.github_double.double import GitHubDouble
from tests.secrets_keys import github_token


async def test_a_token_pushed_then_deleted_fails_the_secrets_run_naming_its_commit(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    token = github_token()
    async with Stack(github_double, redis_url, redis_prefix, only=("scan",)) as stack:  # the scan's own reads
        inst = stack.repo()
        pr = github_double.create_pull_request("octo/repo", changes={
            "app.py": (None, b"x = 1\n"),
            "leak.py": (None, f'TOKEN = "{token}"\n'.encode()),
        })
        leaked_in = pr.head_sha
        head = github_double.push("octo/repo", pr.number, {"leak.py": None})
        reply = await stack.deliver("pull_request", pr_payload(pr, inst, action="synchronize", head_sha=head))
        assert reply.status_code == 202
        runs = await stack.completed(head)

    run = runs["prguard/secrets"]
    assert run.conclusion == "failure"
    (note,) = run.annotations
    assert (note["path"], note["start_line"], note["annotation_level"]) == ("leak.py", 1, "failure")
    assert note["title"].endswith("(whole file)")
    assert leaked_in[:12] in note["message"] and "does not remove it from history" in note["message"]
    assert "leak.py (whole file)" in run.summary
    posted = [r.body for r in github_double.requests(path_regex=r"/check-runs") if r.body]
    assert token not in repr(posted)
    fetched = [r.path for r in github_double.requests(method="GET", path_regex=r"/commits(/[0-9a-f]{40})?$")]
    assert sorted(fetched) == sorted([f"/repos/octo/repo/pulls/{pr.number}/commits",
                                      f"/repos/octo/repo/commits/{leaked_in}"]), "not the head commit"


async def test_a_token_still_in_the_head_is_reported_once(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    token = github_token()
    async with Stack(github_double, redis_url, redis_prefix) as stack:
        inst = stack.repo()
        pr = github_double.create_pull_request("octo/repo", changes={
            "keys.py": (None, f'TOKEN = "{token}"\n'.encode()),
        })
        moved = f'# keys\nTOKEN = "{token}"\n'.encode()
        head = github_double.push("octo/repo", pr.number, {"keys.py": moved})
        await stack.deliver("pull_request", pr_payload(pr, inst, action="synchronize", head_sha=head))
        runs = await stack.completed(head)
    run = runs["prguard/secrets"]
    assert run.conclusion == "failure"
    assert [(a["path"], a["start_line"]) for a in run.annotations] == [("keys.py", 2)]


async def test_a_token_the_base_already_had_is_not_reported(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    token = github_token()
    async with Stack(github_double, redis_url, redis_prefix) as stack:
        inst = stack.repo({"config.py": f'TOKEN = "{token}"\n'.encode()})
        pr = github_double.create_pull_request("octo/repo", changes={
            "config.py": (f'TOKEN = "{token}"\n'.encode(), f'if True:\n    TOKEN = "{token}"\n'.encode()),
        })
        head = github_double.push("octo/repo", pr.number, {"config.py": f'TOKEN = "{token}"\n'.encode(),
                                                           "other.py": b"y = 2\n"})
        await stack.deliver("pull_request", pr_payload(pr, inst, action="synchronize", head_sha=head))
        runs = await stack.completed(head)
    assert runs["prguard/secrets"].conclusion == "success"
    assert runs["prguard/secrets"].annotations == []
