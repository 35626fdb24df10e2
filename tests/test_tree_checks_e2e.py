"""Checks that need a directory tree and an engine subprocess, end to end in `prguard scan` and in the App.

`TreeCheck` is what semgrep/checkov/zizmor checks will look like: it materializes the head side of the
files it was given and runs a real engine (`grep -rn`) over that directory, turning its output into
findings. `SleepyCheck` runs an engine that never finishes in time: it must be killed at its deadline and
reported as an error (exit 2 locally, a `failure` run in the App), with its process really gone.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from bot.cli.main import main
from checks import registry
from checks.change import ChangedFile
from checks.context import CheckContext
from checks.finding import Finding, Severity, Skipped, make_fingerprint
from tests.e2e_stack import Stack, pr_payload
from tests.github_double.double import GitHubDouble
from tests.github_double.state import Symlink
from tests.gitrepo import GitRepo
from tests.test_check_context import alive

MARKER = "TREE-MARKER"
SLEEP = "import os, sys, time\nopen(sys.argv[1], 'w').write(str(os.getpid()))\ntime.sleep(120)\n"


class TreeCheck:
    name = "tree"
    title = "Tree engine"

    def __init__(self) -> None:
        #: what each materialized tree held while the engine ran: (path, is a symlink, permission bits)
        self.trees: list[list[tuple[str, bool, int]]] = []
        self.roots: list[Path] = []

    def applies_to(self, file: ChangedFile) -> bool:
        return True

    def run(self, files: Sequence[ChangedFile], ctx: CheckContext) -> Iterator[Finding | Skipped]:
        root = ctx.materialize("head")
        self.roots.append(root)
        self.trees.append(snapshot(root))
        done = ctx.run_tool(["grep", "-rnI", "--", MARKER, "."], cwd=root)
        if done.returncode not in (0, 1):  # grep: 1 = nothing found, 2 = trouble
            raise RuntimeError(f"grep failed: {done.stderr.decode(errors='replace').strip()}")
        for line in done.stdout.decode("utf-8", "surrogateescape").splitlines():
            path, number, text = line.split(":", 2)
            path = path.removeprefix("./")
            yield Finding("tree/marker", Severity.HIGH, path, int(number), "Tree marker",
                          f"{MARKER} found by the engine in {path}.",
                          make_fingerprint("tree/marker", path, text))


class SleepyCheck:
    name = "sleepy"
    title = "Sleepy engine"

    def __init__(self, pidfile: Path, timeout: float | None = None) -> None:
        self.pidfile = pidfile
        self.timeout = timeout

    def applies_to(self, file: ChangedFile) -> bool:
        return True

    def run(self, files: Sequence[ChangedFile], ctx: CheckContext) -> Iterator[Finding | Skipped]:
        root = ctx.materialize()
        ctx.run_tool([sys.executable, "-c", SLEEP, str(self.pidfile)], cwd=root, timeout=self.timeout)
        yield from ()


def snapshot(root: Path) -> list[tuple[str, bool, int]]:
    out = []
    for directory, dirs, names in os.walk(root):
        for name in dirs + names:
            st = os.lstat(Path(directory) / name)
            rel = (Path(directory) / name).relative_to(root).as_posix()
            out.append((rel + ("/" if stat.S_ISDIR(st.st_mode) else ""), stat.S_ISLNK(st.st_mode),
                        stat.S_IMODE(st.st_mode)))
    return sorted(out)


def register(monkeypatch: pytest.MonkeyPatch, *checks: object) -> None:
    monkeypatch.setattr(registry, "REGISTRY", {c.name: (lambda c=c: c) for c in checks})  # type: ignore[attr-defined]
    monkeypatch.setattr(registry, "TITLES", {c.name: c.title for c in checks})  # type: ignore[attr-defined]


def pid_of(pidfile: Path) -> int:
    return int(pidfile.read_text())


# ----------------------------------------------------------------------------------------- prguard scan


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return GitRepo.on_feature_branch(
        tmp_path / "repo", {"README.md": "hello\n", "old.py": f"# {MARKER} already on main\n"})


def test_a_tree_check_runs_its_engine_over_a_materialized_head_in_prguard_scan(
    capsys: pytest.CaptureFixture[str], repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    check = TreeCheck()
    register(monkeypatch, check)
    repo.write("src/a.py", f"x = 1\n# {MARKER} new\n")
    repo.write("bin/tool.sh", f"#!/bin/sh\n# {MARKER} in an executable\n")
    (repo.path / "bin/tool.sh").chmod(0o755)
    repo.symlink("link.py", "src/a.py")
    repo.symlink("escape.txt", "/etc/hostname")
    repo.write("old.py", f"# {MARKER} already on main\nprint('an unrelated new line')\n")
    repo.commit(message="feature")

    code = main(["scan", str(repo.path), "--format", "json"])
    doc = json.loads(capsys.readouterr().out)

    assert code == 1 and doc["errors"] == []
    assert [(f["path"], f["line"], f["check"]) for f in doc["findings"]] == [
        ("bin/tool.sh", 2, "tree"), ("src/a.py", 2, "tree")
    ], "old.py's marker was on main already: its line was not added"
    assert {s["path"] for s in doc["skipped"]} == {"link.py", "escape.txt"}
    (tree,) = check.trees
    assert [p for p, _, _ in tree if not p.endswith("/")] == ["bin/tool.sh", "old.py", "src/a.py"]
    assert not any(link for _, link, _ in tree), "no symlink in the materialized tree"
    assert {mode for p, _, mode in tree if not p.endswith("/")} == {0o644}, "no executable bit"
    assert not check.roots[0].exists(), "the engine removed the tree when the check finished"


def test_an_engine_past_the_deadline_is_killed_and_the_scan_exits_2(
    capsys: pytest.CaptureFixture[str], repo: GitRepo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pidfile = tmp_path / "sleepy.pid"
    register(monkeypatch, TreeCheck(), SleepyCheck(pidfile))
    repo.commit({"src/a.py": f"# {MARKER}\n"}, "feature")

    code = main(["scan", str(repo.path), "--timeout", "2"])
    out, err = capsys.readouterr()

    assert code == 2
    name = Path(sys.executable).name
    assert err == (f"prguard: check sleepy did not finish: {name} timed out: "
                   "killed at the check's 2 s time limit\n")
    assert "src/a.py:1" in out, "the other check still reports"
    assert not alive(pid_of(pidfile)), "the engine's process is gone"


# ------------------------------------------------------------------------------------------------- the App


async def test_tree_and_timed_out_checks_in_the_app(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str, monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    pidfile = tmp_path / "sleepy.pid"
    tree = TreeCheck()
    register(monkeypatch, tree, SleepyCheck(pidfile, timeout=1.5))
    async with Stack(github_double, redis_url, redis_prefix) as stack:
        inst = stack.repo({"README.md": b"hello\n", "old.py": f"# {MARKER} old\n".encode()})
        pr = github_double.create_pull_request("octo/repo", changes={
            "src/a.py": (None, f"x = 1\n# {MARKER} new\n".encode()),
            "old.py": (f"# {MARKER} old\n".encode(), f"# {MARKER} old\nprint(1)\n".encode()),
            "link.py": (None, Symlink(b"src/a.py")),
        })
        assert (await stack.deliver("pull_request", pr_payload(pr, inst))).status_code == 202
        runs = await stack.completed(pr.head_sha, names=("prguard/tree", "prguard/sleepy"), timeout=60)

    tree_run = runs["prguard/tree"]
    assert tree_run.conclusion == "failure"
    assert [(a["path"], a["start_line"], a["annotation_level"]) for a in tree_run.annotations] == [
        ("src/a.py", 2, "failure")
    ]
    assert "symlink to `src/a.py`; never followed" in tree_run.summary
    (materialized,) = tree.trees
    assert [p for p, _, _ in materialized if not p.endswith("/")] == ["old.py", "src/a.py"]
    assert {mode for p, _, mode in materialized if not p.endswith("/")} == {0o644}

    sleepy = runs["prguard/sleepy"]
    assert sleepy.conclusion == "failure"
    assert sleepy.title == "The check errored"
    assert "timed out: killed at 1.5 s" in sleepy.summary
    assert not alive(pid_of(pidfile))
