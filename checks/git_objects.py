"""Copy a git blob to a file without holding it in memory: read the object store directly.

`git cat-file blob` (2.39) inflates a whole blob in memory before writing it, so streaming a 200 MB model
through it costs a 200 MB git process. A blob stored loose (`objects/ab/cdef…`, zlib) or whole in a pack
(not as a delta: git does not deltify large binaries in practice) is one zlib stream; this module inflates it
in 1 MiB steps into the destination and checks the object id over what it wrote, so a corrupt store is an
error, never wrong bytes. Anything else (a delta, an alternate object store, a SHA-256 repository) returns
False and the caller falls back to `git cat-file`.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from pathlib import Path
from typing import BinaryIO

_CHUNK = 1 << 20
_OBJ_BLOB = 3


class CorruptObject(OSError):
    pass


def copy_blob(objects: str, sha: str, size: int, out: BinaryIO) -> bool:
    """Write blob `sha` (of `size` bytes) from the object directory `objects` to `out`; False when this
    module cannot stream it (the caller falls back). Raises `CorruptObject` on a damaged object."""
    if len(sha) != 40:
        return False
    loose = Path(objects, sha[:2], sha[2:])
    if loose.is_file():
        with open(loose, "rb") as fh:
            _inflate(fh, sha, size, out, header=True)
        return True
    for idx in sorted(Path(objects, "pack").glob("pack-*.idx")):
        offset = _find(idx, bytes.fromhex(sha))
        if offset is None:
            continue
        with open(idx.with_suffix(".pack"), "rb") as fh:
            fh.seek(offset)
            kind, length = _entry_header(fh)
            if kind != _OBJ_BLOB or length != size:
                return False  # a delta (or not what the tree said): let git resolve it
            _inflate(fh, sha, size, out, header=False)
        return True
    return False


def _find(idx: Path, want: bytes) -> int | None:
    """The pack offset of `want` from a version-2 pack index, by binary search with seeks."""
    with open(idx, "rb") as fh:
        head = fh.read(8)
        if head != b"\xfftOc\x00\x00\x00\x02":
            return None
        fanout = fh.read(1024)
        total = int.from_bytes(fanout[-4:], "big")
        first = want[0]
        lo = int.from_bytes(fanout[(first - 1) * 4:first * 4], "big") if first else 0
        hi = int.from_bytes(fanout[first * 4:first * 4 + 4], "big")
        names = 8 + 1024
        while lo < hi:
            mid = (lo + hi) // 2
            fh.seek(names + mid * 20)
            name = fh.read(20)
            if name == want:
                fh.seek(names + total * 24 + mid * 4)  # past the names and the CRCs
                off = int.from_bytes(fh.read(4), "big")
                if off & 0x80000000:
                    fh.seek(names + total * 28 + (off & 0x7FFFFFFF) * 8)
                    off = int.from_bytes(fh.read(8), "big")
                return off
            if name < want:
                lo = mid + 1
            else:
                hi = mid
    return None


def _entry_header(fh: BinaryIO) -> tuple[int, int]:
    byte = fh.read(1)[0]
    kind = (byte >> 4) & 7
    size = byte & 0x0F
    shift = 4
    while byte & 0x80:
        byte = fh.read(1)[0]
        size |= (byte & 0x7F) << shift
        shift += 7
    return kind, size


def _inflate(fh: BinaryIO, sha: str, size: int, out: BinaryIO, *, header: bool) -> None:
    inflater = zlib.decompressobj()
    digest = hashlib.sha1(b"blob %d\0" % size, usedforsecurity=False)
    pending = b""
    written = 0
    skipped_header = not header
    while True:
        data = inflater.unconsumed_tail or fh.read(_CHUNK)
        if not data and not inflater.unconsumed_tail:
            break
        chunk = inflater.decompress(data, _CHUNK)
        if not skipped_header:
            pending += chunk
            if b"\0" not in pending:
                if len(pending) > 64:
                    raise CorruptObject(f"object {sha[:12]}: bad loose header")
                continue
            head, _, chunk = pending.partition(b"\0")
            if head != b"blob %d" % size:
                raise CorruptObject(f"object {sha[:12]}: not a blob of {size} bytes")
            skipped_header = True
        if written + len(chunk) > size:
            raise CorruptObject(f"object {sha[:12]}: longer than {size} bytes")
        out.write(chunk)
        digest.update(chunk)
        written += len(chunk)
        if inflater.eof:
            break
    if written != size or digest.hexdigest() != sha:
        raise CorruptObject(f"object {sha[:12]}: content does not match its id")


def objects_dir(root: str, git_path: str) -> str:
    """`git rev-parse --git-path objects` output made absolute."""
    return git_path if os.path.isabs(git_path) else os.path.join(root, git_path)
