"""What the Terraform rules share: the module's blocks, references between them, provider-key literals."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from checks.finding import Finding
from checks.iac.ai_rules.catalog import BY_ID
from checks.iac.ai_rules.hcldoc import Block
from checks.iac.ai_rules.keys import describe, literal_key, might_hold_key
from checks.iac.ai_rules.model import finding


@dataclass
class Module:
    """The file being scanned (`own`, reported on) and its sibling files' blocks (`others`, context only)."""

    path: str
    own: list[Block]
    others: list[Block] = field(default_factory=list)

    @property
    def all(self) -> list[Block]:
        return [*self.own, *self.others]

    def resources(self, *types: str, own: bool = True) -> list[Block]:
        blocks = self.own if own else self.all
        return [b for b in blocks if b.kind == "resource" and b.type in types]

    def referenced(self, block: Block, by_types: tuple[str, ...], attr_pattern: str = "") -> list[Block]:
        """Resources of `by_types` anywhere in the module whose text references `block`'s address."""
        ref = re.compile(rf"\b{re.escape(block.type)}\.{re.escape(block.name)}\b{attr_pattern}")
        return [b for b in self.resources(*by_types, own=False) if ref.search(b.text)]


def add(
    out: list[Finding], rule_id: str, module: Module, block: Block, line: int, message: str, suffix: str = ""
) -> None:
    """Append a finding on `block` (resource identity = its address, plus `suffix` for sub-parts)."""
    out.append(finding(BY_ID[rule_id], module.path, line, block.end_line, block.address + suffix, message))


def _string_attrs(value: object, name: str = "") -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(name, value)]
    if isinstance(value, dict):
        return [pair for k, v in value.items() for pair in _string_attrs(v, str(k))]
    if isinstance(value, list):
        return [pair for v in value for pair in _string_attrs(v, name)]
    return []


def _line_with(block: Block, needle: str) -> int:
    for number, text in enumerate(block.text.splitlines(), start=block.line):
        if needle in text:
            return number
    return block.line


def key_literals(module: Module) -> list[Finding]:
    """PRG-AI-015 (variable defaults) and PRG-AI-016 (any other literal, .tfvars included)."""
    out: list[Finding] = []
    for block in module.own:
        if not might_hold_key(block.text, block.name):
            continue  # parsing every block with hcl2 would cost ~10 ms per KB for nothing
        if block.kind == "variable":
            secret = literal_key(block.name, block.body.get("default"))
            if secret:
                add(
                    out,
                    "PRG-AI-015",
                    module,
                    block,
                    block.line_of("default"),
                    f"Variable {block.name} defaults to an LLM provider key ({describe(secret)}): it "
                    "is in git and in every plan. Remove the default, mark it sensitive, read it from a "
                    "secret manager and rotate the key.",
                )
            continue
        seen: set[str] = set()
        for name, value in _string_attrs(block.body):
            secret = literal_key(name, value)
            if secret and secret not in seen:
                seen.add(secret)
                add(
                    out,
                    "PRG-AI-016",
                    module,
                    block,
                    _line_with(block, secret[:12]),
                    f"{block.address} sets {name} to a literal LLM provider key ({describe(secret)}); "
                    "read it "
                    "from a secret manager and rotate the key.",
                    f"/{name}",
                )
    return out


def tfvars(path: str, attrs: dict[str, object], text: str) -> list[Finding]:
    """PRG-AI-016 in a .tfvars file: top-level assignments only."""
    out: list[Finding] = []
    lines = text.splitlines()
    for name, value in _string_attrs(attrs):
        secret = literal_key(name, value)
        if not secret:
            continue
        line = next((i for i, t in enumerate(lines, start=1) if secret[:12] in t), 1)
        out.append(
            finding(
                BY_ID["PRG-AI-016"],
                path,
                line,
                line,
                f"tfvars/{name}",
                f"{name} in {path} is a literal LLM provider key ({describe(secret)}); pass it from a "
                "secret manager (TF_VAR_ from CI secrets) and rotate the key.",
            )
        )
    return out
