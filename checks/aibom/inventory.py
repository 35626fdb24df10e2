"""Build the AI inventory of a tree: every file the classifier (`checks.ai_assets`) recognises, every
dependency manifest, every source file's model references."""

from __future__ import annotations

from checks.ai_assets import CODE_SUFFIXES, AssetClassifier, AssetKind
from checks.aibom import artifacts, code, manifests
from checks.aibom.model import Inventory
from checks.aibom.tree import Tree, Unreadable

_PY = (".py", ".pyi")


def build(tree: Tree, classifier: AssetClassifier | None = None) -> Inventory:
    """The inventory of `tree`. A file that cannot be read is listed in `Inventory.unread`, not dropped."""
    classifier = classifier or AssetClassifier()
    inventory = Inventory()
    for path in tree.paths():
        kind = classifier.by_path(path)
        lower = path.lower()
        try:
            if kind is AssetKind.MODEL:
                found = list(artifacts.model_file(tree, path))
            elif kind in (AssetKind.DATASET, AssetKind.PROMPT, AssetKind.AGENT_RULES):
                found = list(artifacts.asset_file(tree, path, kind))
            elif kind in (AssetKind.MCP_CONFIG, AssetKind.AGENT_SETTINGS):
                text = _text(tree, path)
                found = list(manifests.from_mcp_config(path, text)) if text is not None else []
                if kind is AssetKind.AGENT_SETTINGS:
                    found += list(artifacts.asset_file(tree, path, kind))
            elif manifests.is_manifest(path):
                text = _text(tree, path)
                found = list(manifests.from_manifest(path, text)) if text is not None else []
            elif lower.endswith(CODE_SUFFIXES) and not lower.endswith(".ipynb"):
                text = _text(tree, path)
                if text is None:
                    found = []
                elif lower.endswith(_PY):
                    found = list(code.from_python(path, text))
                else:
                    found = list(code.from_script(path, text))
            else:
                found = []
        except Unreadable as exc:
            inventory.unread.append((path, str(exc)))
            continue
        for component in found:
            inventory.add(component)
    return inventory


def _text(tree: Tree, path: str) -> str | None:
    data = tree.read(path)
    return None if data is None else data.decode("utf-8", "replace")
