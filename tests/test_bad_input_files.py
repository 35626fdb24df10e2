"""Bad input, end to end (issue 11, part 2; shared setup and what is measured: `tests/bad_input_app.py`):
files GitHub does not list, binary and undecodable files, a 10 MB line, symlinks and strange names.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

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
    noise,
    ordinary_leak,
    run_scan,
)
from tests.e2e_stack import Stack
from tests.github_double.double import GitHubDouble
from tests.github_double.state import Symlink
from tests.gitrepo import GitRepo
from tests.secrets_keys import github_token

pytestmark = pytest.mark.timeout(120)


# --- more files than GitHub lists ---------------------------------------------------------------------------


async def test_a_secret_hidden_behind_3000_files_fails_as_not_fully_scanned_and_other_prs_are_unaffected(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    """GitHub lists a PR's first 3,000 files by name: 3,000 deletions under `pad/` push the two files under
    `zz/` (one leaking a token) out of the list. (Deletions keep the test fast: nothing is fetched for them;
    a PR of 3,000 added files, each fetched and scanned, is tests/test_large_pr.py.)"""
    d = github_double
    hidden = github_token()
    changes: dict[str, tuple[bytes | None, bytes | None]] = {
        f"pad/{i:04d}.txt": (b"padding %d\n" % i, None) for i in range(3000)}
    changes["zz/hidden.py"] = (None, b"T = '%s'\n" % hidden.encode())
    changes["zz/other.py"] = (None, b"x = 1\n")
    with bounded():
        async with Stack(d, redis_url, redis_prefix, only=SCAN) as stack:
            inst = stack.repo()
            big = d.create_pull_request("octo/repo", changes=changes)
            ordinary, token = ordinary_leak(d)
            await asyncio.gather(deliver(stack, big, inst), deliver(stack, ordinary, inst))
            runs = await stack.completed(big.head_sha, timeout=MAX_SECONDS)
            await assert_ordinary_pr_found(stack, ordinary, token)
    for name, run in runs.items():
        assert run.conclusion == "failure", (name, run.title)
        assert run.title == "Not fully scanned: 2 files not listed by GitHub", (name, run.title)
        assert "2 files were not scanned" in run.summary
    assert hidden not in repr([(r.summary, r.annotations) for r in runs.values()])
    assert_all_completed(d, big.head_sha)


# --- binary, invalid UTF-8, a 10 MB line --------------------------------------------------------------------


async def test_binary_invalid_utf8_and_a_10_mb_line_are_listed_and_never_pass(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    d = github_double
    token = github_token()
    with bounded():
        async with Stack(d, redis_url, redis_prefix, only=SCAN) as stack:
            inst = d.add_installation("octo")
            d.add_repo("octo/repo", installation_id=inst, files={".github/prguard.yml": STRICT})
            pr = d.create_pull_request("octo/repo", changes={
                "assets/noise.bin": (None, noise(300_000)),
                "src/legacy.py": (None, b"# caf\xe9 \xff\xfe\x80\nT = '%s'\n" % token.encode()),
                "logs/oneline.txt": (None, b"A" * 5_000_000 + token.encode() + b"A" * 5_000_000),
                "src/vanished.py": (None, b"x = 1\n"),
            })
            # listed by the files API, but the contents API will not serve it
            d.faults.add(method="GET", path_regex=r"/contents/src/vanished\.py$", status=404, times=None,
                         body={"message": "Not Found", "documentation_url": "https://docs.github.com"})
            await deliver(stack, pr, inst)
            runs = await stack.completed(pr.head_sha, timeout=MAX_SECONDS)
    secrets = runs["prguard/secrets"]
    assert secrets.conclusion == "failure"
    # the invalid UTF-8 file is still scanned, with the right line
    assert ("src/legacy.py", 2) in [(a["path"], a["start_line"]) for a in secrets.annotations]
    assert "`logs/oneline.txt` — larger than" in secrets.summary
    assert "`assets/noise.bin` — binary" in secrets.summary
    assert "`src/vanished.py` — could not be read: not found" in secrets.summary
    assert_no_unchecked_success(runs)
    assert token not in secrets.summary
    assert_all_completed(d, pr.head_sha)


def test_prguard_scan_reads_a_10_mb_line_in_bounded_time_and_rss(tmp_path: Path) -> None:
    repo = GitRepo.on_feature_branch(tmp_path / "repo", {".github/prguard.yml": STRICT})
    token = github_token()
    repo.commit({
        "logs/oneline.txt": b"A" * 5_000_000 + b" T='" + token.encode() + b"' " + b"A" * 5_000_000,
        "src/legacy.py": b"# caf\xe9 \xff\xfe\x80\nT = '%s'\n" % github_token().encode(),
        "assets/noise.bin": noise(300_000),
    }, "hostile files")
    code, out, took, rss_mb = run_scan(repo, "--max-file-size", str(20 * 2**20))
    assert took < MAX_SECONDS and rss_mb < MAX_MB, (took, rss_mb)
    assert code == 1, out[-2000:]
    assert "src/legacy.py:2" in out
    assert token not in out
    # the key in the middle of the 10 MB line is found, on line 1 of the right file
    assert "logs/oneline.txt:1  high      secrets/github-token" in out, out[-2000:]
    assert "skipped assets/noise.bin: binary file" in out and "Traceback" not in out


# --- symlinks and strange names -----------------------------------------------------------------------------

WEIRD = ("we..ird/..x.py", "line\nbreak.py", "esc\x1b[2K\rape.py", "bidi\u202egnp.py", "tab\tname.py")


async def test_symlinks_are_listed_never_followed_and_strange_names_get_their_findings_escaped(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    d = github_double
    tokens = {name: github_token() for name in WEIRD}
    in_repo = github_token()
    with bounded():
        async with Stack(d, redis_url, redis_prefix, only=SCAN) as stack:
            inst = d.add_installation("octo")
            d.add_repo("octo/repo", installation_id=inst,
                       files={"config/real.env": b"TOKEN=%s\n" % in_repo.encode()})
            pr = d.create_pull_request("octo/repo", changes={
                **{name: (None, b"T = '%s'\n" % token.encode()) for name, token in tokens.items()},
                "out.env": (None, Symlink(b"../../../../etc/passwd")),
                "linked.env": (None, Symlink(b"config/real.env")),
                "k8s/pod\nname.yaml": (None, PRIVILEGED_POD),
            })
            await deliver(stack, pr, inst)
            runs = await stack.completed(pr.head_sha, timeout=MAX_SECONDS)
    secrets = runs["prguard/secrets"]
    assert secrets.conclusion == "failure"
    # each finding on its own file, at its line: the exact name GitHub listed
    assert sorted((a["path"], a["start_line"]) for a in secrets.annotations) == sorted((n, 1) for n in WEIRD)
    # the link-following read never happened: nothing found in (or through) either link
    assert in_repo not in repr(runs) and "root:" not in repr(runs)
    assert "`out.env` — symlink" in secrets.summary and "`linked.env` — symlink" in secrets.summary
    # names shown escaped: a control or bidi character cannot redraw or reorder the summary
    for unsafe in ("\x1b", "\r", "\u202e", "\t"):
        assert unsafe not in secrets.summary, repr(unsafe)
    assert "line\\u000abreak.py" in secrets.summary and "bidi\\u202egnp.py" in secrets.summary
    iac = runs["prguard/iac"]
    assert iac.conclusion == "failure", iac.summary
    assert {a["path"] for a in iac.annotations} == {"k8s/pod\nname.yaml"}
    assert_all_completed(d, pr.head_sha)


PRIVILEGED_POD = b"""apiVersion: v1
kind: Pod
metadata:
  name: root
spec:
  containers:
    - name: app
      image: nginx
      securityContext:
        privileged: true
"""
