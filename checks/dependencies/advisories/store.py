"""The SQLite advisory index: built once from OSV records, replaced atomically, read per package.

Layout: `advisory` (one row per record: id, aliases, summary, severity), `affected` (one row per affected
package of a record: ecosystem, normalised name, its ranges and versions as JSON, indexed on ecosystem and
name) and `meta` (data source, data date = newest `modified`, build time, counts per ecosystem).

`build_index` writes a new file beside the target and `os.replace`s it over the old one only once it is
complete and committed: an interrupted or failed build leaves the previous index untouched and usable, and
a reader holding the old file open keeps reading it.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from checks.dependencies.model import normalise_name

SCHEMA_VERSION = "1"
_DDL = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE advisory (id TEXT PRIMARY KEY, aliases TEXT NOT NULL, summary TEXT NOT NULL,
                       severity TEXT NOT NULL, score REAL, severity_source TEXT NOT NULL,
                       modified TEXT NOT NULL, published TEXT NOT NULL);
CREATE TABLE affected (ecosystem TEXT NOT NULL, name TEXT NOT NULL, id TEXT NOT NULL,
                       ranges TEXT NOT NULL, versions TEXT NOT NULL);
"""
_INDEXES = "CREATE INDEX affected_pkg ON affected (ecosystem, name);"


@dataclass(frozen=True)
class Advisory:
    """One advisory as it affects one package. Ranges and versions stay JSON text until a message needs
    them: matching works on the text (`versions.is_affected` compiles each distinct range once)."""

    id: str
    aliases_json: str
    summary: str
    severity: str
    score: float | None
    severity_source: str
    ranges_json: str
    versions_json: str
    modified: str

    @cached_property
    def aliases(self) -> tuple[str, ...]:
        return tuple(json.loads(self.aliases_json))

    @cached_property
    def ranges(self) -> tuple[dict[str, Any], ...]:
        return tuple(json.loads(self.ranges_json))

    @cached_property
    def versions(self) -> tuple[str, ...]:
        return tuple(json.loads(self.versions_json))


@dataclass(frozen=True)
class IndexMeta:
    source: str
    data_date: str
    built_at: str
    records: int
    ecosystems: dict[str, int]

    def line(self) -> str:
        """`OSV data from <source>, newest record <date>` for summaries and reports."""
        return f"advisory data: OSV from {self.source}, newest record {self.data_date or 'unknown'}"


def _base_ecosystem(ecosystem: str) -> str:
    """`Debian:11` → `Debian`; the eight package ecosystems have no suffix."""
    return ecosystem.split(":", 1)[0]


def _rows(record: dict[str, Any]) -> Iterator[tuple[str, str, str, str, str]]:
    seen: set[tuple[str, str, str, str]] = set()
    for affected in record.get("affected") or []:
        if not isinstance(affected, dict):
            continue
        package = affected.get("package") or {}
        ecosystem = _base_ecosystem(str(package.get("ecosystem") or ""))
        name = str(package.get("name") or "")
        if not ecosystem or not name:
            continue
        ranges = json.dumps([r for r in affected.get("ranges") or [] if isinstance(r, dict)])
        versions = json.dumps([str(v) for v in affected.get("versions") or []])
        key = (ecosystem, normalise_name(ecosystem, name), ranges, versions)
        if key not in seen:
            seen.add(key)
            yield (*key[:2], record["id"], ranges, versions)


def build_index(records: Iterable[dict[str, Any]], target: str | os.PathLike[str], *, source: str,
                keep_from: str | os.PathLike[str] | None = None,
                keep_ecosystems: Sequence[str] | None = None) -> IndexMeta:
    """Write the index of `records` to `target`, atomically; returns its meta.

    With `keep_from` (an existing index) and `keep_ecosystems`, that index's rows of those ecosystems are
    carried over (a sync of one ecosystem keeps the others). Records seen twice keep the newest `modified`.
    """
    from checks.dependencies.advisories import severity as sev  # cvss: only a build needs it
    from checks.dependencies.advisories.osv import summary_of

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".advisories-", suffix=".sqlite.part", dir=target.parent)
    os.close(fd)
    try:
        conn = sqlite3.connect(tmp_name)
        try:
            conn.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + _DDL)
            newest = ""
            for record in records:
                modified = str(record.get("modified") or "")
                old = conn.execute("SELECT modified FROM advisory WHERE id = ?", (record["id"],)).fetchone()
                if old is not None:
                    if old[0] >= modified:
                        continue
                    conn.execute("DELETE FROM advisory WHERE id = ?", (record["id"],))
                    conn.execute("DELETE FROM affected WHERE id = ?", (record["id"],))
                level, score, why = sev.of_record(record)
                aliases = [str(a) for a in record.get("aliases") or []]
                conn.execute("INSERT INTO advisory VALUES (?,?,?,?,?,?,?,?)",
                             (record["id"], json.dumps(aliases), summary_of(record), level, score, why,
                              modified, str(record.get("published") or "")))
                conn.executemany("INSERT INTO affected VALUES (?,?,?,?,?)", _rows(record))
                newest = max(newest, modified)
            if keep_from is not None and keep_ecosystems and Path(keep_from).is_file():
                newest = max(newest, _carry_over(conn, Path(keep_from), keep_ecosystems))
            conn.executescript(_INDEXES)
            counts = dict(conn.execute(
                "SELECT ecosystem, COUNT(DISTINCT id) FROM affected GROUP BY ecosystem").fetchall())
            total = conn.execute("SELECT COUNT(*) FROM advisory").fetchone()[0]
            meta = IndexMeta(source=source, data_date=newest, built_at=datetime.now(UTC).isoformat(
                timespec="seconds"), records=int(total), ecosystems={k: int(v) for k, v in counts.items()})
            conn.executemany("INSERT INTO meta VALUES (?,?)", [
                ("schema", SCHEMA_VERSION), ("source", meta.source), ("data_date", meta.data_date),
                ("built_at", meta.built_at), ("records", str(meta.records)),
                ("ecosystems", json.dumps(meta.ecosystems))])
            conn.commit()
        finally:
            conn.close()
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    return meta


def _carry_over(conn: sqlite3.Connection, old: Path, ecosystems: Sequence[str]) -> str:
    """Copy `ecosystems`' rows from the old index (records not replaced by this build); their newest date."""
    conn.execute("ATTACH DATABASE ? AS old", (str(old),))
    try:
        marks = ",".join("?" * len(ecosystems))
        conn.execute(f"INSERT INTO affected SELECT * FROM old.affected WHERE ecosystem IN ({marks}) "
                     "AND id NOT IN (SELECT id FROM advisory)", list(ecosystems))
        conn.execute("INSERT OR IGNORE INTO advisory SELECT * FROM old.advisory WHERE id IN "
                     "(SELECT id FROM affected)")
        row = conn.execute("SELECT MAX(modified) FROM advisory").fetchone()
        conn.commit()
    finally:
        conn.execute("DETACH DATABASE old")
    return str(row[0] or "")


class IndexUnavailable(Exception):
    """No usable index at the location (absent, or not an index prguard built)."""


class AdvisoryIndex:
    """A read-only view of one index file. Thread-safe: each thread gets its own connection."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise IndexUnavailable(f"no advisory index at {self.path}")
        try:
            self._local = threading.local()
            self._connections: list[sqlite3.Connection] = []
            meta = dict(self._conn.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as exc:
            raise IndexUnavailable(f"{self.path} is not a prguard advisory index ({exc})") from None
        self.meta = IndexMeta(source=meta.get("source", "?"), data_date=meta.get("data_date", ""),
                              built_at=meta.get("built_at", ""), records=int(meta.get("records", "0")),
                              ecosystems=json.loads(meta.get("ecosystems", "{}")))

    @property
    def _conn(self) -> sqlite3.Connection:
        """This thread's read-only connection (sqlite3 connections are not shared between threads; the
        App runs checks in threads). `checks.dependencies.index_access` opens a new `AdvisoryIndex` when a
        sync replaces the file."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            # check_same_thread=False only so `close` may close it from another thread; one thread uses it
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            self._local.conn = conn
            self._connections.append(conn)
        return conn

    def close(self) -> None:
        for conn in self._connections:
            conn.close()
        self._connections.clear()

    def covers(self, ecosystem: str) -> bool:
        """Whether the index holds any advisory data for `ecosystem`."""
        return self.meta.ecosystems.get(ecosystem, 0) > 0

    def lookup(self, ecosystem: str, names: Iterable[str]) -> dict[str, list[Advisory]]:
        """Advisories per normalised name, for many names at once (one query per 500 names)."""
        wanted = sorted({normalise_name(ecosystem, n) for n in names})
        found: dict[str, list[Advisory]] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._conn.execute(
                "SELECT f.name, a.id, a.aliases, a.summary, a.severity, a.score, a.severity_source, f.ranges,"
                " f.versions, a.modified FROM affected f JOIN advisory a ON a.id = f.id"
                f" WHERE f.ecosystem = ? AND f.name IN ({marks})", [ecosystem, *chunk]).fetchall()
            for name, aid, aliases, summary, level, score, why, ranges, versions, modified in rows:
                found.setdefault(name, []).append(Advisory(
                    id=aid, aliases_json=aliases, summary=summary, severity=level, score=score,
                    severity_source=why, ranges_json=ranges, versions_json=versions, modified=modified))
        return found

    def ids_modified_since(self, when: str) -> set[str]:
        """Advisories published or changed after `when` (an OSV `modified` timestamp): what a sync brought."""
        return {row[0] for row in self._conn.execute("SELECT id FROM advisory WHERE modified > ?", (when,))}

    def modified_by_id(self) -> dict[str, str]:
        """{advisory id: its `modified`}: what a sync compares to tell new and changed advisories."""
        return dict(self._conn.execute("SELECT id, modified FROM advisory").fetchall())
