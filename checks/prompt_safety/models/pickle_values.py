"""The few values the pickle walker tracks besides strings: small ints, tuples, dicts, and objects built from
a named callable, so that a joblib file can be followed past its arrays.

joblib writes each NumPy array as a `joblib.numpy_pickle.NumpyArrayWrapper` object and then the array's raw
bytes *inside* the pickle stream (an object array as a whole nested pickle); its unpickler reads them when it
BUILDs the wrapper. To keep walking the opcodes after an array, the walker needs the wrapper's state: shape,
dtype (its element size from the dtype's own BUILD state) and whether alignment padding precedes the data.
Containers are tracked only while small (`MAX_ITEMS`), so tracking costs bounded memory per opcode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_ITEMS = 64
_ANY = object()
_WRAPPERS = ("joblib.numpy_pickle.NumpyArrayWrapper",
             "sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper")
_INTS = {"BININT", "BININT1", "BININT2", "INT", "LONG", "LONG1", "LONG4"}
_CONSTS = {"NEWTRUE": True, "NEWFALSE": False, "NONE": None}


@dataclass(frozen=True)
class Ref:
    """A global pushed by GLOBAL/STACK_GLOBAL."""

    dotted: str


@dataclass(eq=False)
class Obj:
    """What calling a `Ref` (REDUCE/NEWOBJ) pushed, with its arguments and BUILD state when small."""

    dotted: str
    args: Any
    state: Any = field(default=_ANY)


def track(name: str, arg: Any, stack: list[Any], marks: list[int]) -> bool:
    """Apply the opcode when it is one whose value is tracked; False to let the generic rule handle it."""
    if name in _INTS:
        stack.append(arg if isinstance(arg, int) and abs(arg) < 1 << 63 else _ANY)
    elif name in _CONSTS:
        stack.append(_CONSTS[name])
    elif name == "EMPTY_TUPLE":
        stack.append(())
    elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
        n = int(name[-1])
        items = stack[-n:] if len(stack) >= n else []
        del stack[-n:]
        stack.append(tuple(items) if len(items) == n else _ANY)
    elif name == "TUPLE" and marks:
        items = stack[marks.pop():]
        del stack[len(stack) - len(items):]
        stack.append(tuple(items) if len(items) <= MAX_ITEMS else _ANY)
    elif name == "EMPTY_DICT":
        stack.append({})
    elif name == "SETITEM" and len(stack) >= 3:
        value, key = stack.pop(), stack.pop()
        _put(stack[-1], key, value)
    elif name == "SETITEMS" and marks:
        items = stack[marks.pop():]
        del stack[len(stack) - len(items):]
        for key, value in zip(items[::2], items[1::2], strict=False):
            if stack:
                _put(stack[-1], key, value)
    elif name == "REDUCE" and len(stack) >= 2:
        args, fn = stack.pop(), stack.pop()
        stack.append(Obj(fn.dotted, args) if isinstance(fn, Ref) else _ANY)
    elif name == "NEWOBJ" and len(stack) >= 2:
        args, cls = stack.pop(), stack.pop()
        stack.append(Obj(cls.dotted, args) if isinstance(cls, Ref) else _ANY)
    else:
        return False
    return True


def _put(target: Any, key: Any, value: Any) -> None:
    if isinstance(target, dict) and isinstance(key, str) and len(target) < MAX_ITEMS:
        target[key] = value


def is_array_wrapper(obj: Any) -> bool:
    return isinstance(obj, Obj) and obj.dotted in _WRAPPERS


def array_payload(obj: Any, state: Any) -> tuple[int, bool] | str | None:
    """For a BUILD: record the state; for a joblib wrapper, what follows the opcode: "pickle" (an object
    array), (raw bytes, alignment padding first), or None when it is not a wrapper or cannot be sized."""
    if not isinstance(obj, Obj):
        return None
    obj.state = state
    if obj.dotted not in _WRAPPERS or not isinstance(state, dict):
        return None
    dtype, shape = state.get("dtype"), state.get("shape")
    if not isinstance(dtype, Obj) or not isinstance(shape, tuple) or not all(isinstance(d, int)
                                                                              for d in shape):
        return None
    kind = dtype.args[0] if isinstance(dtype.args, tuple) and dtype.args else None
    flags = dtype.state[7] if isinstance(dtype.state, tuple) and len(dtype.state) > 7 else 0
    if kind == "O" or (isinstance(flags, int) and flags & 1):  # NPY_ITEM_REFCOUNT: holds Python objects
        return "pickle"
    size = dtype.state[5] if isinstance(dtype.state, tuple) and len(dtype.state) > 5 else None
    if not isinstance(size, int) or size <= 0:  # numpy stores the size only for flexible types (U, S, V)
        size = _fixed_size(kind)
    if size is None:
        return None
    count = 1
    for d in shape:
        count *= d
    return count * size, state.get("numpy_array_alignment_bytes") is not None


def _fixed_size(kind: Any) -> int | None:
    """Element size of a numpy type string such as `f8`, `i4`, `b1`, `c16`, `M8` (None otherwise)."""
    if not isinstance(kind, str) or len(kind) < 2 or kind[0] not in "biufcmMe" or not kind[1:].isdigit():
        return None
    return int(kind[1:])
