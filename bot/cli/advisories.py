"""`prguard advisories sync|status`: build, refresh and inspect the offline advisory index.

    prguard advisories sync                          OSV's export zips, all eight ecosystems
    prguard advisories sync --from https://mirror/   a mirror serving <ecosystem>/all.zip
    prguard advisories sync --from ./osv-data/       JSON/YAML records in any layout, or zips
    prguard advisories sync --ecosystem npm          refresh npm only (the other ecosystems are kept)
    prguard advisories status                        where the index is, its source, date and counts

The index lives in --dir, else $PRGUARD_ADVISORY_DIR, else the user cache dir; `prguard scan` and the App
read it from the same place. A failed sync leaves the previous index in place (exit 1).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from checks.dependencies.model import ECOSYSTEMS

NO_DATA_RULE = "dependencies/no-advisory-data"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = __doc__.split("\n\n", 1)[1]
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    sync = sub.add_parser("sync", help="download OSV data (or read it from a path) and rebuild the index")
    sync.add_argument("--from", dest="source", metavar="URL-or-PATH",
                      help="a mirror base URL (<ecosystem>/all.zip), a zip URL, or a local directory/zip "
                           "(default: $PRGUARD_ADVISORY_MIRROR, else OSV's export bucket)")
    sync.add_argument("--ecosystem", action="append", choices=ECOSYSTEMS, metavar="NAME",
                      help=f"refresh only this ecosystem (repeatable; one of {', '.join(ECOSYSTEMS)})")
    sync.add_argument("--timeout", type=float, default=300.0, metavar="SECONDS",
                      help="HTTP timeout per request (default 300)")
    status = sub.add_parser("status", help="show the index's location, data source, date and counts")
    for p in (sync, status):
        p.add_argument("--dir", metavar="DIR", help="index directory (default: $PRGUARD_ADVISORY_DIR, else "
                                                    "the user cache dir)")


def run(args: argparse.Namespace) -> int:
    return _sync(args) if args.action == "sync" else _status(args)


def _sync(args: argparse.Namespace) -> int:
    import os

    from bot.features.advisory_sync import SyncError, sync

    source = args.source or os.environ.get("PRGUARD_ADVISORY_MIRROR") or None
    try:
        result = sync(source, args.ecosystem, args.dir, timeout=args.timeout)
    except SyncError as exc:
        print(f"prguard: advisories sync failed, the previous index is unchanged: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("prguard: advisories sync interrupted, the previous index is unchanged", file=sys.stderr)
        return 130
    meta = result.meta
    counts = ", ".join(f"{k} {v}" for k, v in sorted(meta.ecosystems.items())) or "none"
    print(f"advisory index: {result.path}")
    print(f"{meta.records} advisories ({counts}); {result.stats.withdrawn} withdrawn records ignored; "
          f"{len(result.changed)} new or changed since the previous index")
    print(meta.line())
    for problem in result.stats.skipped[:10]:
        print(f"skipped: {problem}", file=sys.stderr)
    return 0


def _status(args: argparse.Namespace) -> int:
    from checks.dependencies.advisories.location import index_path
    from checks.dependencies.advisories.store import AdvisoryIndex, IndexUnavailable

    path = index_path(args.dir)
    try:
        index = AdvisoryIndex(path)
    except IndexUnavailable as exc:
        print(f"prguard: {exc}: run `prguard advisories sync` to build it", file=sys.stderr)
        return 2
    meta = index.meta
    print(f"advisory index: {path} ({path.stat().st_size} bytes)")
    print(meta.line())
    print(f"built: {meta.built_at}; age of newest record: {_age(meta.data_date)}")
    for ecosystem, count in sorted(meta.ecosystems.items()):
        print(f"  {ecosystem}: {count} advisories")
    index.close()
    return 0


def _age(date: str) -> str:
    try:
        when = datetime.fromisoformat(date.replace("Z", "+00:00"))
    except ValueError:
        return "unknown"
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return f"{(datetime.now(UTC) - when).days} days"


def after_scan(checks: Sequence[object], results: Sequence[object]) -> tuple[list[str], str | None]:
    """For `prguard scan`: (lines for stderr, the error when a changed dependency file could not be checked
    for lack of advisory data — the scan then exits 2).

    The lines state the advisory data's source and date (every report shows how fresh its data is) and how
    many vulnerable packages were already present, not introduced by the change."""
    lines = [f"{getattr(c, 'name', '?')}: {n}" for c in checks for n in getattr(c, "notes", ())]
    missing = [f for r in results for f in getattr(r, "findings", ()) if f.rule_id == NO_DATA_RULE]
    if not missing:
        return lines, None
    paths = sorted({f.path for f in missing})
    commands = sorted({str(f.metadata.get("command") or "prguard advisories sync") for f in missing})
    shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
    return lines, (f"no advisory data to check {shown}: run `{'` and `'.join(commands)}` first "
                   "(or set PRGUARD_ADVISORY_DIR to a directory holding an index)")
