"""Every global a pickle imports, read from its opcode stream without unpickling anything.

Why our own walker rather than `pickletools.genops` or a scanner library: genops reads each argument whole
(a 200 MB tensor in a BINBYTES8 argument would sit in memory), stops at the first STOP, and says nothing
about *which* strings a STACK_GLOBAL takes. The scanners that resolve STACK_GLOBAL by looking back at the
last string opcodes were bypassed by memo tricks (strings fetched with BINGET, decoy strings then POP). So
this walker keeps a small model of the pickle machine's stack and memo: string values are tracked exactly,
everything else is an opaque placeholder, and a STACK_GLOBAL names what is really on the stack, or is
reported as dynamic (not resolvable statically: an obfuscation no legitimate writer produces).

Everything is bounded: arguments larger than `MAX_STRING` are skipped with a seek (never read whole), and
the walk stops at `MAX_OPS` opcodes, `MAX_STACK` stack entries or `MAX_MEMO` memo entries (a pickle bomb
ends as "too complex", reported, never as an exhausted worker).
"""

from __future__ import annotations

import io
import pickletools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from checks.prompt_safety.models import pickle_values as values
from checks.prompt_safety.models.pickle_values import _ANY
from checks.prompt_safety.models.pickle_values import Ref as _Ref

MAX_STRING = 64 * 1024
MAX_OPS = 5_000_000
MAX_STACK = 1_000_000
MAX_MEMO = 1_000_000
MAX_LINE = 64 * 1024
#: a pickle after STOP is walked too (legacy torch files hold five in a row) while it starts with PROTO
MAX_PICKLES = 16

_OPS = {op.code.encode("latin-1"): op for op in pickletools.opcodes}
_STRINGS = {"STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "SHORT_BINUNICODE", "BINUNICODE",
            "BINUNICODE8"}
_PUTS = {"PUT", "BINPUT", "LONG_BINPUT"}
_GETS = {"GET", "BINGET", "LONG_BINGET"}


class PickleError(Exception):
    """The stream is not a pickle (or is broken) at `pos`."""

    def __init__(self, message: str, pos: int) -> None:
        super().__init__(f"{message} at byte {pos}")
        self.pos = pos


@dataclass
class Global:
    module: str
    name: str
    opcode: str
    pos: int

    @property
    def dotted(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass
class Walk:
    """What one stream held: its globals, dynamic imports, and whether it was read to the end."""

    globals: list[Global] = field(default_factory=list)
    #: STACK_GLOBAL (or EXT*) whose target is not a literal: positions
    dynamic: list[tuple[str, int]] = field(default_factory=list)
    error: str | None = None  # malformed / truncated / too complex
    too_complex: bool = False
    pickles: int = 0
    ops: int = 0
    #: BINBYTES/BYTEARRAY payloads that start like a pickle: (offset, length) for a nested scan
    nested: list[tuple[int, int]] = field(default_factory=list)


class _Reader:
    """Reads opcodes and arguments from a file, skipping large ones with a seek."""

    def __init__(self, fh: BinaryIO, end: int) -> None:
        self.fh = fh
        self.end = end

    def pos(self) -> int:
        return self.fh.tell()

    def take(self, n: int) -> bytes:
        data = self.fh.read(n)
        if len(data) != n:
            raise PickleError("truncated pickle", self.pos())
        return data

    def skip(self, n: int) -> None:
        if self.pos() + n > self.end:
            raise PickleError("truncated pickle (argument runs past the end)", self.pos())
        self.fh.seek(n, io.SEEK_CUR)

    def line(self) -> bytes:
        data = self.fh.readline(MAX_LINE + 1)
        if not data.endswith(b"\n"):
            raise PickleError("unterminated or oversized text argument", self.pos())
        return data[:-1]


def walk(fh: BinaryIO, *, size: int | None = None, expired: Callable[[], bool] | None = None) -> Walk:
    """Walk every pickle in `fh` from its current position (at most `size` bytes)."""
    start = fh.tell()
    if size is None:
        size = fh.seek(0, io.SEEK_END) - start
        fh.seek(start)
    reader = _Reader(fh, start + size)
    result = Walk()
    while result.pickles < MAX_PICKLES and reader.pos() < reader.end:
        at = reader.pos()
        if result.pickles and fh.read(1) != b"\x80":  # only PROTO-led pickles after the first
            break
        fh.seek(at)
        try:
            _walk_one(reader, result, expired)
        except PickleError as exc:
            if not result.pickles or result.globals:
                result.error = str(exc)
            break
        result.pickles += 1
    return result


def _walk_one(reader: _Reader, result: Walk, expired: Callable[[], bool] | None) -> None:
    stack: list[object] = []
    marks: list[int] = []
    memo: dict[int, object] = {}
    while True:
        pos = reader.pos()
        if pos >= reader.end:
            raise PickleError("truncated pickle (no STOP)", pos)
        code = reader.take(1)
        op = _OPS.get(code)
        if op is None:
            raise PickleError(f"unknown opcode {code!r}", pos)
        result.ops += 1
        if result.ops % 65536 == 0 and expired is not None and expired():
            raise PickleError("time limit reached", pos)
        if result.ops > MAX_OPS or len(stack) > MAX_STACK or len(memo) > MAX_MEMO:
            result.too_complex = True
            raise PickleError("too complex to analyse (opcode, stack or memo bound reached)", pos)
        arg, raw_len = _argument(reader, op)
        name = op.name
        if name == "STOP":
            return
        if name in _STRINGS:
            stack.append(arg if isinstance(arg, str) else _ANY)
        elif name in ("BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8"):
            if raw_len is not None and raw_len[1] > 2:
                result.nested.append(raw_len)
            stack.append(_ANY)
        elif name == "MARK":
            marks.append(len(stack))
        elif name in _PUTS:
            memo[int(arg)] = stack[-1] if stack else _ANY
        elif name == "MEMOIZE":
            memo[len(memo)] = stack[-1] if stack else _ANY
        elif name in _GETS:
            stack.append(memo.get(int(arg), _ANY))
        elif name in ("GLOBAL", "INST"):
            module, _, attr = str(arg).partition(" ")
            result.globals.append(Global(module, attr, name, pos))
            if name == "INST":
                _pop_mark(stack, marks, pos)
            stack.append(_Ref(f"{module}.{attr}") if name == "GLOBAL" else _ANY)
        elif name == "STACK_GLOBAL":
            attr = stack.pop() if stack else _ANY
            module = stack.pop() if stack else _ANY
            if isinstance(module, str) and isinstance(attr, str):
                result.globals.append(Global(module, attr, name, pos))
                stack.append(_Ref(f"{module}.{attr}"))
            else:
                result.dynamic.append((name, pos))
                stack.append(_ANY)
        elif values.track(name, arg, stack, marks):
            pass  # ints, tuples, dicts and objects whose values a later BUILD needs (joblib arrays)
        elif name == "BUILD":
            state = stack.pop() if stack else _ANY
            payload = values.array_payload(stack[-1] if stack else _ANY, state)
            if payload == "pickle":  # joblib: an object array follows as a whole nested pickle
                _walk_one(reader, result, expired)
            elif payload is not None:  # joblib: (padding,) raw array bytes follow the wrapper's BUILD
                nbytes, aligned = payload
                if aligned:
                    reader.skip(reader.take(1)[0])
                reader.skip(nbytes)
            elif values.is_array_wrapper(stack[-1] if stack else _ANY):
                raise PickleError("joblib array of unknown size", pos)
        elif name in ("EXT1", "EXT2", "EXT4"):
            result.dynamic.append((name, pos))  # the copyreg extension registry: not resolvable here
            stack.append(_ANY)
        elif name == "POP":
            if stack and (not marks or len(stack) > marks[-1]):
                stack.pop()
            elif marks:
                marks.pop()
        elif name == "POP_MARK":
            _pop_mark(stack, marks, pos)
        elif name == "DUP":
            stack.append(stack[-1] if stack else _ANY)
        else:
            _generic(op, stack, marks, pos)


def _generic(op: pickletools.OpcodeInfo, stack: list[object], marks: list[int], pos: int) -> None:
    """Stack effect from the opcode's declared before/after lists (values become opaque)."""
    before = op.stack_before
    if pickletools.markobject in before:
        _pop_mark(stack, marks, pos)
        extra = before.index(pickletools.markobject)
    else:
        extra = len(before)
    for _ in range(extra):
        if stack:
            stack.pop()
    stack.extend(_ANY for _ in op.stack_after)


def _pop_mark(stack: list[object], marks: list[int], pos: int) -> None:
    if not marks:
        raise PickleError("MARK expected on the stack", pos)
    del stack[marks.pop():]


def _argument(reader: _Reader, op: pickletools.OpcodeInfo) -> tuple[object, tuple[int, int] | None]:
    """The opcode's argument (strings up to `MAX_STRING`), and for byte payloads (offset, length)."""
    desc = op.arg
    if desc is None:
        return None, None
    n = desc.n
    if n == pickletools.UP_TO_NEWLINE:
        line = reader.line()
        if op.name in ("GLOBAL", "INST"):
            second = reader.line()
            return f"{line.decode('utf-8', 'replace')} {second.decode('utf-8', 'replace')}", None
        return _decode_line(op.name, line), None
    if n >= 0:
        data = reader.take(n)
        return desc.reader(io.BytesIO(data)), None
    width = {pickletools.TAKEN_FROM_ARGUMENT1: 1, pickletools.TAKEN_FROM_ARGUMENT4: 4,
             pickletools.TAKEN_FROM_ARGUMENT4U: 4, pickletools.TAKEN_FROM_ARGUMENT8U: 8}[n]
    length = int.from_bytes(reader.take(width), "little", signed=n == pickletools.TAKEN_FROM_ARGUMENT4)
    if length < 0:
        raise PickleError("negative argument length", reader.pos())
    offset = reader.pos()
    if op.name in _STRINGS and length <= MAX_STRING:
        data = reader.take(length)
        if "UNICODE" not in op.name:
            return data.decode("latin-1"), None
        try:
            return data.decode("utf-8", "surrogatepass"), None
        except UnicodeDecodeError:
            raise PickleError("invalid UTF-8 in a string argument", offset) from None
    if length <= 16 and op.name in ("LONG1", "LONG4"):
        return int.from_bytes(reader.take(length), "little", signed=True), None
    reader.skip(length)
    return None, (offset, length)


def _decode_line(name: str, line: bytes) -> object:
    if name in ("STRING",):
        text = line.decode("latin-1")
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
            return text[1:-1]
        return text
    if name == "UNICODE":
        return line.decode("raw-unicode-escape", "replace")
    if name in ("PUT", "GET", "INT", "LONG"):
        try:
            return int(line.rstrip(b"L") or b"0")
        except ValueError:
            return 0
    return line.decode("latin-1")
