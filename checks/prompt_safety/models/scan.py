"""One changed model file -> findings: pick the format from its first bytes (then its suffix), scan it as a
stream, then check its integrity. A format this package cannot analyse is reported as not scanned."""

from __future__ import annotations

import io
import lzma
import zipfile
import zlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, BinaryIO

from checks.change import FileTooLarge, ReadError
from checks.finding import Finding, Skipped
from checks.prompt_safety.models import compressed, gguf, integrity, keras, lfs, npy, onnx, safetensors, zips
from checks.prompt_safety.models import pickle as pickles
from checks.streaming import MODEL_STREAM_MAX_BYTES

if TYPE_CHECKING:
    from checks.change import ChangedFile
    from checks.context import CheckContext

PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".dill", ".pt", ".pth", ".bin", ".ckpt")
NOT_ANALYSED = (".pb", ".tflite", ".mlmodel")


def scan_model(file: ChangedFile, ctx: CheckContext) -> Iterator[Finding | Skipped]:
    cap = int(ctx.policy.options.get("max_model_bytes", MODEL_STREAM_MAX_BYTES))
    allow = tuple(ctx.policy.options.get("pickle_allow", ()))
    try:
        fh = ctx.open(file.path, max_bytes=cap)
    except FileTooLarge as exc:
        yield Skipped(file.path, f"larger than the model cap: {exc} (not scanned)")
        return
    except (ReadError, OSError) as exc:
        yield Skipped(file.path, f"could not be read: {exc}")
        return
    if fh is None:
        return
    with fh:
        size = fh.seek(0, 2)
        fh.seek(0)
        head = fh.read(1024)
        fh.seek(0)
        pointer = lfs.pointer(head) if size <= lfs.MAX_POINTER else None
        if pointer is not None:
            yield Skipped(file.path, pointer.reason)
            return
        yield from _by_format(fh, file.path, size, head, allow, ctx)
    yield from integrity.check(file, ctx)


def _by_format(fh: BinaryIO, path: str, size: int, head: bytes, allow: tuple[str, ...],
               ctx: CheckContext) -> Iterator[Finding | Skipped]:
    lower = path.lower()
    if zips.is_zip(head):
        yield from _archive(fh, path, allow, ctx)
    elif head.startswith(npy.MAGIC):
        yield from _npy(fh, path, size, "", allow, ctx)
    elif head.startswith(gguf.MAGIC) or lower.endswith(".gguf"):
        yield from gguf.scan(fh, path)
    elif lower.endswith(".safetensors"):
        yield from safetensors.scan(fh, path, size)
    elif lower.endswith(".onnx"):
        yield from onnx.scan(fh, path, size)
    elif head.startswith(b"\x89HDF") or lower.endswith((".h5", ".hdf5")):
        yield from keras.scan_h5(fh, path)
    elif lower.endswith(PICKLE_SUFFIXES) and compressed.kind(head) is not None:
        yield from _compressed(fh, path, compressed.kind(head) or "", allow, ctx)
    elif lower.endswith(PICKLE_SUFFIXES) and pickles.looks_like_pickle(head):
        found = pickles.scan_stream(fh, path, size=size, allow=allow, expired=ctx.expired)
        yield from found.findings
        yield pickles.format_finding(path, "pickle file")
    elif lower.endswith(NOT_ANALYSED):
        yield Skipped(path, "model format not analysed (no loader code path is parsed for it)")
    elif lower.endswith(".bin"):
        # `.bin` is every kind of binary: one that is no pickle, zip, safetensors, GGUF or HDF5 is not
        # recognisably a model (PyTorch's .bin files are zips or pickles, caught above)
        return
    else:
        yield Skipped(path, "model file of an unrecognised layout (not a pickle, zip, safetensors, GGUF, "
                            "ONNX or HDF5 header): not analysed")


def _archive(fh: BinaryIO, path: str, allow: tuple[str, ...],
             ctx: CheckContext) -> Iterator[Finding | Skipped]:
    zf, problems = zips.open_archive(fh, path)
    yield from problems
    if zf is None:
        return
    with zf:
        names = {i.filename for i in zf.infolist()}
        pickled = False
        try:
            config = next((i for i in zf.infolist() if i.filename == "config.json"), None)
            if config is not None and path.lower().endswith(".keras"):
                yield from keras.scan_config(zips.read_member(zf, config, keras.MAX_CONFIG), path)
            for info in zips.members(zf, (".pkl", ".pickle")):
                pickled = True
                with zf.open(info) as member:
                    data = member.read(min(info.file_size, zips.MEMBER_IN_MEMORY))
                    found = pickles.scan_bytes(data, path, inner=info.filename, allow=allow,
                                               expired=ctx.expired)
                    yield from found.findings
                    if info.file_size > zips.MEMBER_IN_MEMORY:
                        yield Skipped(path, f"{info.filename}: pickle member larger than "
                                            f"{zips.MEMBER_IN_MEMORY} bytes, read partly")
            for info in zips.members(zf, (".npy",)):
                with zf.open(info) as member:
                    data = member.read(min(info.file_size, zips.MEMBER_IN_MEMORY))
                pickled = pickled or _has_object_array(data)
                yield from _npy(io.BytesIO(data), path, len(data), info.filename, allow, ctx)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
            yield zips.rules.ARCHIVE_BAD.finding(path, 0, f"{path}: member could not be read ({exc})",
                                                 key="member")
        if pickled:
            kind = "PyTorch zip archive holding a pickle" if any(n.endswith("data.pkl") for n in names) \
                else "zip archive holding pickles"
            yield pickles.format_finding(path, kind)


def _npy(fh: BinaryIO, path: str, size: int, inner: str, allow: tuple[str, ...],
         ctx: CheckContext) -> Iterator[Finding | Skipped]:
    try:
        meta, offset = npy.header(fh)
    except npy.NpyError as exc:
        yield pickles.rules.PICKLE_MALFORMED.finding(path, 0, f"{inner or path}: {exc}", key=f"{inner}:npy")
        return
    if not npy.has_objects(meta.get("descr")):
        return  # plain numbers: nothing to unpickle
    found = pickles.scan_stream(fh, path, size=size - offset, inner=inner or "", allow=allow,
                                expired=ctx.expired)
    yield from found.findings
    if not inner:
        yield pickles.format_finding(path, "NumPy array of Python objects (a pickle)")


def _has_object_array(data: bytes) -> bool:
    try:
        meta, _ = npy.header(io.BytesIO(data))
    except npy.NpyError:
        return False
    return npy.has_objects(meta.get("descr"))


def _compressed(fh: BinaryIO, path: str, kind: str, allow: tuple[str, ...],
                ctx: CheckContext) -> Iterator[Finding | Skipped]:
    """A compressed pickle (joblib `compress=`): inflated within bounds, then walked."""
    try:
        inner = compressed.inflate(fh, kind)
    except compressed.Bomb as exc:
        yield zips.rules.ARCHIVE_BOMB.finding(path, 0, f"{path}: {kind} stream {exc}", key=f"{kind}-bomb")
        return
    except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError) as exc:
        yield pickles.rules.PICKLE_MALFORMED.finding(path, 0, f"{path}: {kind} stream is corrupt ({exc})",
                                                     key=f"{kind}-corrupt")
        return
    if inner is None:
        yield Skipped(path, f"{kind}-compressed pickle (no standard-library decompressor): not scanned")
        return
    with inner:
        head = inner.read(64)
        inner.seek(0)
        if not pickles.looks_like_pickle(head):
            yield Skipped(path, f"{kind}-compressed data that is not a pickle: not analysed")
            return
        found = pickles.scan_stream(inner, path, allow=allow, expired=ctx.expired)
        yield from found.findings
    yield pickles.format_finding(path, f"{kind}-compressed pickle")
