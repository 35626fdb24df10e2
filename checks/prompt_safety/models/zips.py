"""Zip-based model formats (PyTorch `.pt/.pth/.bin/.ckpt` archives, `.npz`, `.keras`), read within bounds.

Only the central directory is trusted for sizes, and it is checked before any member is read: too many
entries, a declared total beyond `MAX_TOTAL`, a member expanding more than `MAX_RATIO` times, or members
whose data overlap (the "non-recursive zip bomb") make the archive a finding and nothing is decompressed.
Members are then read through `zipfile`'s own stream, never more than their declared size.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from itertools import pairwise
from typing import BinaryIO

from checks.finding import Finding
from checks.prompt_safety.models import rules

MAX_ENTRIES = 20_000
MAX_TOTAL = 8 * 1024**3  # declared uncompressed bytes of all members
MAX_RATIO = 200  # per member, for members above RATIO_FLOOR bytes
RATIO_FLOOR = 1024 * 1024
#: members read into memory for the pickle walker; larger ones are walked through the zip stream
MEMBER_IN_MEMORY = 64 * 1024 * 1024


def is_zip(head: bytes) -> bool:
    return head[:4] in (b"PK\x03\x04", b"PK\x05\x06")


def open_archive(fh: BinaryIO, path: str) -> tuple[zipfile.ZipFile | None, list[Finding]]:
    """The archive, or None with the finding that says why it is not read further."""
    try:
        zf = zipfile.ZipFile(fh)  # reads only the central directory
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        return None, [rules.ARCHIVE_BAD.finding(path, 0, f"{path}: not a readable zip archive ({exc})",
                                                key="badzip")]
    problem = bomb_reason(zf)
    if problem is not None:
        zf.close()
        return None, [rules.ARCHIVE_BOMB.finding(path, 0, f"{path}: {problem}; not extracted", key="bomb")]
    bad = [i.filename for i in zf.infolist() if _escapes(i.filename)]
    if bad:
        zf.close()
        return None, [rules.ARCHIVE_BAD.finding(
            path, 0, f"{path}: member name {bad[0]!r} leaves the archive's directory", key="traversal")]
    return zf, []


def bomb_reason(zf: zipfile.ZipFile) -> str | None:
    infos = zf.infolist()
    if len(infos) > MAX_ENTRIES:
        return f"{len(infos)} entries (more than {MAX_ENTRIES})"
    total = sum(i.file_size for i in infos)
    if total > MAX_TOTAL:
        return f"declares {total} uncompressed bytes (more than {MAX_TOTAL})"
    for i in infos:
        if i.file_size > RATIO_FLOOR and i.file_size > MAX_RATIO * max(i.compress_size, 1):
            return (f"member {i.filename!r} expands {i.file_size // max(i.compress_size, 1)}x "
                    f"({i.compress_size} -> {i.file_size} bytes, more than {MAX_RATIO}x)")
    spans = sorted((i.header_offset, i.header_offset + 30 + len(i.orig_filename.encode("utf-8", "replace"))
                    + i.compress_size, i.filename) for i in infos)
    for (_, end, name), (start, _, other) in pairwise(spans):
        if start < end:  # the next member starts inside this one's data: both share compressed bytes
            return f"members {name!r} and {other!r} overlap (a non-recursive zip bomb)"
    return None


def _escapes(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":")


def members(zf: zipfile.ZipFile, suffixes: tuple[str, ...]) -> Iterator[zipfile.ZipInfo]:
    for info in zf.infolist():
        if not info.is_dir() and info.filename.lower().endswith(suffixes):
            yield info


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """At most `limit` bytes of a member (never more than it declares)."""
    with zf.open(info) as member:
        return member.read(min(limit, info.file_size))
