"""The AI-BOM difference of a change: what it adds, removes or changes, in one line each.

`diff(base, head)` compares two inventories key by key; `summary_lines(change)` builds them from the base
and head sides of the change's files and words each entry the way a reviewer reads it ("adds model
acme/encoder from Hugging Face, unpinned (app/llm.py:12)"). A removal is worded "no longer referenced in
the changed files": the component may still be used by a file the change did not touch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from checks.aibom.inventory import build
from checks.aibom.model import KIND_WORDS, Component, Inventory, Kind
from checks.aibom.names import PROVIDER_NAMES
from checks.aibom.tree import ChangeSide
from checks.change import Change

#: attributes whose difference makes a component "changed" (evidence lines do not)
_COMPARED = ("version", "pinned", "sha256", "url", "package", "command", "args", "format", "signature",
             "revision", "lfs_pointer")
_SOURCES = {"huggingface": "Hugging Face", "pypi": "PyPI", "npm": "npm"} | PROVIDER_NAMES


@dataclass
class BomChange:
    action: str  # "adds", "removes", "changes"
    component: Component  # the head side's (the base side's for a removal)
    before: Component | None = None
    what: list[str] = field(default_factory=list)  # for "changes": "revision main -> 0123abc"

    @property
    def key(self) -> str:
        return self.component.key


def _facts(c: Component) -> dict[str, object]:
    facts: dict[str, object] = {"version": c.version, "pinned": c.pinned}
    facts.update({k: c.attrs.get(k) for k in _COMPARED if k in c.attrs})
    return facts


def diff(base: Inventory, head: Inventory) -> list[BomChange]:
    out: list[BomChange] = []
    for key, comp in sorted(head.components.items()):
        old = base.components.get(key)
        if old is None:
            out.append(BomChange("adds", comp))
            continue
        before, after = _facts(old), _facts(comp)
        what = [f"{k} {_short(before.get(k))} -> {_short(after.get(k))}"
                for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)]
        if what:
            out.append(BomChange("changes", comp, old, what))
    for key, comp in sorted(base.components.items()):
        if key not in head.components:
            out.append(BomChange("removes", comp))
    order = {k: i for i, k in enumerate(Kind)}
    out.sort(key=lambda e: (order[e.component.kind], e.action, e.key))
    return out


def _short(value: object) -> str:
    if value is None:
        return "none"
    text = " ".join(value) if isinstance(value, list) else str(value)
    return text[:12] if len(text) == 64 and all(c in "0123456789abcdef" for c in text) else text[:80]


def _pin_words(c: Component) -> str:
    if c.kind is Kind.MCP_SERVER:
        if c.attrs.get("url"):
            return f"at {c.attrs['url']}"
        runner = str(c.attrs.get("command", "")).rsplit("/", 1)[-1]
        package = c.attrs.get("package")
        origin = f"from {runner} {package}" if package else f"run by {runner or 'an unknown command'}"
        if c.pinned is False:
            latest = "@latest" if str(package or "").endswith("@latest") else "no pinned version"
            return f"{origin} ({latest}, unpinned)"
        return origin + (", pinned" if c.pinned else "")
    if c.kind is Kind.MODEL_FILE:
        parts = [str(c.attrs.get("format", "?"))]
        if c.attrs.get("serialization") == "pickle":
            parts.append("pickle-based")
        if c.attrs.get("lfs_pointer"):
            parts.append("Git LFS pointer")
        if c.attrs.get("sha256"):
            parts.append(f"sha256 {c.attrs['sha256'][:12]}")
        signature = str(c.attrs.get("signature", ""))
        parts.append("signed" if signature.startswith("signature") else "signature unknown"
                     if signature.startswith("unknown") else "unsigned")
        return ", ".join(parts)
    if c.source == "repository":
        return ""
    src = _SOURCES.get(c.source, c.source)
    words = f"from {src}" if c.kind in (Kind.MODEL, Kind.DATASET, Kind.SDK) and src else ""
    if c.kind in (Kind.MODEL, Kind.DATASET, Kind.SDK):
        if c.pinned:
            pin = f"pinned to {c.version[:12] if c.version and len(c.version) == 40 else c.version}"
        elif c.pinned is False:
            pin = f"unpinned ({c.version})" if c.version else "unpinned"
        else:
            pin = ""
        words = ", ".join(x for x in (words, pin) if x)
    return words


def _name(c: Component) -> str:
    if c.kind is Kind.PROVIDER:
        return PROVIDER_NAMES.get(c.name, c.name)
    return c.name


def line_for(entry: BomChange) -> str:
    c = entry.component
    noun = f"{KIND_WORDS[c.kind]} {_name(c)}"
    where = c.where()
    if entry.action == "adds":
        detail = _pin_words(c)
        return f"adds {noun}" + (f", {detail}" if detail else "") + (f" ({where})" if where != c.name else "")
    if entry.action == "removes":
        return f"removes {noun} (no longer referenced in the changed files)"
    return f"changes {noun}: " + "; ".join(entry.what) + (f" ({where})" if where != c.name else "")


def summary_lines(change: Change) -> list[str]:
    """One line per AI-BOM difference the change makes, plus one per file that could not be read."""
    base, head = build(ChangeSide(change, "base")), build(ChangeSide(change, "head"))
    lines = [line_for(entry) for entry in diff(base, head)]
    lines += [f"could not read {path} for the AI-BOM: {why}" for path, why in head.unread]
    return lines
