"""Output formats for `prguard scan`: each module renders a `ScanReport` to a string.

Adding a format is one module with `render(report, *, color=False) -> str` and one line in `FORMATS`.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.cli.formats import json_format, sarif, text
from bot.cli.formats.scan_report import ScanReport

Renderer = Callable[..., str]

#: format name -> renderer, in the order `--format` lists them; the first is the default
FORMATS: dict[str, Renderer] = {
    "text": text.render,
    "json": json_format.render,
    "sarif": sarif.render,
}


def names() -> list[str]:
    return list(FORMATS)


def render(name: str, report: ScanReport, *, color: bool = False) -> str:
    """Render `report` as format `name`; colour only matters to formats meant for a terminal."""
    try:
        renderer = FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown format {name!r}; choose one of {', '.join(FORMATS)}") from None
    # Each format hides the secrets that are part of paths where it prints a path; this last pass catches
    # the rest (a title, a fix or metadata that quotes a path), whatever a check put in them.
    return report.hide(renderer(report, color=color))


__all__ = ["FORMATS", "ScanReport", "names", "render"]
