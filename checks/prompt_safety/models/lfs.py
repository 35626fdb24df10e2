"""Git LFS pointer files: the model's bytes are not in the change, so they cannot be scanned here."""

from __future__ import annotations

import re

from checks.finding import Skipped

#: pointers are tiny text files (the spec caps them at 1024 bytes)
MAX_POINTER = 1024
_POINTER = re.compile(rb"\Aversion https://git-lfs\.github\.com/spec/v1\n(?:[a-z0-9.-]+ [^\n]*\n){1,10}\Z")
_OID = re.compile(rb"^oid sha256:([0-9a-f]{64})$", re.M)
_SIZE = re.compile(rb"^size (\d+)$", re.M)


def pointer(data: bytes) -> Skipped | None:
    """The "not scanned" skip for an LFS pointer, naming the object it points at; None if not one."""
    if len(data) > MAX_POINTER or not _POINTER.match(data):
        return None
    oid = _OID.search(data)
    size = _SIZE.search(data)
    what = f"sha256:{oid.group(1).decode()[:12]}…" if oid else "an LFS object"
    bytes_ = f", {int(size.group(1))} bytes" if size else ""
    return Skipped("", f"Git LFS pointer to {what}{bytes_}: the model's bytes are not in the change "
                       "(not scanned; fetch LFS content to scan it)")
