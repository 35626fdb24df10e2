"""`prguard lsp`: a Language Server (stdio) that shows `prguard scan`'s findings while a file is edited.

A secret is cheapest to stop before it is saved, committed or pushed. The server gives the editor the same
findings `prguard scan` would give for the file (what the branch introduces, under the base's policy) as
diagnostics: on open, on save, and on change once typing settles for `--debounce` milliseconds. It never
executes the edited code, reads the policy from the base only, and never shows a whole secret.

The pieces:

- `bot.cli.lsp_diagnose.Diagnoser` turns (path, buffer text) into a `Diagnosis` with the scan's engine,
  checks and policy (every registered check whose `applies_to` takes the buffer, today secrets);
- `bot.cli.lsp_render` turns that into LSP diagnostics and the allowlist quick fix;
- this module wires them to pygls: debouncing, running scans in worker threads so the editor's messages
  keep flowing, and publishing only results computed for the document's current version, so a slow scan
  of older text never overwrites newer results.

A check that errors, or a file that cannot be checked (no default branch, an invalid base policy), is an
Error diagnostic on line 0 and a `window/showMessage`: never an empty list that looks clean.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from typing import Any
from urllib.parse import unquote

from lsprotocol import types
from pygls.capabilities import get_capability
from pygls.exceptions import FeatureRequestError
from pygls.lsp.server import LanguageServer

from bot.cli.lsp_diagnose import DEFAULT_TIMEOUT, Diagnoser, Diagnosis
from bot.cli.lsp_render import allowlist_actions, diagnostics, hide_secrets, problems
from bot.cli.scan import _positive_int, _seconds
from checks import registry
from checks.change import DEFAULT_MAX_FILE_BYTES

#: Milliseconds of quiet after a change before the buffer is scanned: long enough not to scan every
#: keystroke of a word, short enough that a pasted key is flagged well within a second.
DEFAULT_DEBOUNCE_MS = 200
#: Scans run at once (different documents); a newer edit of the same document supersedes an older run.
WORKERS = 2

log = logging.getLogger("prguard.lsp")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = "Run prguard's Language Server on stdin/stdout (started by the editor)."
    parser.add_argument("--stdio", action="store_true",
                        help="accepted for editors that pass it; stdio is the only transport")
    parser.add_argument("--debounce", type=int, default=DEFAULT_DEBOUNCE_MS, metavar="MS",
                        help=f"scan this long after the last change (default: {DEFAULT_DEBOUNCE_MS})")
    parser.add_argument("--timeout", type=_seconds, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help=f"report a check as not finished after this long (default: {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--max-file-size", type=_positive_int, default=DEFAULT_MAX_FILE_BYTES,
                        metavar="BYTES", help="say so instead of scanning larger buffers (default: 1 MiB)")


def run(args: argparse.Namespace) -> int:
    if args.debounce < 0:
        print("prguard: --debounce must be 0 or more milliseconds", file=sys.stderr)
        return 2
    _configure_logging()
    from bot.fingerprint_key import configure_for_cli

    configure_for_cli()
    server = build_server(Diagnoser(timeout=args.timeout, max_file_bytes=args.max_file_size),
                          debounce=args.debounce / 1000)
    server.start_io()
    return 0


class PrguardServer(LanguageServer):
    """pygls' server plus the scheduling state: one pending scan per document, the messages shown."""

    def __init__(self, diagnoser: Diagnoser, debounce: float) -> None:
        super().__init__("prguard", _version(),
                         text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.diagnoser = diagnoser
        self.debounce = debounce
        self.pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="prguard-lsp")
        self.pending: dict[str, asyncio.Task[None]] = {}
        #: per document, the problems already shown with showMessage (cleared by a run without any)
        self.shown: dict[str, set[str]] = {}

    # --- scheduling --------------------------------------------------------------------------------------
    def schedule(self, uri: str, delay: float) -> None:
        """Scan `uri`'s current text after `delay` seconds, cancelling the scan scheduled before."""
        old = self.pending.pop(uri, None)
        if old is not None:
            old.cancel()
        self.pending[uri] = asyncio.get_running_loop().create_task(self._scan_later(uri, delay))

    def forget(self, uri: str) -> None:
        old = self.pending.pop(uri, None)
        if old is not None:
            old.cancel()
        self.shown.pop(uri, None)

    def document(self, uri: str) -> Any:
        """The open document at `uri`, or None (never one pygls would read from disk)."""
        return self.workspace.text_documents.get(unquote(uri))

    def current_version(self, uri: str) -> int | None:
        doc = self.document(uri)
        return None if doc is None else doc.version

    async def _scan_later(self, uri: str, delay: float) -> None:
        try:
            if delay > 0:
                await asyncio.sleep(delay)
            doc = self.document(uri)
            if doc is None:
                return
            version, text = doc.version, doc.source
            path = doc.path if uri.startswith("file:") else None
            encoding = self.workspace.position_encoding
            outcome = await asyncio.get_running_loop().run_in_executor(
                self.pool, self._diagnose, uri, version, path, doc.filename or "untitled", text, encoding)
            if outcome is None or self.current_version(uri) != version:
                return  # stale: newer text has its own scan scheduled, whose result alone may be shown
            found, notes = outcome
            self.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=uri, diagnostics=found, version=version))
            self._tell(uri, notes)
        finally:
            if self.pending.get(uri) is asyncio.current_task():
                del self.pending[uri]

    def _diagnose(self, uri: str, version: int | None, path: str | None, name: str, text: str,
                  encoding: str | None) -> tuple[list[types.Diagnostic], list[str]] | None:
        """In a worker thread: the diagnostics for one version of one document (None if already stale)."""
        if self.current_version(uri) != version:
            return None
        try:
            diagnosis = self.diagnoser.diagnose(path, text, name=name)
        except Exception as exc:  # a bug here must show as "not checked", never as a clean file
            diagnosis = Diagnosis(path=name, error=f"internal error: {type(exc).__name__}: {exc}")
            log.warning("%s", hide_secrets([f"scan failed on {name}: {type(exc).__name__}: {exc}"])[0])
        return diagnostics(diagnosis, text, encoding), problems(diagnosis)

    def _tell(self, uri: str, notes: list[str]) -> None:
        """showMessage each new problem once per document (not on every keystroke); log it every time."""
        shown = self.shown.setdefault(uri, set())
        if not notes:
            shown.clear()
        for note in notes:
            self.window_log_message(types.LogMessageParams(type=types.MessageType.Error, message=note))
            if note not in shown:
                shown.add(note)
                self.window_show_message(types.ShowMessageParams(type=types.MessageType.Error, message=note))

    def report_server_error(self, error: Exception, source: Any) -> None:
        """pygls' default shows the raw exception text; this one hides any secret in it first."""
        if source == FeatureRequestError:
            return
        message = hide_secrets([f"prguard language server error: {type(error).__name__}: {error}"])[0]
        self.window_show_message(types.ShowMessageParams(type=types.MessageType.Error, message=message))


def build_server(diagnoser: Diagnoser, *, debounce: float = DEFAULT_DEBOUNCE_MS / 1000) -> PrguardServer:
    """A server with prguard's handlers registered (`start_io()` runs it)."""
    server = PrguardServer(diagnoser, debounce)

    @server.feature(types.INITIALIZED)
    def initialized(ls: PrguardServer, params: types.InitializedParams) -> None:
        missing = [n for n in registry.check_names() if not registry.is_available(n)]
        if missing:
            ls.window_log_message(types.LogMessageParams(
                type=types.MessageType.Info, message=f"prguard: not yet available: {', '.join(missing)}"))
        ls.pool.submit(_warm_up)  # imports and detector set-up, so the first open is answered quickly

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    async def did_open(ls: PrguardServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.diagnoser.invalidate()  # a file opened after a `git mv` or a branch switch sees fresh state
        ls.schedule(params.text_document.uri, 0)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    async def did_change(ls: PrguardServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri, ls.debounce)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False))
    async def did_save(ls: PrguardServer, params: types.DidSaveTextDocumentParams) -> None:
        ls.diagnoser.invalidate()
        ls.schedule(params.text_document.uri, 0)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    async def did_close(ls: PrguardServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.forget(uri)
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION,
                    types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]))
    def code_action(ls: PrguardServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        doc = ls.document(params.text_document.uri)
        if doc is None:
            return []
        versioned = bool(get_capability(ls.client_capabilities, "workspace.workspace_edit.document_changes",
                                        False))
        try:
            return allowlist_actions(params.text_document.uri, doc.path or "", doc.language_id, doc.version,
                                     doc.source, params.context.diagnostics, ls.workspace.position_encoding,
                                     versioned=versioned)
        except Exception as exc:  # a quick fix that fails is no fix: say so in the log, offer none
            log.warning("%s", hide_secrets([f"code action failed: {type(exc).__name__}: {exc}"])[0])
            return []

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: PrguardServer, params: None) -> None:
        for uri in list(ls.pending):
            ls.forget(uri)
        ls.pool.shutdown(wait=False, cancel_futures=True)

    return server


def _warm_up() -> None:
    """Build and run every available check once on a harmless snippet (loads detectors, compiles rules)."""
    from checks.change import Change, ChangedFile, FileStatus, LineSet
    from checks.engine import create_checks, run_checks

    try:
        checks, _ = create_checks([n for n in registry.check_names() if registry.is_available(n)])
        data = b"token = 'not a secret'\n"
        file = ChangedFile("warm-up.py", FileStatus.ADDED, LineSet.whole(1), head_loader=lambda: data)
        run_checks(checks, Change(base="warm-up", head="warm-up", files=[file]), timeout=30)
    except Exception:  # only a speed-up: the real scans report their own errors
        log.debug("warm-up failed", exc_info=True)


class _HideSecrets(logging.Filter):
    """Log records leave the process (the editor's LSP log) only after `hide_secrets` has read them."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
            record.exc_text = None
        record.msg, record.args = hide_secrets([text])[0], None
        return True


def _configure_logging() -> None:
    """Warnings and errors (ours and pygls') on stderr, secrets hidden; stdout carries the protocol."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_HideSecrets())
    handler.setFormatter(logging.Formatter("prguard lsp: %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)


def _version() -> str:
    try:
        return metadata.version("prguard")
    except metadata.PackageNotFoundError:
        return "0"
