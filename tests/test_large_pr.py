"""A pull request adding 3,000 files, end to end (issue 11: "PRs with 3,000 files", each bad input "with
bounded time and memory and no effect on other PRs").

3,000 is exactly what GitHub's PR files API lists at most, so every file is listed and prguard fetches and
scans all of them (3,000 contents requests): the leak in one ordinary-looking module among them is found on
its line, and no run says "Not fully scanned" (that is for PRs with *more* files than GitHub lists:
`tests/test_bad_input_files.py`). The whole App runs — receiver, Redis, worker, every feature (the four scan
runs and the sign-off) — against the GitHub double, with an ordinary leaking PR delivered at the same time.

Bounds, measured as in the bad-input tests (`tests/bad_input_app.bounded`): the block from the App's start
to its stop must take under `MAX_SECONDS` and grow this process's RSS (App, checks and double all live in it)
by under `MAX_MB`. On the 2-core machine this was written on it took 10-15 s (most of it the App's own 3,000
githubkit requests, not the double) and grew RSS by about 45 MiB, imports included.
"""

from __future__ import annotations

import asyncio

import pytest

from bot.features.signoff_facts import RUN_NAME as SIGNOFF
from tests.bad_input_app import (
    assert_all_completed,
    assert_no_unchecked_success,
    assert_ordinary_pr_found,
    bounded,
    deliver,
    ordinary_leak,
)
from tests.e2e_stack import CHECKS, Stack
from tests.github_double.double import GitHubDouble
from tests.secrets_keys import github_token

pytestmark = pytest.mark.timeout(120)

#: GitHub's PR files API lists at most this many files; a PR of exactly this many is listed whole
FILES = 3000
#: wall-time bound of the whole block (App start to stop), with room for a loaded machine
MAX_SECONDS = 60.0
#: RSS growth bound: the PR's content is 0.2 MB, so growth is mostly one-off imports; tighter than the
#: bad-input suite's 500 MiB, so that keeping per-file copies of anything would show
MAX_MB = 250
#: the one module (of 3,000) that leaks a token, on line 2
LEAK = "src/pkg17/settings.py"


def module(i: int) -> bytes:
    """An ordinary small Python module, different for each `i`."""
    return (b'"""Helpers, part %d."""\n\n\ndef scale_%d(x: int) -> int:\n    return x * %d + 1\n'
            % (i, i, i % 97 + 2))


def three_thousand_files(token: str) -> dict[str, tuple[bytes | None, bytes | None]]:
    """3,000 added modules in 30 packages of 100; `LEAK` (one of them) holds `token`."""
    files: dict[str, tuple[bytes | None, bytes | None]] = {
        f"src/pkg{i // 100:02d}/mod{i:04d}.py": (None, module(i)) for i in range(FILES - 1)}
    files[LEAK] = (None, b"import os\nGITHUB_TOKEN = '%s'\nTIMEOUT = int(os.environ.get('T', '5'))\n"
                   % token.encode())
    assert len(files) == FILES
    return files


async def test_a_pr_adding_3000_files_is_scanned_whole_its_leak_found_and_another_pr_unaffected(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    d = github_double
    token = github_token()
    names = (*CHECKS, SIGNOFF)
    with bounded(seconds=MAX_SECONDS, mb=MAX_MB):
        async with Stack(d, redis_url, redis_prefix) as stack:  # every feature, as `prguard worker` runs
            inst = stack.repo()
            big = d.create_pull_request("octo/repo", changes=three_thousand_files(token))
            ordinary, ordinary_token = ordinary_leak(d)
            await asyncio.gather(deliver(stack, big, inst), deliver(stack, ordinary, inst))
            runs, _ = await asyncio.gather(
                stack.completed(big.head_sha, timeout=MAX_SECONDS, names=names),
                assert_ordinary_pr_found(stack, ordinary, ordinary_token),
            )
            await stack.completed(ordinary.head_sha, timeout=MAX_SECONDS, names=names)
            await stack.drained(timeout=MAX_SECONDS)  # no job left that could still open or change a run

    # every file was listed, fetched and scanned: the leak is found on its line, and nothing is "not scanned"
    secrets = runs["prguard/secrets"]
    assert secrets.conclusion == "failure", (secrets.title, secrets.summary[-2000:])
    assert [(a["path"], a["start_line"]) for a in secrets.annotations] == [(LEAK, 2)]
    assert f"Scanned {FILES} files" in secrets.summary, secrets.summary[-2000:]
    for name, run in runs.items():
        assert "not fully scanned" not in f"{run.title}\n{run.summary}".lower(), (name, run.title)
        assert "not listed by github" not in run.summary.lower(), (name, run.summary[-2000:])
    # the other runs pass: 3,000 harmless modules are not findings
    assert {n: runs[n].conclusion for n in names if n != "prguard/secrets"} == dict.fromkeys(
        (n for n in names if n != "prguard/secrets"), "success")
    assert_no_unchecked_success(runs)
    # the token is never echoed back, on either PR
    for sha in (big.head_sha, ordinary.head_sha):
        shown = repr([(r.title, r.summary, r.text, r.annotations) for r in d.check_runs("octo/repo", sha)])
        assert token not in shown and ordinary_token not in shown
    # every run prguard opened on either head completed: none left `queued` or `in_progress`
    assert_all_completed(d, big.head_sha)
    assert_all_completed(d, ordinary.head_sha)
    # the App fetched each of the 3,000 files once (at the head): the double served every one
    fetched = {r.path for r in d.requests("GET", r"/repos/octo/repo/contents/") if f"ref={big.head_sha}"
               in r.query and r.status == 200}
    assert len(fetched) == FILES, len(fetched)
