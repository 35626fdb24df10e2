"""The App side of two `prguard scan` fixes: `fail_on_unscanned` fails the run, and a key used as a file name
never appears whole in a check run's summary (end to end on the GitHub double)."""

from __future__ import annotations

from tests.e2e_stack import Stack, pr_payload
from tests.github_double.double import GitHubDouble
from tests.secrets_keys import rand


async def test_fail_on_unscanned_fails_the_run_when_a_file_that_could_hold_text_was_not_scanned(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    async with Stack(github_double, redis_url, redis_prefix) as stack:
        inst = stack.repo()
        big = b"x = 1\n" * (1024 * 1024 // 6 + 100)  # over the 1 MiB cap: not fetched, not scanned
        pr = github_double.create_pull_request("octo/repo", changes={"data/big.py": (None, big)})
        await stack.deliver("pull_request", pr_payload(pr, inst))
        lax = await stack.completed(pr.head_sha)
        policy = b"fail_on_unscanned: true\n"
        github_double.set_content("octo/repo", ".github/prguard.yml", policy, ref="main")
        strict_pr = github_double.create_pull_request("octo/repo", changes={"data/big2.py": (None, big)})
        await stack.deliver("pull_request", pr_payload(strict_pr, inst))
        strict = await stack.completed(strict_pr.head_sha)
    assert lax["prguard/secrets"].conclusion == "success"
    assert "data/big.py" in lax["prguard/secrets"].summary  # listed under "Not scanned" either way
    run = strict["prguard/secrets"]
    assert run.conclusion == "failure"
    assert run.title == "Not fully scanned: 1 file that could hold text"
    assert "`fail_on_unscanned`" in run.summary and "data/big2.py" in run.summary


async def test_a_key_used_as_a_file_name_is_not_printed_whole_in_the_run(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    token = "ghp_" + rand(36)
    async with Stack(github_double, redis_url, redis_prefix) as stack:
        inst = stack.repo()
        pr = github_double.create_pull_request("octo/repo", changes={f"keys/{token}.txt": (None, b"hello\n")})
        await stack.deliver("pull_request", pr_payload(pr, inst))
        runs = await stack.completed(pr.head_sha)
    run = runs["prguard/secrets"]
    assert run.conclusion == "failure", run.summary
    assert token not in run.summary and token not in run.title
    assert token[:4] in run.summary  # redacted, still recognisable (`ghp_…(40 chars)`)
