"""NumPy `.npy` files: a magic string, a Python-literal header, then the array. Only an array with an
object dtype holds a pickle (what `numpy.load(allow_pickle=True)` would unpickle); every other dtype is raw
numbers and safe."""

from __future__ import annotations

import ast
from typing import BinaryIO

MAGIC = b"\x93NUMPY"
MAX_HEADER = 64 * 1024


class NpyError(ValueError):
    pass


def header(fh: BinaryIO) -> tuple[dict[str, object], int]:
    """The header dict and the offset where the array data starts (relative to the file's start)."""
    start = fh.tell()
    lead = fh.read(8)
    if len(lead) < 8 or not lead.startswith(MAGIC):
        raise NpyError("not an .npy file (bad magic)")
    major = lead[6]
    width = 2 if major == 1 else 4
    n = int.from_bytes(fh.read(width), "little")
    if n > MAX_HEADER:
        raise NpyError(f"header of {n} bytes is larger than {MAX_HEADER}")
    raw = fh.read(n)
    if len(raw) != n:
        raise NpyError("truncated header")
    try:
        meta = ast.literal_eval(raw.decode("latin-1").strip())  # literals only: never evaluates code
    except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
        raise NpyError(f"header is not a Python literal ({type(exc).__name__})") from None
    if not isinstance(meta, dict) or "descr" not in meta:
        raise NpyError("header has no dtype")
    return meta, fh.tell() - start


def has_objects(descr: object) -> bool:
    """Whether a dtype description (a string or a structured list) contains an object field."""
    if isinstance(descr, str):
        return descr.lstrip("|<>=").startswith("O")
    if isinstance(descr, list):  # structured: [(name, dtype[, shape]), ...]
        return any(has_objects(field) for field in descr)
    if isinstance(descr, tuple) and len(descr) >= 2:
        return has_objects(descr[1])
    return False
