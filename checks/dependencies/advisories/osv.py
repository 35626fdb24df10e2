"""Reading OSV records: JSON or YAML files in any directory layout, and OSV's per-ecosystem `all.zip`.

Every record is parsed as data only (`yaml.safe_load`/`json.loads`), members are size-capped before they are
read (a zip bomb stops at the cap), and a record that is not OSV-shaped is counted as skipped, never fatal:
one bad file in a mirror must not stop a sync.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

#: one record larger than this is skipped (the largest real OSV records are a few hundred KB)
MAX_RECORD_BYTES = 16 * 1024 * 1024
_SUFFIXES = (".json", ".yaml", ".yml")

try:  # libyaml's loader when present: the PyPA database is 2,600 YAML files
    _YamlLoader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _YamlLoader = yaml.SafeLoader


@dataclass
class LoadStats:
    """How many records were read, and which were skipped and why (the sync prints it)."""

    records: int = 0
    withdrawn: int = 0
    skipped: list[str] = field(default_factory=list)


def parse_record(name: str, data: bytes) -> dict[str, Any] | None:
    """One record from a file's bytes; None when it is not an OSV record (no `id`, not a mapping)."""
    try:
        is_json = name.lower().endswith(".json")
        record = json.loads(data) if is_json else yaml.load(data, Loader=_YamlLoader)
    except (ValueError, yaml.YAMLError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("id"), str):
        return None
    return _plain(record)


def _plain(value: Any) -> Any:
    """YAML turns unquoted timestamps into datetimes: back to OSV's RFC 3339 text (`...Z`), so dates compare
    as text and records serialise as JSON, whichever way a file quoted them."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat() + "Z"
    if isinstance(value, date):
        return value.isoformat()
    return value


def _wanted(name: str) -> bool:
    base = os.path.basename(name)
    return base.lower().endswith(_SUFFIXES) and not base.startswith(".")


def records_from_zip(data: bytes | io.BufferedIOBase | str | os.PathLike[str], stats: LoadStats
                     ) -> Iterator[dict[str, Any]]:
    """Records inside an OSV export zip (or any zip of JSON/YAML records). Raises `zipfile.BadZipFile`
    for bytes that are not a zip: a truncated download must fail the sync, not shrink the index."""
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    with zipfile.ZipFile(source) as archive:
        for info in archive.infolist():
            if info.is_dir() or not _wanted(info.filename):
                continue
            if info.file_size > MAX_RECORD_BYTES:
                stats.skipped.append(f"{info.filename}: larger than {MAX_RECORD_BYTES} bytes")
                continue
            with archive.open(info) as member:
                raw = member.read(MAX_RECORD_BYTES + 1)
            yield from _one(info.filename, raw, stats)


def _one(name: str, raw: bytes, stats: LoadStats) -> Iterator[dict[str, Any]]:
    record = parse_record(name, raw)
    if record is None:
        stats.skipped.append(f"{name}: not an OSV record")
        return
    if record.get("withdrawn"):
        stats.withdrawn += 1
        return
    stats.records += 1
    yield record


def records_from_path(path: str | os.PathLike[str], stats: LoadStats) -> Iterator[dict[str, Any]]:
    """Records in a directory tree (any layout; zips inside it are read too), one zip, or one file.

    Symlinks are not followed: a mirror directory is data, and a link out of it is not part of it.
    """
    root = Path(path)
    if root.is_file():
        if zipfile.is_zipfile(root):
            yield from records_from_zip(root, stats)
        else:
            yield from _one(root.name, _read_capped(root), stats)
        return
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such file or directory")
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            full = Path(dirpath) / name
            if full.is_symlink():
                continue
            if name.lower().endswith(".zip"):
                yield from records_from_zip(full, stats)
            elif _wanted(name):
                yield from _one(str(full.relative_to(root)), _read_capped(full), stats)


def _read_capped(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(MAX_RECORD_BYTES + 1)


def summary_of(record: dict[str, Any]) -> str:
    """The record's one-line summary, else the first sentence of its details (at most 200 characters)."""
    text = str(record.get("summary") or "").strip()
    if not text:
        details = " ".join(str(record.get("details") or "").split())
        text = details.split(". ")[0]
    return text[:197] + "..." if len(text) > 200 else text
