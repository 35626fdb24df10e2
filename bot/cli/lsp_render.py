"""A `Diagnosis` → LSP diagnostics and quick fixes: where they sit, how severe, and what they may say.

Kept apart from the server wiring so it is plain functions over plain data:

- a finding sits on its line (from the column the check reports, when it does, to the end of the line; a
  whole-file finding on line 0), in the position encoding the client negotiated (UTF-16 unless it asked for
  UTF-8 or UTF-32, so an emoji earlier on the line does not shift the squiggle);
- severity follows the base policy: at or above the check's `fail_on` an Error (what would block the PR),
  below it a Warning, an `info` finding Information;
- a check that did not finish, and a file that could not be checked at all, are Error diagnostics on line 0
  ("could not check" must never look like "clean"); a file scanned only in part is Information;
- every text that leaves the server goes through `hide_secrets`, which runs the secrets detectors over it
  and redacts whatever they find: checks already redact, this is the net under them (an exception message
  that quotes the line it failed on, a future check that forgets);
- the quick fix for a secrets finding appends detect-secrets' `pragma: allowlist secret` comment in the
  file's own line-comment syntax, and is offered only where that syntax is known to be a trailing comment.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

from lsprotocol import types

from bot.cli.lsp_diagnose import Diagnosis
from checks.change import LineSet
from checks.finding import Finding, Severity
from checks.redact import redact_in
from checks.secrets.scanner import scan_bytes

SOURCE = "prguard"
#: `code` of the diagnostics that say a check (or the whole file) could not be checked
NOT_CHECKED = "prguard/not-checked"
#: `code` of the diagnostics that say part of the file was not scanned
PARTLY = "prguard/partly-scanned"
PRAGMA = "pragma: allowlist secret"

#: extensions (lower case, no dot) whose line comment starts with "#" and may trail code on a line
_HASH = frozenset((
    "py", "pyi", "pyw", "yml", "yaml", "sh", "bash", "zsh", "ksh", "fish", "toml", "env", "envrc", "rb",
    "pl", "pm", "r", "tf", "tfvars", "hcl", "nix", "jl", "ex", "exs", "cr", "nim", "coffee", "ps1", "psm1",
    "tcl", "awk",
))
#: extensions whose line comment starts with "//"
_SLASH = frozenset((
    "js", "jsx", "mjs", "cjs", "ts", "tsx", "mts", "cts", "go", "java", "c", "h", "cc", "cpp", "cxx",
    "hpp", "hh", "cs", "kt", "kts", "swift", "rs", "scala", "dart", "groovy", "gradle", "jsonc", "zig",
    "v", "sol", "proto",
))
_HASH_NAMES = frozenset({".env", ".envrc", ".bashrc", ".zshrc", ".profile", ".bash_profile", "gemfile",
                         "rakefile", "pipfile", "vagrantfile", "brewfile"})
_HASH_LANGUAGES = frozenset({"python", "yaml", "shellscript", "toml", "dotenv", "ruby", "perl", "terraform",
                             "hcl", "r", "powershell", "elixir", "julia", "nix", "fish", "bash", "sh"})
_SLASH_LANGUAGES = frozenset({"javascript", "typescript", "javascriptreact", "typescriptreact", "go", "java",
                              "c", "cpp", "csharp", "kotlin", "swift", "rust", "scala", "dart", "groovy",
                              "jsonc", "zig", "solidity", "proto"})


# ------------------------------------------------------------------------------------------ positions


def units(text: str, encoding: str | None) -> int:
    """Length of `text` in the client's position units (LSP's default is UTF-16 code units)."""
    if encoding == types.PositionEncodingKind.Utf8:
        return len(text.encode("utf-8", "surrogatepass"))
    if encoding == types.PositionEncodingKind.Utf32:
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def split_lines(text: str) -> list[str]:
    """The buffer's lines as the checks number them ("\\n" only), without a trailing "\\r"."""
    return [line.removesuffix("\r") for line in text.split("\n")]


def _range(finding: Finding, lines: Sequence[str], encoding: str | None) -> types.Range:
    last = max(0, len(lines) - 1)
    start = min(max(finding.line - 1, 0), last)
    end = min(max((finding.end_line or finding.line) - 1, start), last)
    column = finding.metadata.get("column") if finding.line else None
    char = 0
    if isinstance(column, int) and not isinstance(column, bool) and column > 1:
        char = units(lines[start][: column - 1], encoding) if start < len(lines) else 0
    end_char = units(lines[end], encoding) if end < len(lines) else 0
    if start == end and char >= end_char:
        char = 0
    return types.Range(types.Position(start, char), types.Position(end, end_char))


def _line0(lines: Sequence[str], encoding: str | None) -> types.Range:
    return types.Range(types.Position(0, 0), types.Position(0, units(lines[0], encoding) if lines else 0))


# ---------------------------------------------------------------------------------------- diagnostics


def severity_of(finding: Finding, fail_on: Severity) -> types.DiagnosticSeverity:
    if finding.severity is Severity.INFO:
        return types.DiagnosticSeverity.Information
    if finding.severity.at_least(fail_on):
        return types.DiagnosticSeverity.Error
    return types.DiagnosticSeverity.Warning


def diagnostics(diagnosis: Diagnosis, text: str, encoding: str | None) -> list[types.Diagnostic]:
    """Every finding, error and skip of `diagnosis` on the buffer `text`, secrets hidden."""
    lines = split_lines(text)
    out: list[types.Diagnostic] = []
    if diagnosis.error:
        message = f"prguard could not check this file, so it is not known to be clean: {diagnosis.error}"
        out.append(_notice(message, types.DiagnosticSeverity.Error, NOT_CHECKED, lines, encoding))
    for result in diagnosis.results:
        fail_on = diagnosis.fail_on.get(result.check, Severity.HIGH)
        for f in result.findings:
            if f.path != diagnosis.path:
                continue  # a check may report on another path it read; this buffer shows its own
            message = f"{f.message} {f.remediation}".strip() if f.remediation else f.message
            out.append(types.Diagnostic(
                range=_range(f, lines, encoding), message=message, severity=severity_of(f, fail_on),
                code=f.rule_id, source=SOURCE,
                data={"check": result.check, "severity": f.severity.value, "fingerprint": f.fingerprint},
            ))
        if result.error:
            out.append(_notice(f"prguard: the {result.title} check did not finish, so this file is not known "
                               f"to be clean: {result.error}", types.DiagnosticSeverity.Error, NOT_CHECKED,
                               lines, encoding, check=result.check))
        for skip in result.skipped:
            if skip.path == diagnosis.path:
                out.append(_notice(f"prguard ({result.title}) did not fully scan this file: {skip.reason}",
                                   types.DiagnosticSeverity.Information, PARTLY, lines, encoding,
                                   check=result.check))
    for skip in diagnosis.skipped:
        out.append(_notice(f"prguard did not scan this file: {skip.reason}",
                           types.DiagnosticSeverity.Information, PARTLY, lines, encoding))
    return hide_in_diagnostics(out)


def _notice(message: str, severity: types.DiagnosticSeverity, code: str, lines: Sequence[str],
            encoding: str | None, *, check: str | None = None) -> types.Diagnostic:
    return types.Diagnostic(range=_line0(lines, encoding), message=message, severity=severity, code=code,
                            source=SOURCE, data={"check": check} if check else None)


def problems(diagnosis: Diagnosis) -> list[str]:
    """One line per thing that could not be checked: what the server also says with window/showMessage."""
    found = [f"prguard could not check {diagnosis.path}: {diagnosis.error}"] if diagnosis.error else []
    found += [f"prguard: the {r.title} check did not finish on {diagnosis.path}: {r.error}"
              for r in diagnosis.results if r.error]
    return hide_secrets(found)


# ------------------------------------------------------------------------------------ never a secret


def hide_secrets(texts: Sequence[str]) -> list[str]:
    """`texts` with every value the secrets detectors find in them redacted (first 4 characters + length)."""
    if not texts:
        return []
    # one line per text; "pragma" is defused so a quoted `# pragma: allowlist secret` (the remediation says
    # it, an error may quote a line that has it) cannot make the detectors skip that text
    joined = "\n".join(t.replace("\n", " ").replace("pragma", "pragm_") for t in texts)
    blob = joined.encode("utf-8", "surrogatepass")
    try:
        hits = scan_bytes("prguard-message.txt", blob, LineSet.whole(blob.count(b"\n") + 1)).hits
    except Exception:  # the net must not be what fails: checks have redacted already
        return list(texts)
    found = {h.value for h in hits if h.value}
    return [redact_in(t, found) for t in texts] if found else list(texts)


def hide_in_diagnostics(diags: list[types.Diagnostic]) -> list[types.Diagnostic]:
    """Run `hide_secrets` over every text a diagnostic carries: message, code and `data`'s strings."""
    texts: list[str] = []
    for d in diags:
        texts.append(d.message)
        texts.append(str(d.code or ""))
        texts.extend(_strings(d.data))
    hidden = iter(hide_secrets(texts))
    for d in diags:
        d.message = next(hidden)
        code = next(hidden)
        d.code = code or d.code
        d.data = _replace_strings(d.data, hidden)
    return diags


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


def _replace_strings(value: Any, hidden: Any) -> Any:
    if isinstance(value, str):
        return next(hidden)
    if isinstance(value, dict):
        return {k: _replace_strings(v, hidden) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_replace_strings(v, hidden) for v in value]
    return value


# ----------------------------------------------------------------------------------------- quick fix


def comment_prefix(path: str, language_id: str | None = None) -> str | None:
    """The line-comment marker that may trail code in this file ("#" or "//"), or None when unknown.

    None for languages whose only comments are blocks (`<!-- -->` in Markdown and HTML, none in JSON) and
    for files where a trailing "#" would become part of a value (INI, Java properties, Dockerfile, make).
    """
    name = os.path.basename(path).lower()
    ext = name.rsplit(".", 1)[1] if "." in name.lstrip(".") else ""
    if name in _HASH_NAMES or name.startswith(".env.") or ext in _HASH:
        return "#"
    if ext in _SLASH:
        return "//"
    if not ext and language_id:
        if language_id in _HASH_LANGUAGES:
            return "#"
        if language_id in _SLASH_LANGUAGES:
            return "//"
    return None


def allowlist_actions(uri: str, path: str, language_id: str | None, version: int | None, text: str,
                      diags: Sequence[types.Diagnostic], encoding: str | None,
                      versioned: bool = True) -> list[types.CodeAction]:
    """One quick fix per flagged line: append `<comment> pragma: allowlist secret` at its end.

    Only for prguard's secrets diagnostics, only where the comment syntax is known, and never on a line
    that already has the pragma or ends in a line continuation (a comment after "\\" breaks the code).
    """
    marker = comment_prefix(path, language_id)
    if marker is None:
        return []
    lines = split_lines(text)
    actions: list[types.CodeAction] = []
    done: set[int] = set()
    for d in diags:
        data = d.data if isinstance(d.data, dict) else {}
        if d.source != SOURCE or data.get("check") != "secrets" or d.code in (NOT_CHECKED, PARTLY):
            continue
        line = d.range.start.line
        if line in done or line >= len(lines):
            continue
        current = lines[line]
        if not current.strip() or PRAGMA in current or current.rstrip().endswith("\\"):
            continue
        done.add(line)
        at = types.Position(line, units(current, encoding))
        edit = types.TextEdit(types.Range(at, at), f"  {marker} {PRAGMA}")
        workspace_edit = (
            types.WorkspaceEdit(document_changes=[types.TextDocumentEdit(
                types.OptionalVersionedTextDocumentIdentifier(uri, version), [edit])])
            if versioned else types.WorkspaceEdit(changes={uri: [edit]})
        )
        actions.append(types.CodeAction(
            title=f"prguard: not a real secret, allowlist line {line + 1} ({marker} {PRAGMA})",
            kind=types.CodeActionKind.QuickFix, diagnostics=[d], edit=workspace_edit, is_preferred=False,
        ))
    return actions
