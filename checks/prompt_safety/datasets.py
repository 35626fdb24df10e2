"""Data-poisoning scan of datasets: every JSONL/CSV record and every Parquet row, streamed.

A RAG corpus or an eval set is text a model will read as trusted context, so each record gets the same
signals as a prompt: hidden Unicode (decoded), injection and role-override phrasing, chat role markers, and
exfiltration. Findings name the record: its line for JSONL and CSV (the record's first line), its row index
for Parquet (file-level findings, since Parquet has no lines).

Files are streamed (`CheckContext.open`), never held whole: up to `dataset_max_bytes` (policy, default
`DEFAULT_MAX_BYTES`); what lies beyond is reported as not scanned, never dropped silently. A record longer
than `MAX_RECORD_BYTES` is skipped and reported the same way. JSON strings are decoded before scanning, so a
payload written as `\\udb40\\udc41` escapes is seen as the Tags characters it is.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from checks.prompt_safety import injection, unicode

DEFAULT_MAX_BYTES = 256 * 1024 * 1024
MAX_RECORD_BYTES = 4 * 1024 * 1024
#: strings shorter than this cannot hold an instruction worth reporting (ids, numbers, labels)
MIN_TEXT = 4


@dataclass(frozen=True)
class RecordHit:
    """One signal in one record: `line` for line-based formats (0 for Parquet), `record` its index."""

    line: int
    record: int
    where: str  # "record 12 (line 14)" / "row 1032"
    field: str
    signal: injection.Signal | None = None
    hidden: unicode.HiddenText | None = None


@dataclass
class Outcome:
    """What a dataset scan did not cover, for `Skipped` reasons."""

    truncated_at: int | None = None  # byte offset where the cap stopped the scan
    oversized: list[str] | None = None  # records skipped for size
    error: str | None = None


class Capped(io.RawIOBase):
    """A read-only view of the first `limit` bytes of `raw`; `hit` tells whether more was there."""

    def __init__(self, raw: BinaryIO, limit: int) -> None:
        self.raw, self.left, self.hit = raw, limit, False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.left <= 0:
            if not self.hit and self.raw.read(1):
                self.hit = True
            return 0
        chunk = self.raw.read(min(len(buffer), self.left))
        n = len(chunk)
        buffer[:n] = chunk
        self.left -= n
        return n


def strings(value: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(field path, text) of every string in a decoded JSON value (keys included: they are read too)."""
    if isinstance(value, str):
        yield prefix or "$", value
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and unicode.has_hidden(key):
                yield f"{prefix}.<key>", key
            yield from strings(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from strings(item, f"{prefix}[{i}]")


def scan_text(text: str, field: str, line: int, record: int, where: str,
              hosts: injection.HostPolicy) -> Iterator[RecordHit]:
    if len(text) < MIN_TEXT and not unicode.has_hidden(text):
        return
    for part in text.splitlines() or [text]:
        for hidden in unicode.scan_line(part):
            yield RecordHit(line, record, where, field, hidden=hidden)
        for signal in injection.scan_line(part, hosts, in_data=True):
            yield RecordHit(line, record, where, field, signal=signal)


def _lines(stream: io.BufferedReader, outcome: Outcome) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, bytes) with each line bounded by `MAX_RECORD_BYTES`."""
    number = 0
    while True:
        raw = stream.readline(MAX_RECORD_BYTES + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_RECORD_BYTES and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):  # drop the rest of the line without holding it
                raw = stream.readline(1 << 20)
            outcome.oversized = [*(outcome.oversized or []), f"line {number}"]
            continue
        yield number, raw


def scan_jsonl(stream: io.BufferedReader, hosts: injection.HostPolicy,
               outcome: Outcome) -> Iterator[RecordHit]:
    record = 0
    for number, raw in _lines(stream, outcome):
        text = raw.decode("utf-8", "replace")
        if number == 1:
            text = text.removeprefix("\ufeff")
        if not text.strip():
            continue
        record += 1
        if raw.isascii() and b"\\u" not in raw and not injection.might_match_bytes(raw.lower()):
            continue  # plain ASCII, no escapes, none of the words any pattern needs: nothing to find
        where = f"record {record} (line {number})"
        try:
            value = json.loads(text)
        except ValueError:
            value = text  # not JSON: its raw text is still what a loader may hand the model
        for field, s in strings(value):
            yield from scan_text(s, field, number, record, where, hosts)


def scan_csv(stream: io.BufferedReader, hosts: injection.HostPolicy, outcome: Outcome,
             delimiter: str = ",") -> Iterator[RecordHit]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
    reader = csv.reader(text, delimiter=delimiter)
    header: list[str] = []
    start = 1
    record = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # a field over csv's size limit, a NUL: this record is not scanned
            outcome.oversized = [*(outcome.oversized or []), f"line {start} ({exc})"]
            start = reader.line_num + 1
            continue
        if not header:
            header = row
            for i, cell in enumerate(row):
                yield from scan_text(cell, f"header[{i}]", start, 0, f"header (line {start})", hosts)
        else:
            record += 1
            where = f"record {record} (line {start})"
            joined = "\x1f".join(row)
            if joined.isascii() and not injection.might_match(joined.lower()):
                start = reader.line_num + 1
                continue
            for i, cell in enumerate(row):
                name = header[i] if i < len(header) and header[i] else f"column {i + 1}"
                yield from scan_text(cell, name, start, record, where, hosts)
        start = reader.line_num + 1


def scan_parquet(stream: BinaryIO, hosts: injection.HostPolicy, outcome: Outcome,
                 max_bytes: int) -> Iterator[RecordHit]:
    """Row groups streamed with pyarrow (`iter_batches`), string columns only, until the byte cap."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(stream)
    meta = parquet.metadata
    columns = [f.name for f in parquet.schema_arrow if pa.types.is_string(f.type)
               or pa.types.is_large_string(f.type) or pa.types.is_list(f.type)
               or pa.types.is_struct(f.type)]
    if not columns:
        return
    budget = max_bytes
    groups: list[int] = []
    for i in range(meta.num_row_groups):
        size = meta.row_group(i).total_byte_size
        if size > budget:
            rows_before = sum(meta.row_group(g).num_rows for g in groups)
            outcome.truncated_at = rows_before
            break
        budget -= size
        groups.append(i)
    row = 0
    for batch in parquet.iter_batches(batch_size=1024, row_groups=groups, columns=columns):
        data = batch.to_pydict()
        for offset in range(batch.num_rows):
            where = f"row {row + offset}"
            for name in columns:
                for field, s in strings(data[name][offset], name):
                    yield from scan_text(s, field, 0, row + offset, where, hosts)
        row += batch.num_rows


def kind_of(path: str) -> str | None:
    lower = path.lower()
    for suffix, kind in ((".jsonl", "jsonl"), (".ndjson", "jsonl"), (".csv", "csv"), (".tsv", "tsv"),
                         (".parquet", "parquet")):
        if lower.endswith(suffix):
            return kind
    return None


def scan_stream(path: str, raw: BinaryIO, hosts: injection.HostPolicy, max_bytes: int,
                outcome: Outcome) -> Iterator[RecordHit]:
    """Dispatch on the format; line formats read at most `max_bytes` (`outcome.truncated_at` says so)."""
    kind = kind_of(path)
    if kind == "parquet":
        yield from scan_parquet(raw, hosts, outcome, max_bytes)
        return
    capped = Capped(raw, max_bytes)
    stream = io.BufferedReader(capped, buffer_size=1 << 16)
    if kind == "jsonl":
        yield from scan_jsonl(stream, hosts, outcome)
    else:
        yield from scan_csv(stream, hosts, outcome, "\t" if kind == "tsv" else ",")
    if capped.hit:
        outcome.truncated_at = max_bytes
