"""The check context: reading any path on either side (git's three heads and GitHub), materialized trees
and engine subprocesses that die at the deadline. Real repositories, the GitHub double, real processes."""

from __future__ import annotations

import asyncio
import os
import stat
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bot.github.pull_change import MAX_EXTRA_READS
from checks.change import Change, ChangedFile, FileStatus, FileTooLarge, LineSet, ReadError
from checks.context import CheckContext, Deadline, write_file
from checks.git_change import change_from_git
from checks.tools import CheckTimeout
from tests.github_double.double import GitHubDouble
from tests.github_double.state import Symlink
from tests.gitrepo import GitRepo
from tests.test_change_github import change_for
from tests.test_change_github import repo as double_repo

MODES: dict[str, dict[str, Any]] = {"worktree": {}, "staged": {"staged": True}, "head": {"head": "HEAD"}}


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie waiting for a parent that never reaps it counts as dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    """`main` with an unchanged file, a symlink to it, a symlinked directory and `src/app.py` "old"."""
    repo = GitRepo.init(tmp_path / "repo")
    repo.write("lib/keep.txt", "keep\n")
    repo.write("src/app.py", "old\n")
    repo.write(".gitignore", ".env\n")
    repo.symlink("lib/link.txt", "keep.txt")
    repo.symlink("linkdir", "lib")
    repo.commit(message="base")
    repo.branch("feature")
    return repo


def make_head(repo: GitRepo, mode: str) -> None:
    """Change `src/app.py` to "new" the way `mode` sees it; put decoys where the other modes look."""
    repo.write("src/app.py", "new\n")
    if mode == "head":
        repo.commit(message="new")
        repo.write("src/app.py", "uncommitted\n")
    elif mode == "staged":
        repo.add("src/app.py")
        repo.write("src/app.py", "unstaged\n")
    repo.write(".env", "IGNORED=1\n")


@pytest.mark.parametrize("mode", list(MODES))
def test_read_any_path_on_both_sides_in_every_local_mode(repo: GitRepo, mode: str) -> None:
    make_head(repo, mode)
    change = change_from_git(repo.path, "main", **MODES[mode])
    assert [f.path for f in change.files] == ["src/app.py"]
    ctx = CheckContext(change)

    for side in ("base", "head"):
        assert ctx.read("lib/keep.txt", side) == b"keep\n", side  # a path the change did not touch
        assert ctx.read("lib/link.txt", side) is None, side  # a symlink is never followed
        assert ctx.read("linkdir/keep.txt", side) is None, side  # nor a symlinked directory
        assert ctx.read("missing.txt", side) is None, side
        assert ctx.read("lib", side) is None, side  # a directory is not a file
        assert ctx.read(".env", side) is None, side  # ignored: not in the repository as git sees it
    assert ctx.read("src/app.py", "base") == b"old\n"
    assert ctx.read("src/app.py") == b"new\n"  # the run's own side (head) by default
    for bad in ("../outside", "/etc/passwd", ".git/config", "lib//keep.txt", "./lib/keep.txt", ""):
        with pytest.raises(ValueError):
            ctx.read(bad)


@pytest.mark.parametrize("mode", list(MODES))
def test_reads_are_bounded_by_the_size_cap(repo: GitRepo, mode: str) -> None:
    repo.switch("main")
    repo.commit({"data/big.txt": "x" * 5000}, "big")
    repo.switch("feature")
    repo.git("rebase", "--quiet", "main")
    make_head(repo, mode)
    change = change_from_git(repo.path, "main", max_file_bytes=4096, **MODES[mode])
    for side in ("base", "head"):
        with pytest.raises(FileTooLarge):
            change.read("data/big.txt", side)


def test_a_change_without_a_reader_reads_its_own_files_and_refuses_others() -> None:
    file = ChangedFile("new.py", FileStatus.RENAMED, LineSet(), old_path="old.py",
                       head_loader=lambda: b"head", base_loader=lambda: b"base")
    change = Change("b", "h", [file])
    assert change.read("new.py") == b"head" and change.read("old.py", "base") == b"base"
    assert change.read("old.py", "head") is None and change.read("new.py", "base") is None
    with pytest.raises(ReadError):
        change.read("elsewhere.txt")


# ------------------------------------------------------------------------------------------------ GitHub


async def test_github_reads_any_path_at_base_and_head_without_following_symlinks(
    github_double: GitHubDouble,
) -> None:
    inst = double_repo(github_double, {
        "README.md": b"hi\n", "lib/keep.txt": b"keep\n", "lib/link.txt": Symlink(b"keep.txt"),
        "out.txt": Symlink(b"../../etc/passwd"),
    })
    pr = github_double.create_pull_request("octo/repo", changes={"src/app.py": (b"old\n", b"new\n")})
    change = await change_for(github_double, inst, pr)

    def reads() -> dict[str, Any]:
        return {
            f"{side}:{path}": change.read(path, side)
            for side in ("base", "head")
            for path in ("lib/keep.txt", "lib/link.txt", "out.txt", "missing.txt", "lib", "src/app.py")
        }

    got = await asyncio.to_thread(reads)  # checks run in worker threads; the reads go to the event loop
    for side in ("base", "head"):
        assert got[f"{side}:lib/keep.txt"] == b"keep\n"
        assert got[f"{side}:lib/link.txt"] is None, "a link to a file of the repository is not followed"
        assert got[f"{side}:out.txt"] is None
        assert got[f"{side}:missing.txt"] is None
        assert got[f"{side}:lib"] is None
    assert (got["base:src/app.py"], got["head:src/app.py"]) == (b"old\n", b"new\n")
    refs = {r.query for r in github_double.requests(method="GET", path_regex=r"/contents/lib/keep\.txt")}
    assert refs == {f"ref={pr.base_sha}", f"ref={pr.head_sha}"}


async def test_github_read_budget_is_bounded_and_a_failed_read_raises(github_double: GitHubDouble) -> None:
    inst = double_repo(github_double, {"README.md": b"hi\n", "lib/keep.txt": b"keep\n"})
    pr = github_double.create_pull_request("octo/repo", changes={"src/app.py": (b"old\n", b"new\n")})
    change = await change_for(github_double, inst, pr)
    github_double.faults.add(method="GET", path_regex=r"/contents/lib/keep\.txt$", status=500, times=None)

    def failing() -> None:
        change.read("lib/keep.txt", "base")

    with pytest.raises(ReadError, match=r"lib/keep\.txt"):
        await asyncio.to_thread(failing)  # a 500 is "could not read", never "absent"
    github_double.faults.clear()

    assert change.reader.budget == MAX_EXTRA_READS == 300
    change.reader.budget = 6  # the same rule with a smaller number, so the test sends 6 requests, not 300

    def spend() -> None:
        for i in range(5):  # one was spent above
            assert change.read(f"missing/{i}.txt") is None
        assert change.read("missing/0.txt") is None, "a path already counted is not counted again"
        change.read("one/too/many.txt")

    with pytest.raises(ReadError, match="more than 6 reads of files outside the pull request"):
        await asyncio.to_thread(spend)
    # the pull request's own files are not extra reads
    assert await asyncio.to_thread(change.read, "src/app.py", "base") == b"old\n"
    with pytest.raises(ReadError, match="event loop"):
        change.read("lib/other.txt")  # on the loop's own thread a blocking read would deadlock


async def test_github_read_at_an_unknown_ref_raises(github_double: GitHubDouble) -> None:
    inst = double_repo(github_double, {"README.md": b"hi\n"})
    pr = github_double.create_pull_request("octo/repo", changes={"a.py": (None, b"x\n")})
    # the PR as the job saw it, with a base GitHub does not know (any more)
    seen = SimpleNamespace(number=pr.number, head_sha=pr.head_sha, base_sha="deleted-branch")
    change = await change_for(github_double, inst, seen)
    with pytest.raises(ReadError, match="No commit found"):
        await asyncio.to_thread(change.read, "README.md", "base")


# ------------------------------------------------------------------------------------------ materialize


def test_materialize_writes_regular_0644_files_only_and_is_removed_afterwards(repo: GitRepo) -> None:
    repo.write("bin/run.sh", "#!/bin/sh\necho hi\n")
    (repo.path / "bin/run.sh").chmod(0o755)
    repo.symlink("bin/escape", "/etc/passwd")
    repo.write("src/app.py", "new\n")
    repo.write("a/b/c.txt", "deep\n")
    repo.commit(message="head")
    change = change_from_git(repo.path, "main", head="HEAD")
    files = change.scannable()
    assert {f.path for f in files} == {"a/b/c.txt", "bin/run.sh", "src/app.py"}
    ctx = CheckContext(change, files=files)

    head = ctx.materialize()
    assert ctx.materialize("head") == head, "cached per side"
    written = tree(head)
    assert written == {"a/b/c.txt": b"deep\n", "bin/run.sh": b"#!/bin/sh\necho hi\n", "src/app.py": b"new\n"}
    for path in walk(head):
        st = os.lstat(path)
        assert not stat.S_ISLNK(st.st_mode), path
        if stat.S_ISREG(st.st_mode):
            assert stat.S_IMODE(st.st_mode) == 0o644, path
    base = ctx.materialize("base")
    assert tree(base) == {"src/app.py": b"old\n"}, "added files are absent on the base"
    some = ctx.materialize(paths=["lib/keep.txt", "lib/link.txt", "missing.txt"])
    assert tree(some) == {"lib/keep.txt": b"keep\n"}, "a symlink or an absent path is left out"
    with pytest.raises(ValueError):
        ctx.materialize(paths=["../outside.txt"])

    ctx.workspace.close()
    assert not head.exists() and not base.exists() and not some.exists()


def test_materialize_skips_and_reports_a_file_over_the_cap(repo: GitRepo) -> None:
    repo.switch("main")
    repo.commit({"data/big.txt": "x" * 5000}, "big")
    repo.switch("feature")
    repo.git("rebase", "--quiet", "main")
    change = change_from_git(repo.path, "main", head="HEAD", max_file_bytes=4096)
    ctx = CheckContext(change)
    assert tree(ctx.materialize(paths=["data/big.txt", "lib/keep.txt"])) == {"lib/keep.txt": b"keep\n"}
    assert [s.path for s in ctx.skipped] == ["data/big.txt"]
    ctx.workspace.close()


def test_write_file_never_follows_a_symlink_planted_in_the_tree(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "dir").symlink_to(outside)
    (root / "file").symlink_to(outside / "target")
    with pytest.raises(OSError):
        write_file(root, "dir/x.txt", b"x")
    with pytest.raises(OSError):
        write_file(root, "file", b"x")
    assert list(outside.iterdir()) == []


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in walk(root) if p.is_file()}


def walk(root: Path) -> list[Path]:
    return [Path(d) / n for d, dirs, names in os.walk(root) for n in dirs + names]


# ------------------------------------------------------------------------------------------------ engines

SPAWN = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
with open(sys.argv[1], "w") as fh:
    fh.write(f"{os.getpid()} {child.pid}")
time.sleep(60)
"""


def test_run_tool_kills_the_whole_process_group_at_the_deadline(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    ctx = CheckContext(Change("b", "h", []), deadline=Deadline(1.5))
    threads = threading.active_count()
    started = time.monotonic()
    with pytest.raises(CheckTimeout) as caught:
        ctx.run_tool([sys.executable, "-c", SPAWN, str(pids)], cwd=tmp_path)
    assert time.monotonic() - started < 8
    name = Path(sys.executable).name
    assert str(caught.value) == f"{name} timed out: killed at the check's 1.5 s time limit"
    leader, child = map(int, pids.read_text().split())
    deadline = time.monotonic() + 5
    while (alive(leader) or alive(child)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(leader) and not alive(child), "the engine and its own child are both dead"
    assert threading.active_count() == threads, "no thread left behind"


def test_run_tool_honours_its_own_shorter_limit_and_returns_failures(tmp_path: Path) -> None:
    ctx = CheckContext(Change("b", "h", []), deadline=Deadline(60))
    with pytest.raises(CheckTimeout, match=r"timed out: killed at 0\.5 s$"):
        ctx.run_tool([sys.executable, "-c", "import time; time.sleep(30)"], cwd=tmp_path, timeout=0.5)
    done = ctx.run_tool([sys.executable, "-c", "import sys; sys.stdout.write(sys.stdin.read()); sys.exit(3)"],
                        cwd=tmp_path, input=b"echo")
    assert (done.returncode, done.stdout) == (3, b"echo")
    expired = CheckContext(Change("b", "h", []), deadline=Deadline(0))
    with pytest.raises(CheckTimeout, match="was not started"):
        expired.run_tool(["true"], cwd=tmp_path)


def test_engines_do_not_inherit_the_workers_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_WEBHOOK_SECRET", "do-not-leak")
    ctx = CheckContext(Change("b", "h", []))
    done = ctx.run_tool([sys.executable, "-c", "import os; print(sorted(os.environ.items()))"], cwd=tmp_path,
                        env={"ENGINE_OPTION": "1"})
    assert b"do-not-leak" not in done.stdout and b"GITHUB_WEBHOOK_SECRET" not in done.stdout
    assert b"ENGINE_OPTION" in done.stdout
