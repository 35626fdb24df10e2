"""The App streams model files over the size cap to prompt-safety, as `prguard scan` does.

A pull request on the GitHub double adds a 3 MB PyTorch checkpoint whose pickle calls `os.system` (built
opcode by opcode, never unpickled). The worker's size cap is 1 MiB, so the file is not fetched with the
others: it is downloaded as a raw blob into a temporary file (`bot.github.blob_stream`) and the
`prguard/prompt-safety` run reports the critical finding on it. The per-job budget and GitHub's 100 MB API
limit each make a file "not scanned", never silence.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pytest

from bot.github.pull_change import FetchOptions, build_change
from checks.change import Change, FileTooLarge, ReadError
from checks.engine import CheckResult, create_checks, run_checks
from checks.policy import Policy
from tests.ai_corpus import models as corpus
from tests.e2e_stack import Stack, pr_payload
from tests.github_double.double import GitHubDouble
from tests.github_double.state import git_blob_sha
from tests.github_double.testing import installation_client

DANGEROUS = "prompt-safety/model-pickle-dangerous-global"
MIB = 1024 * 1024


def evil_pt(filler: int = 0) -> bytes:
    """A ~3 MB torch zip whose data.pkl calls os.system('id'); `filler` varies the weights' bytes."""
    weights = bytes((i + filler) % 256 for i in range(256)) * (3 * 4096)
    return corpus.torch_zip(corpus.p2(corpus.call(corpus.glob("os", "system"), "id")),
                            {"archive/data/0": weights})


def blob_downloads(d: GitHubDouble) -> list[str]:
    return [r.path.rsplit("/", 1)[-1] for r in d.requests(method="GET", path_regex=r"/git/blobs/")]


async def test_a_3mb_malicious_pt_over_the_cap_fails_the_prompt_safety_run(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    d = github_double
    blob = evil_pt()
    assert len(blob) > 3 * MIB
    async with Stack(d, redis_url, redis_prefix, only=("scan",)) as stack:
        assert stack.pipeline.options.max_file_bytes == MIB  # the worker's default cap
        inst = stack.repo()
        pr = d.create_pull_request("octo/repo", changes={"models/evil.pt": (None, blob),
                                                         "README.md": (b"hello\n", b"hello\nmodel\n")})
        reply = await stack.deliver("pull_request", pr_payload(pr, inst))
        assert reply.status_code == 202
        runs = await stack.completed(pr.head_sha)

    run = runs["prguard/prompt-safety"]
    assert run.conclusion == "failure", run.summary
    critical = [a for a in run.annotations if f"rule: {DANGEROUS}\n" in a["raw_details"]]
    assert [(a["path"], a["annotation_level"]) for a in critical] == [("models/evil.pt", "failure")]
    assert "'os.system'" in critical[0]["message"]
    assert "Not scanned" not in run.summary  # streamed, so not listed as skipped for this check
    # the one download: the blob itself, by its SHA, through the blobs API
    assert blob_downloads(d) == [git_blob_sha(blob)]
    # a check that does not stream still says the file was not scanned by it
    secrets = runs["prguard/secrets"]
    assert "`models/evil.pt` — larger than 1048576 bytes (" in secrets.summary


async def _change(gh: Any, pr: Any, **options: Any) -> Change:
    return await build_change(gh, "octo", "repo", pr_number=pr.number, base_sha=pr.base_sha,
                              head_sha=pr.head_sha, wants=lambda f: True,
                              options=FetchOptions(max_file_bytes=MIB, **options))


def _prompt_safety(change: Change) -> CheckResult:
    checks, failed = create_checks(["prompt-safety"])
    assert not failed
    return run_checks(checks, change, policy=Policy(), timeout=60)[0]


async def test_the_opener_spools_to_a_file_bounded_by_the_budget_and_github_limit(
    github_double: GitHubDouble,
) -> None:
    d = github_double
    inst = d.add_installation("octo")
    d.add_repo("octo/repo", installation_id=inst, files={"README.md": b"hello\n"})
    a, b = evil_pt(1), evil_pt(2)
    huge = b"\0" * (100 * MIB + 1)  # one byte over what GitHub's API serves raw
    pr = d.create_pull_request("octo/repo", changes={
        "models/a.pt": (None, a), "models/b.pt": (None, b), "models/huge.pt": (None, huge),
        "notes.txt": (None, b"small\n"),
    })
    del huge

    async with installation_client(d, inst, http_cache=False) as gh:  # as prguard's client (no hishel)
        change = await _change(gh, pr, stream_budget_bytes=4 * MIB)
        assert sorted(f.path for f in change.streamable) == ["models/a.pt", "models/b.pt"]
        assert "models/a.pt" not in {f.path for f in change.files}
        reasons = {s.path: s.reason for s in change.skipped}
        assert reasons["models/huge.pt"] == ("larger than GitHub's 100 MB API limit (104,857,601 bytes); "
                                             "not scanned")

        def use_opener() -> None:  # checks open files from their own threads, never on the event loop
            with change.open("models/a.pt") as fh:
                assert not isinstance(fh, io.BytesIO)
                fh.fileno()  # a real (anonymous, temporary) file, not bytes in memory
                assert fh.read() == a
            with pytest.raises(FileTooLarge, match="stream cap"):
                change.open("models/b.pt", max_bytes=MIB)
            with pytest.raises(ReadError, match=r"budget of 4 MiB for large files is spent \(3"):
                change.open("models/b.pt")  # 3 MB more would pass the job's 4 MiB
            with change.open("notes.txt") as fh:
                assert fh.read() == b"small\n"

        await asyncio.to_thread(use_opener)
        assert blob_downloads(d) == [git_blob_sha(a)]  # the refused ones were never requested

        # the check itself, on a new job: one model scanned, the other not scanned (budget), nor the huge one
        change = await _change(gh, pr, stream_budget_bytes=4 * MIB)
        result = await asyncio.to_thread(_prompt_safety, change)
    assert result.error is None
    found = {f.path for f in result.findings if f.rule_id == DANGEROUS}
    skipped = [(s.path, s.reason) for s in result.skipped]
    assert len(found) == 1 and found < {"models/a.pt", "models/b.pt"}
    (other,) = {"models/a.pt", "models/b.pt"} - found
    assert [r for p, r in skipped if p == other and r.startswith("could not be read") and "budget" in r]
    huge_reasons = [r for p, r in skipped if p == "models/huge.pt"]
    assert huge_reasons and all("larger than GitHub's 100 MB API limit (104,857,601 bytes); not scanned" in r
                                for r in huge_reasons), huge_reasons
    # what was downloaded: one model per job (the budget refused the second), never the huge one
    scanned = git_blob_sha(a if found == {"models/a.pt"} else b)
    assert blob_downloads(d) == [git_blob_sha(a), scanned]
