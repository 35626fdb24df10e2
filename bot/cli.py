"""The `prguard` command. Each subcommand lives in its own module, which adds its options and runs it."""

from __future__ import annotations

import argparse
import importlib
import sys

#: subcommand -> (module, help). Each module defines `add_arguments(parser)` and `run(args) -> int`.
COMMANDS: dict[str, tuple[str, str]] = {
    "scan": ("bot.scan_cmd", "scan a local git repository's changes (no server, no GitHub needed)"),
    "serve": ("bot.web", "run the webhook receiver"),
    "worker": ("bot.worker", "run a worker that scans queued pull requests"),
    "register": ("bot.register", "create the GitHub App from app.yml (the manifest flow)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="prguard", description=__doc__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(module).add_arguments(sp)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help(sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[args.command][0])
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
