"""GGUF: the metadata (not the tensors) read with the `gguf` library, for the chat template.

A GGUF file carries its own Jinja chat template (`tokenizer.chat_template`), which inference servers render
for every request. Templates that reach Python internals (`__class__`, `__globals__`, `cycler`, `joiner`,
`lipsum`, `|attr`) are the known server-side template injection route out of a Jinja sandbox; templates with
instruction-override phrasing inject into every conversation.

`GGUFReader` maps the file (`numpy.memmap`): tensor data is never read, so a 2 GB model costs page cache,
not memory.
"""

from __future__ import annotations

import re
from typing import BinaryIO

from checks.finding import Finding
from checks.prompt_safety.models import rules

MAGIC = b"GGUF"
MAX_TEMPLATE = 256 * 1024
#: attribute reaches that break out of a Jinja sandbox (none appear in real chat templates)
_CODE = re.compile(r"__\w+__|\bcycler\b|\bjoiner\b|\blipsum\b|\|\s*attr\b|\bself\s*\.|\bimport\b|\bos\s*\.\s*"
                   r"(?:popen|system)|\bsubprocess\b|\bconfig\s*\.\s*items\b|\brequest\s*\.")


def scan(fh: BinaryIO, path: str) -> list[Finding]:
    from gguf import GGUFReader  # imported on use: numpy is only paid for by repositories with GGUF files

    from checks.prompt_safety.models.fileio import as_path

    try:
        with as_path(fh) as real:
            reader = GGUFReader(real)
            templates = {name: _text(field) for name, field in reader.fields.items()
                         if name.startswith("tokenizer.chat_template")}
    except (ValueError, IndexError, KeyError, OSError, OverflowError, TypeError, MemoryError) as exc:
        why = f"{type(exc).__name__}: {str(exc)[:120]}"
        return [rules.GGUF_BAD.finding(path, 0, f"{path}: GGUF header could not be read ({why})",
                                       key="unreadable")]
    findings: list[Finding] = []
    for name, text in templates.items():
        if text is None:
            continue
        findings += template_findings(path, name, text)
    return findings


def _text(field: object) -> str | None:
    try:
        data = bytes(field.parts[field.data[0]])  # type: ignore[attr-defined]
    except (AttributeError, IndexError, TypeError):
        return None
    return data[:MAX_TEMPLATE].decode("utf-8", "replace")


def template_findings(path: str, key: str, text: str) -> list[Finding]:
    """Findings on one chat template (also used for `tokenizer_config.json`-style templates)."""
    out: list[Finding] = []
    code = sorted({m.group(0) for m in _CODE.finditer(text)})
    if code:
        out.append(rules.GGUF_TEMPLATE_CODE.finding(
            path, 0, f"{path}: {key} reaches {', '.join(code[:5])}", key=f"{key}:{','.join(code)}",
            metadata={"template_key": key, "reaches": code}))
    from checks.prompt_safety.injection import HostPolicy, scan_line

    hosts = HostPolicy()
    signals = [s for line in text.splitlines() for s in scan_line(line, hosts)]
    if signals:
        first = signals[0]
        out.append(rules.GGUF_TEMPLATE_INJECTION.finding(
            path, 0, f"{path}: {key} carries {first.rule.title.lower()}: {first.text[:120]!r}",
            key=f"{key}:injection", metadata={"template_key": key}))
    return out
