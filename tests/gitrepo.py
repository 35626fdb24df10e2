"""Real git repositories in a temp directory for tests.

`GitRepo.init(path)` makes a repository on branch `main` with a local user name and email; every git command
it runs ignores the machine's global and system config, so tests behave the same on every machine. Code under
test still runs git with the ordinary environment, as it would for a user.

    repo = GitRepo.init(tmp_path / "repo")
    repo.commit({"README.md": "hello\\n"}, "initial")
    repo.branch("feature")
    repo.write("app.py", "print(1)\\n")
    sha = repo.commit(message="add app")
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

#: Seconds any one git command may take: a prompt or a stale lock must fail the test, not hang it.
GIT_TIMEOUT = 60


def _isolated_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["GIT_CONFIG_GLOBAL"] = os.devnull
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    env["GIT_TERMINAL_PROMPT"] = "0"  # never wait for credentials on a terminal
    env["LC_ALL"] = "C"
    return env


class GitRepo:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def init(cls, path: Path, branch: str = "main") -> GitRepo:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        repo = cls(path)
        repo.git("init", "--quiet", f"--initial-branch={branch}")
        repo.git("config", "user.name", "prguard test")
        repo.git("config", "user.email", "test@prguard.invalid")
        repo.git("config", "commit.gpgsign", "false")
        repo.git("config", "core.autocrlf", "false")
        return repo

    @classmethod
    def on_feature_branch(cls, path: Path, base: Mapping[str, str | bytes], message: str = "base") -> GitRepo:
        """A repository whose `main` has one commit of `base`, checked out on a new branch `feature`: the
        shape every "what does this branch introduce" test starts from."""
        repo = cls.init(path)
        repo.commit(base, message)
        repo.branch("feature")
        return repo

    def git(self, *args: str, input: bytes | None = None) -> str:
        """Run git in the repository; a failure raises with git's stderr in the message."""
        proc = self.run_git(*args, input=input)
        if proc.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")
        return proc.stdout.decode("utf-8", "surrogateescape").strip()

    def run_git(
        self, *args: str, input: bytes | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        """Run git and return the completed process whatever its exit status (for commands that may fail)."""
        try:
            return subprocess.run(
                ["git", "-C", str(self.path), *args],
                input=input,
                capture_output=True,
                env={**_isolated_env(), **(env or {})},
                check=False,
                timeout=GIT_TIMEOUT,
            )
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"git {' '.join(args)} did not finish within {GIT_TIMEOUT} s") from exc

    def write(self, rel: str, content: str | bytes) -> Path:
        """Write a file (creating parent directories) without staging it."""
        target = self.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            target.write_text(content, encoding="utf-8")
        else:
            target.write_bytes(content)
        return target

    def symlink(self, rel: str, target: str) -> Path:
        link = self.path / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(target)
        return link

    def add(self, *rels: str) -> None:
        """Stage the given paths, or everything (including removals) when none are given."""
        self.git("add", "--all", "--", *rels) if rels else self.git("add", "--all")

    def remove(self, rel: str) -> None:
        self.git("rm", "--quiet", "--", rel)

    def move(self, old: str, new: str) -> None:
        (self.path / new).parent.mkdir(parents=True, exist_ok=True)
        self.git("mv", "--", old, new)

    def commit(self, files: Mapping[str, str | bytes] | None = None, message: str = "change") -> str:
        """Write `files`, stage everything and commit; returns the new commit's SHA."""
        for rel, content in (files or {}).items():
            self.write(rel, content)
        self.add()
        self.git("commit", "--quiet", "--allow-empty", "--no-verify", "-m", message)
        return self.head()

    def branch(self, name: str, start: str | None = None) -> None:
        """Create branch `name` (from `start`, default HEAD) and switch to it."""
        self.git("switch", "--quiet", "-c", name, *([start] if start else []))

    def switch(self, name: str) -> None:
        self.git("switch", "--quiet", name)

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")
