"""Model artifacts in a change: pickles (allowlist first), zips, Keras, ONNX, GGUF, safetensors, LFS pointers,
and the integrity of the bytes against a digest or signature the repository carries.

The interface the prompt-safety check calls:

- `applies(path) -> bool`: whether `path` is a model artifact this package scans (from the name alone);
- `scan_model(file, ctx) -> Iterable[Finding | Skipped]`: every finding on one changed model file, reading
  its bytes as a stream (`ctx.open`) so a 200 MB model never sits in memory.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from checks.ai_assets import MODEL_SUFFIXES
from checks.finding import Finding, Skipped

if TYPE_CHECKING:
    from checks.change import ChangedFile
    from checks.context import CheckContext

__all__ = ["applies", "scan_model"]


def applies(path: str) -> bool:
    """A model artifact by its suffix (`checks.ai_assets.MODEL_SUFFIXES`)."""
    return path.lower().endswith(MODEL_SUFFIXES)


def scan_model(file: ChangedFile, ctx: CheckContext) -> Iterable[Finding | Skipped]:
    """Findings on one changed model file, read as a stream (`ctx.open`): a file over the change's size
    cap arrives as `ChangedFile.stream_only` when the check declares `streams = True`."""
    from checks.prompt_safety.models.scan import scan_model as scan

    return scan(file, ctx)
