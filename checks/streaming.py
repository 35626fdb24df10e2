"""Reading a file of a change as a stream, for artifacts too large to hold in memory (models, datasets).

`Change.read` returns bytes and stops at the change's size cap (1 MiB by default): right for source code,
wrong for a 200 MB model or a 100 MB JSONL corpus, which must still be scanned. Such files are carried by the
change as *stream-only* (`Change.streamable`, `ChangedFile.stream_only`): checks that declare `streams = True`
get them, and read them with `CheckContext.open`, which hands back a seekable binary file:

- a working-tree file is opened without following any symlink (`checks.worktree_files.open_nofollow`) and read
  in place;
- a blob of a commit or of the index is copied into an anonymous temporary file (disk, not memory: zip
  readers need to seek): inflated from the object store in 1 MiB steps (`checks.git_objects`), or, for a
  delta or an alternate store, by its own `git cat-file blob` process (which holds the blob in git's memory);
- a source without a streaming opener (the App's PR contents) falls back to a bounded bytes read.

Which files may be streamed, and up to what size, is decided from the path (`stream_cap`): model artifacts up
to `MODEL_STREAM_MAX_BYTES`, dataset-like files up to `DATA_STREAM_MAX_BYTES`. A check may lower these per
repository (`max_bytes` of `open`, from its policy).
"""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import tempfile
from typing import BinaryIO

from checks import git_objects
from checks.change import FileTooLarge, human_size

#: What a model artifact may weigh and still be streamed through a scan (2 GiB).
MODEL_STREAM_MAX_BYTES = 2 * 1024**3
#: What a dataset-like file (JSONL, CSV, Parquet) may weigh and still be streamed (1 GiB).
DATA_STREAM_MAX_BYTES = 1024**3

MODEL_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".pkl", ".pickle", ".joblib", ".dill", ".npy", ".npz",
                  ".h5", ".hdf5", ".keras", ".onnx", ".safetensors", ".gguf", ".pb", ".tflite", ".mlmodel")
DATA_SUFFIXES = (".jsonl", ".ndjson", ".csv", ".tsv", ".parquet")

_CHUNK = 1 << 20


def stream_cap(path: str) -> int:
    """How many bytes of `path` may be streamed (0: not a streamable kind; the normal size cap applies)."""
    lower = path.lower()
    if lower.endswith(MODEL_SUFFIXES):
        return MODEL_STREAM_MAX_BYTES
    if lower.endswith(DATA_SUFFIXES):
        return DATA_STREAM_MAX_BYTES
    return 0


def too_large(path: str, size: int, cap: int) -> FileTooLarge:
    return FileTooLarge(f"{path}: larger than the {human_size(cap)} stream cap ({human_size(size)})", size)


def open_fd(fd: int, path: str, max_bytes: int | None) -> BinaryIO:
    """A binary file over an already opened descriptor of a regular file (taken over: closed with it)."""
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise FileTooLarge(f"{path}: not a regular file")
        if max_bytes is not None and st.st_size > max_bytes:
            raise too_large(path, st.st_size, max_bytes)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def spool_blob(
    root: str, sha: str, path: str, size: int, max_bytes: int | None, env: dict[str, str],
    objects: str | None = None,
) -> BinaryIO:
    """The blob `sha` copied into an anonymous temporary file (seekable, removed on close).

    Its own `git cat-file blob` process, so the change's shared `--batch` reader is not held for the
    length of a 200 MB copy; never more than `size` bytes are taken (a blob cannot grow, but a broken
    pipe must not make us read forever).
    """
    if max_bytes is not None and size > max_bytes:
        raise too_large(path, size, max_bytes)
    out = tempfile.TemporaryFile(prefix="prguard-stream-")  # noqa: SIM115 - returned open to the caller
    if objects is not None:
        try:
            if git_objects.copy_blob(objects, sha, size, out):
                out.seek(0)
                return out  # type: ignore[return-value]
        except BaseException:
            out.close()
            raise
        out.seek(0)
        out.truncate()
    # under core.bigFileThreshold git inflates a whole blob in memory before writing it; above it, it streams
    proc = subprocess.Popen(["git", "-C", root, "-c", "core.bigFileThreshold=1m", "cat-file", "blob", sha],
                            stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    try:
        assert proc.stdout is not None
        left = size
        while left > 0:
            chunk = proc.stdout.read(min(_CHUNK, left))
            if not chunk:
                break
            out.write(chunk)
            left -= len(chunk)
        if left:
            raise OSError(f"{path}: git returned {size - left} of {size} bytes")
    except BaseException:
        out.close()
        raise
    finally:
        with contextlib.suppress(OSError):
            proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    out.seek(0)
    return out  # type: ignore[return-value]


def spool_bytes(data: bytes) -> BinaryIO:
    """A fallback for sources that only read bytes (bounded by their own size cap)."""
    import io

    return io.BytesIO(data)



__all__ = [
    "DATA_STREAM_MAX_BYTES",
    "MODEL_STREAM_MAX_BYTES",
    "open_fd",
    "spool_blob",
    "spool_bytes",
    "stream_cap",
]
