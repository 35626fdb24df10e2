"""The AI-BOM: a repository's AI components, built statically from a tree (a directory, or one side of a
change), and the difference a change makes to it.

- `build(tree)` -> `Inventory` (models referenced in code, model files, datasets, prompts, agent rules and
  settings, MCP servers, LLM providers and SDKs, each with evidence and its strength);
- `scan_directory(path)` / `scan_side(change, side)`: the two trees;
- `diff(base, head)` and `summary_lines(change)`: the difference, worded for a PR summary;
- `checks.aibom.cdx.to_cyclonedx(inventory)`: CycloneDX 1.6 JSON (`prguard bom`).

Pure: nothing is fetched, loaded or run.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from checks.aibom.diff import BomChange, diff, line_for, summary_lines
from checks.aibom.inventory import build
from checks.aibom.model import Component, Evidence, Inventory, Kind, Strength
from checks.aibom.tree import ChangeSide, DirectoryTree
from checks.change import Change, Side

__all__ = ["BomChange", "ChangeSide", "Component", "DirectoryTree", "Evidence", "Inventory", "Kind",
           "Strength", "build", "diff", "line_for", "scan_directory", "scan_side", "summary_lines"]


def scan_directory(root: str | os.PathLike[str], files: Sequence[str] | None = None) -> Inventory:
    return build(DirectoryTree(root, files))


def scan_side(change: Change, side: Side) -> Inventory:
    return build(ChangeSide(change, side))
