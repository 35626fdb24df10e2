"""`prguard policy eval --input facts.json [--policy PATH ...]`: try Rego policies on a facts document
locally, exactly as the App evaluates them (the same engine, time limit and input).

Policies default to `.github/prguard/*.rego` of the current directory. Prints every `deny` and `warn`;
exit 1 when something is denied, 2 when a policy or the input is invalid, 0 otherwise. Get a facts document
for a local change with `prguard scan --explain`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="policy_command", metavar="ACTION", required=True)
    ev = sub.add_parser("eval", help="evaluate Rego policies against a facts document")
    ev.add_argument("--input", required=True, metavar="FACTS.json", help="the facts document (JSON)")
    ev.add_argument(
        "--policy",
        action="append",
        metavar="PATH",
        help="a .rego file or a directory of them (repeatable; default: .github/prguard)",
    )
    ev.add_argument("--format", choices=("text", "json"), default="text")
    ev.add_argument("--timeout", type=float, default=10.0, help="seconds before evaluation is stopped")


def _modules(paths: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw in paths:
        path = Path(raw)
        files = sorted(path.glob("*.rego")) if path.is_dir() else [path]
        for f in files:
            out[str(f)] = f.read_text(encoding="utf-8")
    return out


def run(args: argparse.Namespace) -> int:
    from checks.signoff.rego import RegoError, evaluate

    try:
        facts = json.loads(Path(args.input).read_text(encoding="utf-8"))
        modules = _modules(args.policy or [".github/prguard"])
    except (OSError, ValueError) as exc:
        print(f"prguard policy eval: {exc}", file=sys.stderr)
        return 2
    if not modules:
        print("prguard policy eval: no .rego files found", file=sys.stderr)
        return 2
    try:
        result = evaluate(modules, facts, timeout=args.timeout)
    except RegoError as exc:
        print(f"prguard policy eval: {exc}", file=sys.stderr)
        return 2
    if args.format == "json":
        print(json.dumps({"deny": result.deny, "warn": result.warn}, indent=2))
    else:
        for message in result.deny:
            print(f"deny: {message}")
        for message in result.warn:
            print(f"warn: {message}")
        if not (result.deny or result.warn):
            print("no deny, no warn")
    return 1 if result.deny else 0
