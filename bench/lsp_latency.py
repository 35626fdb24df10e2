"""Keystroke-to-diagnostic latency of `prguard lsp` on a 2,000-line file.

A real git repository in a temporary directory holds a 2,000-line Python module on `main` and a `feature`
branch; `prguard lsp` runs as a subprocess (stdio, as an editor starts it) and a pygls client opens the
module, then makes `--edits` edits, one at a time: each inserts a line holding a freshly generated GitHub
token (tests/secrets_keys.py, seeded) at another place of the file, so the branch's changes pile up as a
real branch's do. For each edit it measures the time from writing the `didChange` notification to receiving
the `publishDiagnostics` for that version, and checks the new key is among them (and not shown whole).

Two modules: real code (the first 2,000 lines of the standard library's argparse.py, fixed for a Python
version) and a worst case for the line diff (a generated module whose 9 lines repeat 222 times). Each runs
with the default debounce and with `--debounce 0`, which shows what the scan itself costs.

    .venv/bin/python bench/lsp_latency.py [--edits 20] [--lines 2000]

Prints a table (milliseconds); writes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.cli.lsp import DEFAULT_DEBOUNCE_MS  # noqa: E402
from tests.gitrepo import GitRepo  # noqa: E402
from tests.secrets_keys import CASES, SEED, reseed  # noqa: E402

GITHUB = next(c for c in CASES if c.rule_id == "secrets/github-token")
#: seconds to start the server, and to wait for any one diagnostics notification
DEADLINE = 30.0


def real_text(lines: int) -> str:
    """The first `lines` lines of argparse.py (real code; the same text for a given Python version)."""
    return "\n".join(Path(argparse.__file__).read_text(encoding="utf-8").split("\n")[:lines]) + "\n"


def repetitive_text(lines: int) -> str:
    """A module of exactly `lines` lines made of one 9-line function repeated (the line diff's worst case)."""
    out: list[str] = []
    i = 0
    while len(out) < lines:
        out += [
            f"def handler_{i}(request, retries=3):",
            f'    """Handle request kind {i}; retry transient failures."""',
            f"    url = f\"https://api.example.com/v1/items/{{request.id}}?page={i}\"",
            "    for attempt in range(retries):",
            "        response = session.get(url, timeout=10)  # bounded wait",
            "        if response.ok:",
            "            return response.json()",
            "    raise RuntimeError(f'gave up after {retries} attempts')",
            "",
        ]
        i += 1
    return "\n".join(out[:lines]) + "\n"


class Client(LanguageClient):
    def __init__(self) -> None:
        super().__init__("prguard-bench", "1")
        self.published: dict[int, tuple[float, types.PublishDiagnosticsParams]] = {}


def _record(ls: Client, params: types.PublishDiagnosticsParams) -> None:
    if params.version is not None:
        ls.published[params.version] = (time.monotonic(), params)


def _ignore(ls: Client, params: object) -> None:
    """Log and show-message notifications: not measured."""


async def _wait(client: Client, version: int) -> tuple[float, types.PublishDiagnosticsParams]:
    until = time.monotonic() + DEADLINE
    while version not in client.published:
        if time.monotonic() > until:
            raise SystemExit(f"no diagnostics for version {version} within {DEADLINE} s")
        await asyncio.sleep(0.001)
    return client.published[version]


async def measure(path: Path, debounce_ms: int, edits: int) -> list[float]:
    """Milliseconds from each edit's didChange to its diagnostics."""
    client = Client()
    client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)(_record)
    client.feature(types.WINDOW_LOG_MESSAGE)(_ignore)
    client.feature(types.WINDOW_SHOW_MESSAGE)(_ignore)
    command = [sys.executable, "-m", "bot.cli.main", "lsp", "--debounce", str(debounce_ms)]
    await asyncio.wait_for(client.start_io(*command, cwd=str(ROOT)), DEADLINE)
    caps = types.ClientCapabilities(text_document=types.TextDocumentClientCapabilities(
        publish_diagnostics=types.PublishDiagnosticsClientCapabilities(version_support=True)))
    await asyncio.wait_for(client.initialize_async(types.InitializeParams(capabilities=caps)), DEADLINE)
    client.initialized(types.InitializedParams())
    uri, text = path.as_uri(), path.read_text(encoding="utf-8")
    total = text.count("\n")
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))
    await _wait(client, 1)
    timings: list[float] = []
    reseed(f"lsp_latency:{debounce_ms}")
    for n in range(edits):
        version = n + 2
        key, line = GITHUB.line()
        row = (n * 97) % total  # spread over the file
        at = types.Position(row, 0)
        change = types.TextDocumentContentChangePartial(range=types.Range(at, at), text=line + "\n")
        sent = time.monotonic()
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(uri=uri, version=version), [change]))
        arrived, params = await _wait(client, version)
        timings.append((arrived - sent) * 1000)
        flagged = [d for d in params.diagnostics if d.range.start.line == row and d.code == GITHUB.rule_id]
        if not flagged or any(key in d.message for d in params.diagnostics):
            raise SystemExit(f"edit {n}: the new key was not flagged (or was shown whole); seed {SEED}")
        total += 1
    await asyncio.wait_for(client.shutdown_async(None), DEADLINE)
    client.exit(None)
    await asyncio.wait_for(client.stop(), DEADLINE)
    return timings


def _row(label: str, ms: list[float]) -> str:
    ordered = sorted(ms)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return (f"| {label} | {len(ms)} | {statistics.median(ms):.0f} | {p90:.0f} | {ordered[0]:.0f} | "
            f"{ordered[-1]:.0f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=20, help="edits per run (default: 20)")
    parser.add_argument("--lines", type=int, default=2000, help="lines in the edited file (default: 2000)")
    args = parser.parse_args()
    rows = []
    for kind, make in (("real code", real_text), ("repetitive", repetitive_text)):
        with tempfile.TemporaryDirectory(prefix="prguard-lsp-bench-") as tmp:
            repo = GitRepo.init(Path(tmp) / "repo")
            repo.commit({"service.py": make(args.lines)}, "base")
            repo.branch("feature")
            for debounce in (DEFAULT_DEBOUNCE_MS, 0):
                ms = asyncio.run(measure(repo.path / "service.py", debounce, args.edits))
                rows.append(_row(f"{kind}, debounce {debounce} ms", ms))
    cpu = platform.processor() or platform.machine()
    git = subprocess.run(["git", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    print(f"prguard lsp: didChange → publishDiagnostics on a {args.lines}-line file, one new key per edit")
    print(f"({os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, {git}, seed {SEED})\n")
    print("| file, setting | edits | median ms | p90 ms | min ms | max ms |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
