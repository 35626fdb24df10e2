"""`prguard lsp` end to end: a real LSP client (pytest-lsp) drives the server as a subprocess over stdio.

Each test makes a real git repository in a temporary directory (a base commit on `main`, then a feature
branch), starts `python -m bot.cli.main lsp`, opens a file and types into it. Keys come from the seeded
generator in tests/secrets_keys.py. Every wait has a deadline; the one latency the acceptance names (a
typed key is flagged within a second of the change notification) is measured from just before the
`didChange` is written to the moment the client received the diagnostics.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from lsprotocol import types
from lsprotocol.converters import get_converter
from pygls.protocol import default_converter
from pytest_lsp import LanguageClient, client_capabilities
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

from bot.cli.lsp import _HideSecrets
from bot.cli.lsp_diagnose import Diagnoser, _added_lines
from bot.cli.lsp_render import PRAGMA, allowlist_actions, comment_prefix
from checks.change import ChangedFile
from checks.context import CheckContext
from checks.finding import Finding
from tests.gitrepo import GitRepo
from tests.secrets_keys import CASES, RNG, seed_note

pytestmark = pytest.mark.timeout(90)

PROJECT = Path(__file__).resolve().parents[1]
SERVER = [sys.executable, "-m", "bot.cli.main", "lsp"]
#: seconds to start the server and answer `initialize`, and to wait for any one diagnostics notification
START_DEADLINE = 30.0
WAIT_DEADLINE = 15.0
PUBLISH = types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS
GITHUB = next(c for c in CASES if c.rule_id == "secrets/github-token")

#: `prguard lsp` with one more check registered: `ExplodingCheck` below, which always raises
BOOT_EXPLODING = """
import sys
from checks import registry
from tests.test_lsp import ExplodingCheck
registry.REGISTRY["exploding"] = ExplodingCheck
registry.TITLES["exploding"] = "Exploding"
from bot.cli.main import main
sys.exit(main(["lsp"]))
"""


class ExplodingCheck:
    """A check that fails on every file, quoting the line it failed on (and so any key on it)."""

    name = "exploding"
    title = "Exploding"

    def applies_to(self, file: ChangedFile) -> bool:
        return True

    def run(self, files: Sequence[ChangedFile], ctx: CheckContext) -> Iterator[Finding]:
        for file in files:
            last = (file.head_text() or "").splitlines()[-1:]
            raise RuntimeError(f"cannot parse {file.path}: {last}")
        yield from ()


class Client(LanguageClient):
    """pytest-lsp's client that also records when each publishDiagnostics arrived."""

    def __init__(self) -> None:
        super().__init__(converter_factory=default_converter)
        self.published: list[tuple[float, types.PublishDiagnosticsParams]] = []


def _record(ls: Client, params: types.PublishDiagnosticsParams) -> None:
    ls.published.append((time.monotonic(), params))
    ls.diagnostics[params.uri] = params.diagnostics


def _capabilities() -> types.ClientCapabilities:
    caps = client_capabilities("visual-studio-code")
    assert caps.text_document is not None and caps.text_document.publish_diagnostics is not None
    caps.text_document.publish_diagnostics.version_support = True
    return caps


Start = Callable[..., Awaitable[Client]]


@pytest_asyncio.fixture
async def start() -> AsyncIterator[Start]:
    """Start `prguard lsp` (or a bootstrap script) with a client that has initialized it."""
    clients: list[Client] = []

    async def _start(boot: str | None = None) -> Client:
        client = Client()
        register_lsp_features(client, {**DEFAULT_CLIENT_FEATURES, PUBLISH: _record})
        command = [sys.executable, "-c", boot] if boot else SERVER
        env = {**os.environ, "PYTHONPATH": str(PROJECT)}
        await asyncio.wait_for(client.start_io(*command, env=env, cwd=str(PROJECT)), START_DEADLINE)
        clients.append(client)
        params = types.InitializeParams(capabilities=_capabilities())
        await asyncio.wait_for(client.initialize_session(params), START_DEADLINE)
        return client

    yield _start
    for client in clients:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.shutdown_session(), 10)
        await asyncio.wait_for(client.stop(), 10)


# --------------------------------------------------------------------------------------------- helpers


def open_doc(client: Client, path: Path, text: str | None = None, language: str = "python") -> str:
    uri = path.as_uri()
    body = path.read_text(encoding="utf-8") if text is None else text
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        types.TextDocumentItem(uri=uri, language_id=language, version=1, text=body)))
    return uri


def edit(client: Client, uri: str, version: int, line: int, char: int, new_text: str) -> float:
    """Insert `new_text` at (line, char) as an incremental change; returns the monotonic send time."""
    at = types.Position(line, char)
    change = types.TextDocumentContentChangePartial(range=types.Range(at, at), text=new_text)
    sent = time.monotonic()
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        types.VersionedTextDocumentIdentifier(uri=uri, version=version), [change]))
    return sent


async def published(client: Client, uri: str, version: int,
                    deadline: float = WAIT_DEADLINE) -> tuple[float, types.PublishDiagnosticsParams]:
    """The diagnostics published for `version` of `uri` (arrival time, params), waiting at most `deadline`."""
    until = time.monotonic() + deadline
    while True:
        for arrived, params in client.published:
            if params.uri == uri and params.version == version:
                return arrived, params
        if time.monotonic() > until:
            seen = [(p.uri, p.version) for _, p in client.published]
            raise AssertionError(f"no diagnostics for version {version} within {deadline} s (got {seen})")
        await asyncio.sleep(0.005)


def transcript(client: Client, *extra: Any) -> str:
    """Everything the server sent this client (diagnostics, messages, logs) and `extra`, as JSON text."""
    convert = get_converter()
    parts = [convert.unstructure(p) for _, p in client.published]
    parts += [convert.unstructure(m) for m in client.messages]
    parts += [convert.unstructure(m) for m in client.log_messages]
    parts += [convert.unstructure(e) for e in extra]
    return json.dumps(parts, ensure_ascii=False)


def make_repo(tmp_path: Path, files: dict[str, str], branch_files: dict[str, str] | None = None) -> GitRepo:
    """`files` committed on `main`, then a `feature` branch (with `branch_files` committed on it)."""
    repo = GitRepo.init(tmp_path / "repo")
    repo.commit(files, "base")
    repo.branch("feature")
    if branch_files:
        repo.commit(branch_files, "on the branch")
    return repo


# ------------------------------------------------------------------------------------------- the tests


async def test_typed_key_is_flagged_within_a_second_and_an_old_one_is_not(
    start: Start, tmp_path: Path
) -> None:
    old_key, old_line = GITHUB.line()
    new_key, new_line = GITHUB.line()
    repo = make_repo(tmp_path, {"app.py": f"import os\n{old_line}\n"})
    client = await start()
    uri = open_doc(client, repo.path / "app.py")
    _, first = await published(client, uri, 1)
    assert list(first.diagnostics) == [], f"a key already on main was reported {seed_note()}"

    sent = edit(client, uri, 2, 2, 0, new_line + "\n")
    arrived, params = await published(client, uri, 2)
    latency = arrived - sent
    assert latency < 1.0, f"diagnostic arrived {latency:.3f} s after the change"
    assert len(params.diagnostics) == 1, params.diagnostics
    diag = params.diagnostics[0]
    error = types.DiagnosticSeverity.Error
    assert (diag.source, diag.code, diag.severity) == ("prguard", GITHUB.rule_id, error)
    assert diag.range.start == types.Position(2, new_line.index(new_key))
    assert diag.range.end == types.Position(2, len(new_line))
    assert "ghp_" in diag.message and "Revoke" in diag.message
    whole = transcript(client)
    assert new_key not in whole and old_key not in whole, f"a whole key left the server {seed_note()}"


async def test_quick_fix_appends_the_pragma_and_the_diagnostic_goes_away(
    start: Start, tmp_path: Path
) -> None:
    key, line = GITHUB.line()
    repo = make_repo(tmp_path, {"app.py": "import os\n"})
    client = await start()
    uri = open_doc(client, repo.path / "app.py")
    await published(client, uri, 1)
    edit(client, uri, 2, 1, 0, line + "\n")
    _, params = await published(client, uri, 2)
    assert [d.code for d in params.diagnostics] == [GITHUB.rule_id]

    actions = await asyncio.wait_for(client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri), range=params.diagnostics[0].range,
        context=types.CodeActionContext(diagnostics=params.diagnostics))), WAIT_DEADLINE)
    assert actions is not None and len(actions) == 1
    action = actions[0]
    assert isinstance(action, types.CodeAction) and action.kind == types.CodeActionKind.QuickFix
    assert action.edit is not None and action.edit.document_changes is not None
    doc_edit = action.edit.document_changes[0]
    assert isinstance(doc_edit, types.TextDocumentEdit) and doc_edit.text_document.version == 2
    (text_edit,) = doc_edit.edits
    assert text_edit.new_text == f"  # {PRAGMA}"
    assert text_edit.range.start == text_edit.range.end == types.Position(1, len(line))
    assert key not in transcript(client, action)

    # applied as an editor applies it: the same edit comes back as the next change
    edit(client, uri, 3, 1, len(line), text_edit.new_text)
    _, after = await published(client, uri, 3)
    assert list(after.diagnostics) == [], after.diagnostics


@pytest.mark.parametrize(("policy_on", "flagged"), [("base", False), ("worktree", True), ("branch", True)])
async def test_only_the_base_policy_can_switch_a_check_off(
    start: Start, tmp_path: Path, policy_on: str, flagged: bool
) -> None:
    policy = {".github/prguard.yml": "checks:\n  secrets: false\n"}
    repo = make_repo(tmp_path, {"app.py": "import os\n", **(policy if policy_on == "base" else {})},
                     policy if policy_on == "branch" else None)
    if policy_on == "worktree":
        repo.write(".github/prguard.yml", policy[".github/prguard.yml"])
    client = await start()
    uri = open_doc(client, repo.path / "app.py")
    await published(client, uri, 1)
    edit(client, uri, 2, 1, 0, GITHUB.line()[1] + "\n")
    _, params = await published(client, uri, 2)
    assert [d.code for d in params.diagnostics] == ([GITHUB.rule_id] if flagged else [])


async def test_base_fail_on_sets_the_severity(start: Start, tmp_path: Path) -> None:
    repo = make_repo(tmp_path, {"app.py": "import os\n",
                                ".github/prguard.yml": "checks:\n  secrets: { fail_on: critical }\n"})
    client = await start()
    uri = open_doc(client, repo.path / "app.py")
    await published(client, uri, 1)
    edit(client, uri, 2, 1, 0, GITHUB.line()[1] + "\n")
    _, params = await published(client, uri, 2)
    assert [d.severity for d in params.diagnostics] == [types.DiagnosticSeverity.Warning]  # high < critical


async def test_a_check_that_errors_is_shown_and_never_leaks_the_line(start: Start, tmp_path: Path) -> None:
    key, line = GITHUB.line()
    repo = make_repo(tmp_path, {"app.py": "import os\n"})
    client = await start(BOOT_EXPLODING)
    uri = open_doc(client, repo.path / "app.py")
    await published(client, uri, 1)
    edit(client, uri, 2, 1, 0, line + "\n")
    _, params = await published(client, uri, 2)
    codes = sorted(str(d.code) for d in params.diagnostics)
    assert codes == sorted([GITHUB.rule_id, "prguard/not-checked"]), params.diagnostics
    failed = next(d for d in params.diagnostics if d.code == "prguard/not-checked")
    assert failed.severity == types.DiagnosticSeverity.Error
    assert "Exploding check did not finish" in failed.message and "RuntimeError" in failed.message
    until = time.monotonic() + WAIT_DEADLINE
    while not any("did not finish" in m.message for m in client.messages) and time.monotonic() < until:
        await asyncio.sleep(0.01)
    assert any("Exploding check did not finish" in m.message for m in client.messages), client.messages
    assert key not in transcript(client), f"the failing check's message leaked the key {seed_note()}"


async def test_a_file_that_cannot_be_checked_says_so(start: Start, tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "repo", branch="trunk")  # no main, no master, no origin/HEAD
    repo.commit({"app.py": "import os\n"}, "base")
    client = await start()
    uri = open_doc(client, repo.path / "app.py")
    _, params = await published(client, uri, 1)
    assert [(d.code, d.severity) for d in params.diagnostics] == [
        ("prguard/not-checked", types.DiagnosticSeverity.Error)]
    assert "no default branch" in params.diagnostics[0].message


async def test_outside_a_repository_every_line_counts(start: Start, tmp_path: Path) -> None:
    key, line = GITHUB.line()
    loose = tmp_path / "loose" / "settings.py"
    loose.parent.mkdir()
    loose.write_text(f"{line}\n", encoding="utf-8")
    client = await start()
    uri = open_doc(client, loose)
    _, params = await published(client, uri, 1)
    assert [(d.code, d.range.start.line) for d in params.diagnostics] == [(GITHUB.rule_id, 0)]
    assert key not in transcript(client)


async def test_a_burst_of_edits_publishes_only_the_latest_text(start: Start, tmp_path: Path) -> None:
    key, line = GITHUB.line()
    repo = make_repo(tmp_path, {"app.py": "import os\n"})
    client = await start()
    uri = open_doc(client, repo.path / "app.py")
    await published(client, uri, 1)
    typed = ""
    for version, chunk in enumerate((line[:10], line[10:20], line[20:], "\n", "x = 1\n"), start=2):
        row, col = 1 + typed.count("\n"), len(typed.rsplit("\n", 1)[-1])  # where the last chunk ended
        edit(client, uri, version, row, col, chunk)
        typed += chunk
    _, params = await published(client, uri, 6)
    assert [(d.code, d.range.start.line) for d in params.diagnostics] == [(GITHUB.rule_id, 1)]
    await asyncio.sleep(0.5)  # any older run still in flight would land by now
    assert [p.version for _, p in client.published if p.uri == uri] == [1, 6]
    assert key not in transcript(client)


async def test_a_renamed_file_keeps_its_old_key_quiet(start: Start, tmp_path: Path) -> None:
    _, line = GITHUB.line()
    repo = make_repo(tmp_path, {"old_name.py": f"import os\n{line}\nprint(os.name)\n"})
    repo.move("old_name.py", "new_name.py")
    repo.commit(message="rename")
    client = await start()
    uri = open_doc(client, repo.path / "new_name.py")
    _, params = await published(client, uri, 1)
    assert list(params.diagnostics) == [], f"a key the file had before its rename was reported {seed_note()}"


# --------------------------------------------------------------------------- the parts, without a client


def test_line_numbers_survive_form_feeds_and_crlf(tmp_path: Path) -> None:
    """Checks count lines by "\\n" alone; the line diff must agree, or a key after a ^L would be missed."""
    _, line = GITHUB.line()
    repo = make_repo(tmp_path, {"app.py": "a = 1\r\n\x0c\r\nb = 2\r\n"})
    text = f"a = 1\r\n\x0c\r\nb = 2\r\n{line}\r\n"
    found = Diagnoser().diagnose(str(repo.path / "app.py"), text)
    assert found.error is None
    assert [(f.rule_id, f.line) for r in found.results for f in r.findings] == [(GITHUB.rule_id, 4)]


def test_ignored_and_git_internal_files_are_not_part_of_a_change(tmp_path: Path) -> None:
    _, line = GITHUB.line()
    repo = make_repo(tmp_path, {".gitignore": ".env\n"})
    diagnoser = Diagnoser()
    assert diagnoser.diagnose(str(repo.path / ".env"), line).quiet
    assert diagnoser.diagnose(str(repo.path / ".git" / "COMMIT_EDITMSG"), line).quiet
    tracked = diagnoser.diagnose(str(repo.path / "config.env"), line)
    assert [f.rule_id for r in tracked.results for f in r.findings] == [GITHUB.rule_id]


def test_a_symlink_is_reported_not_followed(tmp_path: Path) -> None:
    _, line = GITHUB.line()
    repo = make_repo(tmp_path, {"real.py": "x = 1\n"})
    repo.symlink("link.py", "real.py")
    found = Diagnoser().diagnose(str(repo.path / "link.py"), line)
    assert [s.reason for s in found.skipped] == ["symbolic link (its target is not followed)"]
    assert found.results == []


@pytest.mark.parametrize(("name", "language", "marker"), [
    ("app.py", "python", "#"), ("ci.yml", "yaml", "#"), (".env", "dotenv", "#"), (".env.local", None, "#"),
    ("run.sh", "shellscript", "#"), ("pyproject.toml", "toml", "#"), ("index.ts", "typescript", "//"),
    ("main.go", "go", "//"), ("Main.java", "java", "//"), ("README.md", "markdown", None),
    ("page.html", "html", None), ("data.json", "json", None), ("setup.cfg", "ini", None),
    ("noext", "python", "#"),
])
def test_comment_syntax(name: str, language: str | None, marker: str | None) -> None:
    assert comment_prefix(name, language) == marker


def test_no_quick_fix_where_no_trailing_comment_exists() -> None:
    diag = types.Diagnostic(range=types.Range(types.Position(0, 0), types.Position(0, 5)), message="m",
                            code=GITHUB.rule_id, source="prguard", data={"check": "secrets"})
    text = "token: abc\n"
    assert allowlist_actions("file:///r/README.md", "/r/README.md", "markdown", 1, text, [diag], None) == []
    assert len(allowlist_actions("file:///r/a.yml", "/r/a.yml", "yaml", 1, text, [diag], None)) == 1
    continued = "x = 'abc' \\\n"
    assert allowlist_actions("file:///r/a.py", "/r/a.py", "python", 1, continued, [diag], None) == []


def test_the_trimmed_line_diff_is_always_a_valid_diff() -> None:
    """`_added_lines` compares only what lies between the shared first and last lines: every line it does
    not call added must still match the base in order, and every line the base never had must be added."""
    pool = ["", "a", "b", "x = 1", "    return x", "}"]
    for trial in range(300):
        base = [RNG.choice(pool) for _ in range(RNG.randint(0, 40))]
        head = list(base)
        for _ in range(RNG.randint(0, 6)):
            at = RNG.randint(0, len(head))
            if RNG.random() < 0.5 or not head:
                head.insert(at, RNG.choice([*pool, f"new {trial}"]))
            else:
                head.pop(min(at, len(head) - 1))
        old = ("\n".join(base) + ("\n" if trial % 3 else "")).encode()
        new = ("\n".join(head) + ("\n" if trial % 5 else "")).encode()
        added = set(_added_lines(old, new))
        base, head = old.decode().splitlines(), new.decode().splitlines()  # the lines as checks see them
        assert added <= set(range(1, len(head) + 1)), (base, head, added)
        assert all(n in added for n, line in enumerate(head, 1) if line not in base), (base, head)
        kept = iter(base)
        assert all(any(line == b for b in kept) for n, line in enumerate(head, 1) if n not in added)


def test_log_records_leave_the_server_without_secrets() -> None:
    key, line = GITHUB.line()
    try:
        raise ValueError(f"bad line {line}")
    except ValueError:
        record = logging.LogRecord("pygls", logging.ERROR, __file__, 1, "failed on %s", (line,),
                                   sys.exc_info())
    assert _HideSecrets().filter(record)
    shown = logging.Formatter().format(record)
    assert key not in shown and "ghp_" in shown and "failed on" in shown
