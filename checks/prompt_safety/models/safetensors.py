"""safetensors: an 8-byte little-endian header length, a JSON header, then raw tensor bytes.

The format cannot run code, so the only risks are in the header: a length beyond the file or absurdly large
(a reader allocating it is a memory bomb), JSON that is not an object, or tensor offsets outside the data.
"""

from __future__ import annotations

import json
from typing import BinaryIO

from checks.finding import Finding
from checks.prompt_safety.models import rules

#: the reference implementation refuses headers above 100 MB
MAX_HEADER = 100_000_000


def scan(fh: BinaryIO, path: str, size: int) -> list[Finding]:
    def bad(why: str, key: str) -> list[Finding]:
        return [rules.SAFETENSORS_BAD.finding(path, 0, f"{path}: {why}", key=key)]

    head = fh.read(8)
    if len(head) < 8:
        return bad("shorter than the 8-byte header length", "short")
    n = int.from_bytes(head, "little")
    if n > MAX_HEADER:
        return bad(f"header length {n} is above the {MAX_HEADER}-byte limit", "header-size")
    if n > size - 8:
        return bad(f"header length {n} runs past the end of the {size}-byte file", "header-past-end")
    raw = fh.read(n)
    try:
        header = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return bad(f"header is not JSON ({type(exc).__name__})", "not-json")
    if not isinstance(header, dict):
        return bad("header is not a JSON object", "not-object")
    data_len = size - 8 - n
    for name, entry in header.items():
        if name == "__metadata__":
            if not isinstance(entry, dict) or not all(isinstance(v, str) for v in entry.values()):
                return bad("__metadata__ is not a map of strings", "metadata")
            continue
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if (not isinstance(offsets, list) or len(offsets) != 2 or not all(isinstance(o, int) for o in offsets)
                or not 0 <= offsets[0] <= offsets[1] <= data_len):
            return bad(f"tensor {str(name)[:80]!r} has data offsets outside the file", "offsets")
    return []
