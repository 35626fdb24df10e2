"""The `prguard` command. Each subcommand lives in its own module, which adds its options and runs it.

Only the chosen subcommand's module is imported: `prguard scan` runs in every pre-commit hook, and importing
the server's dependencies (starlette, redis, githubkit) there would cost most of a second for nothing.
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: subcommand -> (module, help). Each module defines `add_arguments(parser)` and `run(args) -> int`.
COMMANDS: dict[str, tuple[str, str]] = {
    "scan": ("bot.cli.scan", "scan a local git repository's changes (no server, no GitHub needed)"),
    "serve": ("bot.cli.serve", "run the webhook receiver"),
    "worker": ("bot.cli.worker", "run a worker: queued pull-request work and periodic tasks"),
    "register": ("bot.cli.register", "create the GitHub App from app.yml (the manifest flow)"),
    "lsp": ("bot.cli.lsp", "run the language server (stdio): the scan's findings live in the editor"),
    "advisories": ("bot.cli.advisories", "build or refresh the offline advisory index (OSV data)"),
    "bom": ("bot.cli.bom", "write the repository's AI-BOM (CycloneDX 1.6 JSON)"),
    "policy": ("bot.cli.policy", "check a policy: evaluate Rego policies against a facts document"),
    "audit": ("bot.cli.audit", "list sign-offs, waivers, holds and bypasses, read back from GitHub"),
    "reconcile": ("bot.cli.reconcile", "redeliver failed webhook deliveries and queue PR heads with no runs"),
    "status": ("bot.cli.status", "queue depth, workers alive, dead letters and the last reconcile"),
    "engines": ("bot.cli.engines", "install or show the engines that need their own environment (checkov)"),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with `only`, just that subcommand's options are loaded (its module imported)."""
    parser = argparse.ArgumentParser(prog="prguard", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        if name == only:
            importlib.import_module(module).add_arguments(sp)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(chosen if chosen in COMMANDS else None)
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help(sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[args.command][0])
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
