"""zizmor over the changed GitHub Actions files (workflows, composite actions, dependabot.yml), offline.

`--no-config` so a `zizmor.yml` added by the change cannot switch audits off. Files are passed by path, and
zizmor says which it completed: a file it could not load (invalid YAML or not a workflow by its schema)
comes back in `unparsed`, never as clean.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from checks.iac.engines import run_engine, zizmor_path

if TYPE_CHECKING:
    from checks.context import CheckContext

#: zizmor's exit codes: 0 clean, 10-14 findings by highest severity; 3: no inputs
_OK = {0, 3, 10, 11, 12, 13, 14}
_COMPLETED = re.compile(r"completed (.+?)\s*$")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True)
class ZizmorFinding:
    audit: str
    desc: str
    url: str
    severity: str
    confidence: str
    path: str
    start: int  # 1-based
    end: int
    route: str
    #: the route without list indexes: a step inserted above does not make an old finding look new
    route_keys: str
    feature: str
    annotation: str


@dataclass
class ZizmorRun:
    findings: list[ZizmorFinding] = field(default_factory=list)
    unparsed: list[str] = field(default_factory=list)


def argv(paths: Sequence[str]) -> list[str]:
    return [zizmor_path(), "--offline", "--no-config", "--format", "json", "--no-progress",
            "--color", "never", "--", *paths]


def run(tree: Path, paths: Sequence[str], ctx: CheckContext, *, memory_mb: int) -> ZizmorRun:
    done = run_engine(ctx, "zizmor", argv(paths), cwd=tree, memory_mb=memory_mb,
                      env={"NO_COLOR": "1", "RUST_LOG": "info"})
    if done.returncode not in _OK:
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise RuntimeError(f"zizmor exited with status {done.returncode}: {' / '.join(tail)[:400]}")
    out = parse(done.stdout)
    completed = {m.group(1) for line in _ANSI.sub("", done.stderr.decode("utf-8", "replace")).splitlines()
                 if (m := _COMPLETED.search(line))}
    out.unparsed = [p for p in paths if p not in completed]
    return out


def parse(stdout: bytes) -> ZizmorRun:
    text = stdout.decode("utf-8", "replace").strip()
    data: Any = json.loads(text) if text else []
    out = ZizmorRun()
    for item in data:
        if item.get("ignored"):
            continue
        locations = item.get("locations") or []
        primary = next((loc for loc in locations if loc.get("symbolic", {}).get("kind") == "Primary"),
                       locations[0] if locations else None)
        if primary is None:
            continue
        symbolic = primary.get("symbolic", {})
        key = symbolic.get("key", {})
        local = key.get("Local") or next(iter(key.values()), {}) if isinstance(key, dict) else {}
        path = str(local.get("verbatim_path") or local.get("given_path") or "").removeprefix("./")
        concrete = primary.get("concrete", {}).get("location", {})
        start = int(concrete.get("start_point", {}).get("row", 0)) + 1
        end_point = concrete.get("end_point", {})
        end = int(end_point.get("row", start - 1)) + (0 if end_point.get("column", 1) == 0 else 1)
        determinations = item.get("determinations") or {}
        out.findings.append(ZizmorFinding(
            audit=str(item.get("ident")), desc=str(item.get("desc") or item.get("ident")),
            url=str(item.get("url") or ""), severity=str(determinations.get("severity", "Unknown")),
            confidence=str(determinations.get("confidence", "Unknown")), path=path, start=start,
            end=max(start, end), route=_route(symbolic.get("route", {})),
            route_keys=_route(symbolic.get("route", {}), keys_only=True),
            feature=str(primary.get("concrete", {}).get("feature") or ""),
            annotation=str(symbolic.get("annotation") or "")))
    return out


def _route(route: Any, *, keys_only: bool = False) -> str:
    """The finding's place as a path of keys and indexes (`jobs/build/steps/2/run`): no line numbers."""
    parts = []
    for comp in (route or {}).get("route", []) if isinstance(route, dict) else []:
        if isinstance(comp, dict):
            parts += [str(v) for k, v in comp.items() if not (keys_only and k == "Index")]
        else:
            parts.append(str(comp))
    return "/".join(parts)
