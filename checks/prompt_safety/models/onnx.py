"""ONNX: external-data locations read from the protobuf stream, without loading the model or its data.

An initializer may keep its bytes in another file (`external_data` key `location`); a runtime opens that path
relative to the model. A location that is absolute or climbs with `..` reads any file of the machine that
loads the model. `onnx.load(..., load_external_data=False)` still reads and parses the whole file in memory
(a 200 MB model costs several hundred MB), so this module walks the protobuf wire format itself: only the
messages on the way to a `TensorProto` are entered, every tensor payload is skipped with a seek.

Field numbers (onnx.proto3): ModelProto.graph 7, .functions 25; GraphProto.node 1, .initializer 5,
.sparse_initializer 15; FunctionProto.node 7; NodeProto.attribute 5; AttributeProto.t 5, .g 6, .tensors 10,
.graphs 11, .sparse_tensor 22, .sparse_tensors 23; SparseTensorProto.values 1, .indices 2;
TensorProto.name 8, .external_data 13, .data_location 14; StringStringEntryProto.key 1, .value 2.
"""

from __future__ import annotations

import io
import posixpath
from typing import BinaryIO

from checks.finding import Finding
from checks.prompt_safety.models import rules

MAX_DEPTH = 48
MAX_FIELDS = 5_000_000
MAX_STRING = 64 * 1024

_MODEL, _GRAPH, _FUNCTION, _NODE, _ATTR, _SPARSE, _TENSOR, _ENTRY = range(8)
#: (message kind, field number) -> kind of the sub-message to enter
_ENTER = {
    (_MODEL, 7): _GRAPH, (_MODEL, 25): _FUNCTION,
    (_GRAPH, 1): _NODE, (_GRAPH, 5): _TENSOR, (_GRAPH, 15): _SPARSE,
    (_FUNCTION, 7): _NODE,
    (_NODE, 5): _ATTR,
    (_ATTR, 5): _TENSOR, (_ATTR, 6): _GRAPH, (_ATTR, 10): _TENSOR, (_ATTR, 11): _GRAPH,
    (_ATTR, 22): _SPARSE, (_ATTR, 23): _SPARSE,
    (_SPARSE, 1): _TENSOR, (_SPARSE, 2): _TENSOR,
    (_TENSOR, 13): _ENTRY,
}


class OnnxError(ValueError):
    pass


def external_locations(fh: BinaryIO, size: int) -> list[tuple[str, str]]:
    """(tensor name, location) of every external-data tensor in the model."""
    walker = _Walker(fh)
    walker.message(_MODEL, fh.tell() + size, 0)
    return walker.found


class _Walker:
    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.fields = 0
        self.found: list[tuple[str, str]] = []

    def varint(self, end: int) -> int:
        shift = value = 0
        while True:
            if self.fh.tell() >= end:
                raise OnnxError("truncated varint")
            byte = self.fh.read(1)[0]
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
            if shift > 63:
                raise OnnxError("varint too long")

    def message(self, kind: int, end: int, depth: int) -> dict[int, str]:
        if depth > MAX_DEPTH:
            raise OnnxError("messages nested too deeply")
        strings: dict[int, str] = {}
        entries: list[dict[int, str]] = []
        while self.fh.tell() < end:
            self.fields += 1
            if self.fields > MAX_FIELDS:
                raise OnnxError("too many fields")
            tag = self.varint(end)
            number, wire = tag >> 3, tag & 7
            if wire == 0:
                self.varint(end)
            elif wire == 1 or wire == 5:
                self._skip(8 if wire == 1 else 4, end)
            elif wire == 2:
                length = self.varint(end)
                start = self.fh.tell()
                if start + length > end:
                    raise OnnxError("length-delimited field runs past its message")
                sub = _ENTER.get((kind, number))
                if sub is not None:
                    got = self.message(sub, start + length, depth + 1)
                    if sub == _ENTRY:
                        entries.append(got)
                elif (kind, number) in ((_TENSOR, 8), (_ENTRY, 1), (_ENTRY, 2)) and length <= MAX_STRING:
                    strings[number] = self.fh.read(length).decode("utf-8", "replace")
                self.fh.seek(start + length)
            else:
                raise OnnxError(f"unsupported wire type {wire}")
        if kind == _TENSOR:
            for entry in entries:
                if entry.get(1) == "location":
                    self.found.append((strings.get(8, "?"), entry.get(2, "")))
        return strings

    def _skip(self, n: int, end: int) -> None:
        if self.fh.tell() + n > end:
            raise OnnxError("truncated fixed-width field")
        self.fh.seek(n, io.SEEK_CUR)


def escapes(location: str) -> bool:
    """Absolute, drive-qualified, URL-like or climbing out of the model's directory."""
    loc = location.replace("\\", "/")
    if loc.startswith("/") or (len(loc) > 1 and loc[1] == ":") or "://" in loc or "\0" in loc:
        return True
    return ".." in posixpath.normpath(loc).split("/") or ".." in loc.split("/")


def scan(fh: BinaryIO, path: str, size: int) -> list[Finding]:
    try:
        found = external_locations(fh, size)
    except (OnnxError, OSError, IndexError) as exc:
        return [rules.ONNX_BAD.finding(path, 0, f"{path}: {exc}", key="unreadable")]
    out: list[Finding] = []
    for tensor, location in found:
        if escapes(location):
            out.append(rules.ONNX_EXTERNAL.finding(
                path, 0, f"{path}: tensor {tensor[:80]!r} reads its data from {location[:200]!r}",
                key=f"{tensor}:{location}", metadata={"location": location}))
    return out
