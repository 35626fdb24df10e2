"""What an AI-BOM holds: components, where each was seen, and how sure we are.

A component is identified by its `key` (kind, source and name, or kind and path for files), so the same
model referenced from three files is one component with three pieces of evidence, and two inventories of
the same repository (base and head of a change) can be compared key by key (`checks.aibom.diff`).

Strength says how the repository tells us about it, strongest first:
- `stated`: declared in a file meant to declare it (a dependency manifest, an MCP config, a model card, the
  model or dataset file itself, a Git LFS pointer);
- `reached`: code hands it to an SDK or loader call (`from_pretrained("org/m")`, `model="gpt-4o"` in an API
  call, an `import openai`);
- `ambiguous`: it looks like one but nothing shows it is used (a `MODEL = "gpt-4o"` constant, a model name
  in a call we do not know, a dynamic argument we cannot resolve).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Strength(StrEnum):
    STATED = "stated"
    REACHED = "reached"
    AMBIGUOUS = "ambiguous"

    @property
    def rank(self) -> int:
        return {"stated": 2, "reached": 1, "ambiguous": 0}[self.value]


class Kind(StrEnum):
    MODEL = "model"  # referenced by id (a hub model, a provider's API model, an Ollama tag)
    MODEL_FILE = "model-file"  # model bytes in the repository (or an LFS pointer to them)
    DATASET = "dataset"
    PROMPT = "prompt"
    AGENT_RULES = "agent-rules"
    AGENT_SETTINGS = "agent-settings"
    MCP_SERVER = "mcp-server"
    PROVIDER = "provider"  # an LLM API provider (OpenAI, Anthropic, a local Ollama)
    SDK = "sdk"  # a library that calls models or loads them


#: words used in summaries, per kind
KIND_WORDS: dict[Kind, str] = {
    Kind.MODEL: "model", Kind.MODEL_FILE: "model file", Kind.DATASET: "dataset", Kind.PROMPT: "prompt",
    Kind.AGENT_RULES: "agent rules", Kind.AGENT_SETTINGS: "agent settings", Kind.MCP_SERVER: "MCP server",
    Kind.PROVIDER: "LLM provider", Kind.SDK: "AI SDK",
}


@dataclass(frozen=True)
class Evidence:
    """Where a component was seen: a repository path, a 1-based line (0: the whole file), how strongly."""

    path: str
    line: int
    strength: Strength
    note: str = ""


@dataclass
class Component:
    """One AI component. `attrs` holds what identifies its content (revision, digest, command, URL, ...):
    a difference there between base and head is a change. `card` is what a model card states."""

    kind: Kind
    name: str
    source: str = ""  # huggingface, openai, anthropic, ollama, pypi, npm, local, repository, ...
    version: str | None = None  # a revision, a package version or specifier, a tag
    pinned: bool | None = None  # None: the notion does not apply (a prompt file, a remote URL)
    attrs: dict[str, Any] = field(default_factory=dict)
    card: dict[str, Any] = field(default_factory=dict)
    evidence: list[Evidence] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.kind.value}:{self.source}:{self.name}"

    @property
    def strength(self) -> Strength:
        """The strongest evidence."""
        return max((e.strength for e in self.evidence), key=lambda s: s.rank, default=Strength.AMBIGUOUS)

    def where(self) -> str:
        """"path:line" of the strongest evidence, for summaries."""
        if not self.evidence:
            return ""
        best = max(self.evidence, key=lambda e: e.strength.rank)
        return f"{best.path}:{best.line}" if best.line else best.path

    def merge(self, other: Component) -> None:
        """Fold `other` (same key) into this one: more evidence; stated facts win over guessed ones."""
        for ev in other.evidence:
            if ev not in self.evidence:
                self.evidence.append(ev)
        if other.strength.rank > self.strength.rank or self.version is None:
            self.version = other.version if other.version is not None else self.version
            self.pinned = other.pinned if other.pinned is not None else self.pinned
        elif self.pinned is not None and other.pinned is False:
            self.pinned = False  # one unpinned use is enough to make the model unpinned
        for k, v in other.attrs.items():
            self.attrs.setdefault(k, v)
        for k, v in other.card.items():
            self.card.setdefault(k, v)


@dataclass
class Inventory:
    """Every AI component found in one tree, by key; `unread` lists paths that could not be read."""

    components: dict[str, Component] = field(default_factory=dict)
    unread: list[tuple[str, str]] = field(default_factory=list)

    def add(self, component: Component) -> Component:
        existing = self.components.get(component.key)
        if existing is None:
            self.components[component.key] = component
            return component
        existing.merge(component)
        return existing

    def of_kind(self, kind: Kind) -> list[Component]:
        return sorted((c for c in self.components.values() if c.kind is kind), key=lambda c: c.key)

    def sorted(self) -> list[Component]:
        return sorted(self.components.values(), key=lambda c: (list(Kind).index(c.kind), c.key))
