"""Bad input, end to end (issue 11, part 2): the attack suite.

Each test drives hostile input through the whole App (receiver → Redis → worker → the GitHub double, real
checks and engines) or through `prguard scan` in a subprocess on a real git repository, and asserts what a
user sees, in bounded time and memory: every run completed (never left `in_progress`), content that could
not be checked never passing as `success` (a "not scanned", "not fully scanned" or parse-error reason),
weird but benign file names getting their findings on the right file, shown escaped. Unit tests of each
bound live beside the code they bound (grep bomb, symlink, 3000, control); this file is about the App as a
whole surviving them — and about an ordinary PR sent alongside still getting its normal runs.

Memory is measured as the growth of this process's RSS, sampled during the test (receiver, worker, checks
and the double all run in it), and with `wait4`'s max RSS for a `prguard scan` subprocess.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ai_corpus import models as corpus
from tests.e2e_stack import CHECKS, Stack, pr_payload
from tests.github_double.double import GitHubDouble
from tests.github_double.state import Symlink
from tests.gitrepo import GitRepo
from tests.secrets_keys import github_token
from tests.signoff_stack import SignoffStack
from tests.test_signoff import ai_pr

pytestmark = pytest.mark.timeout(120)

SCAN = ("scan",)
#: generous but real bounds for every test: wall time, and memory (RSS growth here, or a child's max RSS)
MAX_SECONDS = 60.0
MAX_MB = 500
STRICT = b"fail_on_unscanned: true\n"


def rss_bytes() -> int:
    """This process's resident set size now (Linux /proc)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@contextlib.contextmanager
def bounded(seconds: float = MAX_SECONDS, mb: int = MAX_MB) -> Iterator[None]:
    """Fail unless the block finishes within `seconds` and this process's RSS never grows by `mb` MiB over
    what it was at the start (sampled every 10 ms: receiver, worker, checks and the double all live here;
    tracemalloc would be exact for Python objects but slows a 3,000-file scan about sevenfold)."""
    base = rss_bytes()
    peak = [base]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.01):
            peak[0] = max(peak[0], rss_bytes())

    sampler = threading.Thread(target=sample, name="rss-sampler", daemon=True)
    sampler.start()
    began = time.monotonic()
    try:
        yield
    finally:
        took = time.monotonic() - began
        done.set()
        sampler.join(5)
    grew = (max(peak[0], rss_bytes()) - base) / 2**20
    assert took < seconds, f"took {took:.1f} s (bound {seconds} s)"
    assert grew < mb, f"RSS grew by {grew:.0f} MiB (bound {mb} MiB)"


def noise(size: int) -> bytes:
    """`size` bytes that look like a binary (NULs, every byte value), the same on every run."""
    return (bytes(range(256)) * (size // 256 + 1))[:size]


def assert_all_completed(d: GitHubDouble, head_sha: str) -> None:
    """No run prguard opened on this head is left `in_progress` or `queued`."""
    runs = d.check_runs("octo/repo", head_sha)
    assert runs and all(r.status == "completed" for r in runs), [(r.name, r.status) for r in runs]


def assert_no_unchecked_success(runs: dict[str, Any]) -> None:
    """A run that lists a file it could not read, parse or fetch in full is never `success` (with the
    policy's `fail_on_unscanned: true`; by default such files are listed under *Not scanned* only)."""
    unchecked = ("could not be read", "larger than", "could not parse", "not fully scanned", "partly scanned")
    for name, run in runs.items():
        if run.conclusion == "success":
            assert not any(u in run.summary.lower() for u in unchecked), (name, run.summary)


async def deliver(stack: Stack, pr: Any, inst: int) -> None:
    reply = await stack.deliver("pull_request", pr_payload(pr, inst))
    assert reply.status_code == 202, reply.text


def ordinary_leak(d: GitHubDouble) -> tuple[Any, str]:
    """An ordinary PR (its own head branch) adding a GitHub token on line 2 of `app/settings.py`."""
    token = github_token()
    pr = d.create_pull_request("octo/repo", head="ordinary", changes={
        "app/settings.py": (None, b"import os\nTOKEN = '%s'\n" % token.encode())})
    return pr, token


async def assert_ordinary_pr_found(stack: Stack, pr: Any, token: str) -> None:
    runs = await stack.completed(pr.head_sha, timeout=MAX_SECONDS)
    run = runs["prguard/secrets"]
    assert run.conclusion == "failure", run.summary
    assert [(a["path"], a["start_line"]) for a in run.annotations] == [("app/settings.py", 2)]
    assert {runs[n].conclusion for n in CHECKS if n != "prguard/secrets"} == {"success"}
    assert token not in run.summary


def run_scan(repo: GitRepo, *args: str) -> tuple[int, str, float, float]:
    """`prguard scan` in a child process: exit code, stdout+stderr, seconds, and its max RSS in MiB
    (from `wait4`, so only this child and what it waited for, never an earlier test's children)."""
    began = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "scan", str(repo.path), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = began + MAX_SECONDS * 2
    output = b""
    assert proc.stdout is not None
    os.set_blocking(proc.stdout.fileno(), False)
    while True:
        output += proc.stdout.read() or b""
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise AssertionError("prguard scan did not finish in time")
        time.sleep(0.05)
    output += proc.stdout.read() or b""
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: keep Popen from waiting again
    took = time.monotonic() - began
    return proc.returncode, output.decode("utf-8", "replace"), took, usage.ru_maxrss / 1024


# --- more files than GitHub lists ---------------------------------------------------------------------------


async def test_a_secret_hidden_behind_3000_files_fails_as_not_fully_scanned_and_other_prs_are_unaffected(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    """GitHub lists a PR's first 3,000 files by name: 3,000 deletions under `pad/` push the two files under
    `zz/` (one leaking a token) out of the list. (Deletions keep the test fast: nothing is fetched for them,
    while 3,000 added files cost 3,000 contents requests to the in-process double, 30-60 s here.)"""
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


# --- slash-commands with shell metacharacters ---------------------------------------------------------------


async def test_slash_commands_with_shell_metacharacters_are_data_never_run(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    d = github_double
    canary = tmp_path / "pwned"
    run_it = f"$(touch {canary}) `touch {canary}` | tee {canary} && touch {canary}"
    bodies = [
        f"/prguard signoff ok; rm -rf / {run_it}",
        f"/prguard $(touch {canary})",
        f"/prguard hold `touch {canary}`\n/prguard unhold; rm -rf / $(id)",
        f"/prguard waive $(id) ;touch {canary}",
        "/prguard help\x1b[2J\x00 $(reboot)",
        "/prguard signoff " + "$(id)" * 13_000,  # a 65 KB comment, GitHub's limit
    ]
    inst, pr = ai_pr(d)
    with bounded():
        async with SignoffStack(d, redis_url, prefix=redis_prefix) as stack:
            stack.social.set_permission("octo/repo", "alice", "write")
            await stack.opened(pr, inst)
            comments = [await stack.comment(pr, inst, "alice", body) for body in bodies]
            await stack.drained()
            run = stack.run(pr)
            replies = [c.body for c in stack.social.app_comments("octo/repo", pr.number)]
            reactions = [stack.social.reaction_contents(c["id"]) for c in comments]
    assert not canary.exists(), "a command ran a shell"
    assert run.status == "completed" and run.conclusion in ("success", "action_required"), run.conclusion
    # each comment was read and answered: 👀, then 👍, 👎 or 😕
    for body, got in zip(bodies, reactions, strict=True):
        assert got[:1] == ["eyes"] and got[-1] in ("+1", "-1", "confused"), (body[:60], got)
    # the first sign-off was taken as written: its reason recorded literally, as text
    assert any("prguard:record" in r and "rm -rf /" in r for r in replies), replies
    assert all("\x1b" not in r and "\x00" not in r for r in replies)
    assert_all_completed(d, pr.head_sha)
