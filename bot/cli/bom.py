"""`prguard bom [PATH] [--output FILE]`: write the repository's AI-BOM as CycloneDX 1.6 JSON.

Offline and static (`checks.aibom`): models referenced in code and model files, datasets, prompts, agent
rules and settings, MCP servers, LLM providers and SDKs, each with its evidence. In a git repository the
files are those git knows (tracked, plus untracked ones that are not ignored), so a virtualenv or a
build directory is not inventoried; elsewhere the directory is walked. The document is checked against the
CycloneDX 1.6 schema before it is written: an invalid BOM is an error, never an output.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from importlib import metadata

from checks.aibom import Inventory, scan_directory
from checks.aibom.cdx import to_cyclonedx
from checks.git_refs import find_root
from checks.git_run import GitError, git

EPILOG = """\
exit status:
  0  the AI-BOM was written
  1  the BOM did not validate against the CycloneDX 1.6 schema (a prguard bug: please report it)
  2  usage error: PATH is not a directory, or the output could not be written
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("path", nargs="?", default=".", metavar="PATH",
                        help="the repository or directory to inventory (default: the current directory)")
    parser.add_argument("--output", "-o", default="-", metavar="FILE",
                        help="where to write the JSON (default: standard output)")
    parser.add_argument("--name", default=None, help="the name of the described application "
                        "(default: the directory's name)")


def _files(path: str) -> tuple[str, list[str] | None]:
    """(root, git's file list) in a git repository; (path, None) to walk a plain directory."""
    try:
        root = find_root(path)
    except GitError:
        return path, None
    raw = git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    files = [p.decode("utf-8", "surrogateescape") for p in raw.split(b"\0") if p]
    sub = os.path.relpath(os.path.realpath(path), root)
    if sub != ".":  # PATH inside a repository: its subtree only, paths relative to PATH
        prefix = sub.replace(os.sep, "/") + "/"
        return path, [p[len(prefix):] for p in files if p.startswith(prefix)]
    return root, files


def _version() -> str:
    try:
        return metadata.version("prguard")
    except metadata.PackageNotFoundError:
        return ""


def validate(doc: dict) -> str | None:
    """The first schema error of `doc` (CycloneDX 1.6, the schema shipped with cyclonedx-python-lib)."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(doc))
    return None if error is None else str(error)[:500]


def _counts(inventory: Inventory) -> str:
    counts: dict[str, int] = {}
    for c in inventory.components.values():
        counts[c.kind.value] = counts.get(c.kind.value, 0) + 1
    return ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no AI components"


def run(args: argparse.Namespace) -> int:
    path = args.path
    if not os.path.isdir(path):
        print(f"prguard bom: {path}: not a directory", file=sys.stderr)
        return 2
    try:
        root, files = _files(path)
    except GitError as exc:
        print(f"prguard bom: {exc}", file=sys.stderr)
        return 2
    inventory = scan_directory(root, files)
    name = args.name or os.path.basename(os.path.realpath(root)) or "repository"
    doc = to_cyclonedx(inventory, name=name, version=_version())
    error = validate(doc)
    if error is not None:
        print(f"prguard bom: the BOM does not validate against CycloneDX 1.6: {error}", file=sys.stderr)
        return 1
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if args.output == "-":
        sys.stdout.write(text)
    else:
        try:
            with open(args.output, "w", encoding="utf-8") as fh:
                fh.write(text)
        except OSError as exc:
            print(f"prguard bom: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
            return 2
    for path_, why in inventory.unread:
        print(f"prguard bom: not read: {path_}: {why}", file=sys.stderr)
    print(f"prguard bom: {_counts(inventory)}", file=sys.stderr)
    return 0
