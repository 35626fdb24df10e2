"""`CheckContext`: what a check may use besides the files it was handed, all bounded and engine-owned.

A check that only reads changed files needs none of this. The next ones do: semgrep, checkov and zizmor run
over a directory tree (`materialize`), a lockfile check compares base and head of paths the change may not
touch (`read`), and every engine must stop at the check's deadline (`run_tool`, `deadline`). Putting these
here, instead of in each check, keeps the rules in one place:

- contents come from the `Change`'s reader, so symlinks are never followed and sizes are capped;
- a materialized tree holds regular files only (mode 0644, no symlink, no executable bit), at validated
  paths written with O_NOFOLLOW/O_EXCL, and only what the check asked for; the engine deletes it when the
  check finishes;
- a subprocess dies with its whole process group at the deadline (`checks.tools`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, BinaryIO

from checks import tools
from checks.change import SIDES, Change, ChangedFile, FileTooLarge, Side, check_repo_path
from checks.finding import Skipped
from checks.policy import CheckPolicy
from checks.tools import CheckTimeout

__all__ = ["DEFAULT_TIMEOUT", "CheckContext", "CheckTimeout", "Deadline", "Workspace"]

#: Seconds one check may take on one change (both sides of a baseline check together).
DEFAULT_TIMEOUT = 300.0


class Deadline:
    """A point in `time.monotonic()` time by which a check must be done, or earlier if `cancelled` is set
    (the job running the check was cancelled: its engines must not run on beside the next owner's)."""

    def __init__(self, seconds: float, cancelled: threading.Event | None = None) -> None:
        self.limit = float(seconds)
        self.at = time.monotonic() + self.limit
        self.cancelled = cancelled or threading.Event()

    def remaining(self) -> float:
        return 0.0 if self.cancelled.is_set() else max(0.0, self.at - time.monotonic())

    def expired(self) -> bool:
        return self.cancelled.is_set() or time.monotonic() >= self.at


class Workspace:
    """The temporary directories of one check's run; `close` removes them all (the engine calls it)."""

    def __init__(self) -> None:
        self._root: str | None = None
        self._lock = threading.Lock()
        self._trees: dict[tuple[str, str, tuple[str, ...] | None], Path] = {}

    def tree(self, key: tuple[str, str, tuple[str, ...] | None], fill: Any) -> Path:
        """The directory cached under `key`, created and filled by `fill(path)` on first use."""
        with self._lock:
            if key not in self._trees:
                if self._root is None:
                    self._root = tempfile.mkdtemp(prefix="prguard-check-")
                target = Path(self._root) / f"{key[0]}-{key[1]}-{len(self._trees)}"
                target.mkdir(mode=0o755)
                fill(target)
                self._trees[key] = target
            return self._trees[key]

    def home(self) -> Path:
        """A private, empty HOME for this check's engines (caches and settings stay inside the workspace)."""
        return self.tree(("home", "", None), lambda _root: None)

    def close(self) -> None:
        with self._lock:
            if self._root is not None:
                shutil.rmtree(self._root, ignore_errors=True)
            self._root = None
            self._trees.clear()


class CheckContext:
    """Handed to `Check.run(files, ctx)` by the engine; one per check and side.

    `side` is the side this run looks at: "head", or "base" for the second run of a baseline-mode check,
    whose `files` are the changed files as they were on the base (under their head paths). `policy` is the
    check's own settings, `services` what the caller injected (empty by default).
    """

    def __init__(
        self,
        change: Change,
        *,
        side: Side = "head",
        files: Sequence[ChangedFile] = (),
        policy: CheckPolicy | None = None,
        deadline: Deadline | None = None,
        services: Mapping[str, Any] | None = None,
        workspace: Workspace | None = None,
    ) -> None:
        self.change = change
        self.side: Side = side
        self.files = list(files)
        self.policy = policy or CheckPolicy()
        self.deadline = deadline or Deadline(DEFAULT_TIMEOUT)
        self.services: Mapping[str, Any] = MappingProxyType(dict(services or {}))
        self.workspace = workspace or Workspace()
        #: files the context could not provide (over the size cap), reported with the check's skips
        self.skipped: list[Skipped] = []

    def for_side(self, side: Side, files: Sequence[ChangedFile]) -> CheckContext:
        """A context for the other run of the same check: same deadline, policy, services and workspace."""
        return CheckContext(self.change, side=side, files=files, policy=self.policy, deadline=self.deadline,
                            services=self.services, workspace=self.workspace)

    # --- reading -----------------------------------------------------------------------------------------
    def read(self, path: str, side: Side | None = None) -> bytes | None:
        """Any repository path on `side` (default: this run's side); None when absent or a symlink.

        Raises `checks.change.FileTooLarge` over the size cap and `checks.change.ReadError` when the path
        could not be read: "could not read" is never "absent".
        """
        return self.change.read(path, self._side(side))

    def open(self, path: str, side: Side | None = None, max_bytes: int | None = None) -> BinaryIO | None:
        """A seekable binary file of `path` on `side` (default: this run's side), to use as a context
        manager; None when absent or a symlink. For files too large to `read` (`ChangedFile.stream_only`):
        the local source streams without holding the file in memory (`checks.streaming`). Raises
        `FileTooLarge` over `max_bytes` and `ReadError` as `read` does."""
        return self.change.open(path, self._side(side), max_bytes)

    def skip(self, path: str, reason: str) -> None:
        """Report a file the check could not scan (shown with the check's results, never silent)."""
        self.skipped.append(Skipped(path, reason))

    # --- a tree for engines ------------------------------------------------------------------------------
    def materialize(self, side: Side | None = None, paths: Sequence[str] | None = None) -> Path:
        """A directory holding `side`'s contents of this run's files (or of repository `paths`).

        Regular files only, mode 0644: a symlink or an absent path is left out, a file over the size cap
        is left out and reported as skipped. Cached per side (and path list) for this check's run; removed
        when the check finishes, so do not keep the path.
        """
        side = self._side(side)
        wanted = tuple(dict.fromkeys(check_repo_path(p) for p in paths)) if paths is not None else None
        return self.workspace.tree((self.side, side, wanted), lambda root: self._fill(root, side, wanted))

    def materialize_into(self, root: Path, paths: Sequence[str], side: Side | None = None) -> None:
        """Write `side`'s contents of repository `paths` under `root` (an engine tree the check lays out
        itself), with `materialize`'s rules: regular files only, a file over the size cap skipped."""
        wanted = tuple(dict.fromkeys(check_repo_path(p) for p in paths))
        self._fill(root, self._side(side), wanted)

    def _fill(self, root: Path, side: Side, paths: tuple[str, ...] | None) -> None:
        entries = ((f.path, f) for f in self.files) if paths is None else ((p, None) for p in paths)
        for path, file in entries:
            try:
                data = self._contents(path, side, file)
            except FileTooLarge as exc:
                self.skip(path, str(exc))
                continue
            if data is not None:
                write_file(root, path, data)

    def _contents(self, path: str, side: Side, file: ChangedFile | None) -> bytes | None:
        if file is None:
            return self.read(path, side)
        if side == self.side:
            return file.head_bytes()  # this run's own view: base content under the head path on a base run
        if side == "head":
            return self.read(file.path, "head")
        return self.read(file.old_path or file.path, "base")

    # --- time and engines --------------------------------------------------------------------------------
    def remaining(self) -> float:
        return self.deadline.remaining()

    def expired(self) -> bool:
        return self.deadline.expired()

    def run_tool(
        self,
        argv: Sequence[str],
        *,
        cwd: str | os.PathLike[str],
        env: Mapping[str, str] | None = None,
        input: bytes | None = None,
        timeout: float | None = None,
        memory_mb: int = tools.DEFAULT_MEMORY_MB,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run an engine (see `checks.tools.run_tool`) with at most the check's remaining time, under an
        address-space limit of `memory_mb` MiB (0: none), with HOME, TMPDIR and the XDG directories in the
        check's private workspace and no variable of ours beyond `checks.tools.INHERITED_ENV`.

        Raises `CheckTimeout` (tool name and limit) when it does not finish: its process group is killed.
        """
        remaining = self.remaining()
        home = self.workspace.home()
        (home / "tmp").mkdir(mode=0o700, exist_ok=True)
        env = {"HOME": str(home), "TMPDIR": str(home / "tmp"), "XDG_CACHE_HOME": f"{home}/.cache",
               "XDG_CONFIG_HOME": f"{home}/.config", **(env or {})}
        cancel = self.deadline.cancelled
        if timeout is not None and timeout < remaining:
            return tools.run_tool(argv, cwd=cwd, env=env, input=input, timeout=timeout, cancel=cancel,
                                  memory_mb=memory_mb)
        return tools.run_tool(argv, cwd=cwd, env=env, input=input, timeout=remaining, cancel=cancel,
                              limit=f"the check's {self.deadline.limit:g} s time limit", memory_mb=memory_mb)

    def _side(self, side: Side | None) -> Side:
        chosen = self.side if side is None else side
        if chosen not in SIDES:
            raise ValueError(f"side must be 'head' or 'base', not {chosen!r}")
        return chosen


def write_file(root: Path, rel: str, data: bytes) -> None:
    """Write `data` at `root/rel` as a new regular file (0644) without following any symlink.

    Each directory is opened relative to its parent with O_NOFOLLOW, and the file is created with
    O_EXCL|O_NOFOLLOW, so nothing already in the tree (or put there meanwhile) can redirect the write.
    """
    parts = check_repo_path(rel).split("/")
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        for part in parts[:-1]:
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o755, dir_fd=fd)
            nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = nxt
        out = os.open(parts[-1], os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=fd)
        try:
            os.fchmod(out, 0o644)  # whatever the umask says
            view = memoryview(data)
            while view:
                view = view[os.write(out, view):]
        finally:
            os.close(out)
    finally:
        os.close(fd)
