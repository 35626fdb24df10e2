"""Compressed pickles (joblib's `compress=`: zlib, gzip, bz2, xz, lzma), inflated within bounds into a
temporary file and then walked like any pickle. lz4 is not in the standard library: reported as not scanned.

Bounds: at most `MAX_OUTPUT` bytes, and a ratio above `MAX_RATIO` once past `RATIO_FLOOR` bytes is a
decompression bomb (reported, not inflated further).
"""

from __future__ import annotations

import bz2
import lzma
import tempfile
import zlib
from collections.abc import Callable
from typing import BinaryIO

MAX_OUTPUT = 2 * 1024**3
MAX_RATIO = 1000
RATIO_FLOOR = 64 * 1024 * 1024
_CHUNK = 1 << 20

LZ4 = b"\x04\x22\x4d\x18"


class Bomb(Exception):
    pass


def kind(head: bytes) -> str | None:
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"BZh"):
        return "bz2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if head.startswith(b"]\x00\x00"):
        return "lzma"
    if head.startswith(b"ZF"):
        return "zf"  # joblib < 0.10: 'ZF' + 16-byte length, then a zlib stream
    if len(head) >= 2 and head[0] == 0x78 and (head[0] * 256 + head[1]) % 31 == 0:
        return "zlib"
    if head.startswith(LZ4):
        return "lz4"
    return None


def _decompressor(name: str) -> Callable[[bytes, int], bytes] | None:
    if name in ("zlib", "zf"):
        obj = zlib.decompressobj()
    elif name == "gzip":
        obj = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif name in ("bz2", "xz", "lzma"):
        other = bz2.BZ2Decompressor() if name == "bz2" else lzma.LZMADecompressor()
        # these keep unconsumed input inside; once at the end of the stream they refuse any call
        return lambda data, n: b"" if other.eof else other.decompress(data, n)
    else:
        return None
    return lambda data, n: obj.decompress(obj.unconsumed_tail + data, n)


def inflate(fh: BinaryIO, name: str) -> BinaryIO | None:
    """A temporary file with the inflated stream (the caller closes it); None for lz4; raises `Bomb`."""
    step = _decompressor(name)
    if step is None:
        return None
    if name == "zf":
        fh.read(18)
    out = tempfile.TemporaryFile(prefix="prguard-inflate-")  # noqa: SIM115 - returned open to the caller
    read = written = 0
    try:
        while True:
            data = fh.read(_CHUNK)
            read += len(data)
            chunk = step(data, _CHUNK)
            while chunk:
                written += len(chunk)
                if written > MAX_OUTPUT or (written > RATIO_FLOOR and written > MAX_RATIO * max(read, 1)):
                    raise Bomb(f"inflates past {written} bytes from {read} (limit {MAX_OUTPUT} bytes, "
                               f"{MAX_RATIO}x)")
                out.write(chunk)
                chunk = step(b"", _CHUNK)
            if not data:
                break
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out  # type: ignore[return-value]
