"""`SecretsCheck`: hard-coded credentials on the lines a change adds, LLM provider keys first.

With a history on the change (`Change.history`), also in what each of its commits added: a key committed
and then deleted is still in the history (`checks.secrets.history_scan`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from checks.base import Novelty
from checks.change import (
    MAYBE_TEXT_REASON,
    ChangedFile,
    FileStatus,
    LineSet,
    looks_binary,
    text_for_scan,
    text_kind,
)
from checks.finding import Finding, Skipped
from checks.redact import redact, redact_in
from checks.secrets.fingerprint import secret_fingerprint
from checks.secrets.history_scan import HeadBlobs, scan_history
from checks.secrets.rules import RULES
from checks.secrets.scanner import DS_CHANGE_SECONDS, GENERIC, Hit, scan_bytes, secrets_in_path

if TYPE_CHECKING:
    from checks.context import CheckContext

#: Keyword and entropy findings listed per file. A data file with thousands of them is one problem, not
#: thousands; the cap also bounds the slow fingerprints of short secrets (see `secret_fingerprint`).
MAX_GUESSES_PER_FILE = 200


class SecretsScanError(RuntimeError):
    """A scan failure whose message names the file and the error type only, never a line's content."""


class SecretsCheck:
    name = "secrets"
    title = "Secrets"
    #: a key sits on one line: the line must be one the change added (old keys moved around are dropped
    #: by `_new_hits`, which compares with the file's base version)
    novelty = Novelty.ADDED_LINE
    #: reads `Change.history` when a source built one: sources build it only for checks that want it
    uses_history = True

    def applies_to(self, file: ChangedFile) -> bool:
        """Every file with head-side content, binaries included.

        Binary files are accepted here only so `run` can report them as `Skipped(path, "binary file")`:
        returning False would drop them from the result without a trace.
        """
        return file.status is not FileStatus.REMOVED and not file.is_symlink

    def run(
        self, files: Sequence[ChangedFile], ctx: CheckContext | None = None
    ) -> Iterator[Finding | Skipped]:
        """Scan the added lines of `files`, then what each commit of the change added when the change
        carries a history (`checks.secrets.history_scan`; it reads base files through `ctx`)."""
        history = ctx.change.history if ctx is not None and ctx.side == "head" else None
        head = HeadBlobs(history) if history is not None else None
        reported: set[tuple[str, str]] = set()  # (rule, value) the head scan found: not repeated from history
        binaries: set[str] = set()
        named: set[tuple[str, str]] = set()  # (path, value) already reported as a secret in a file name
        until = time.perf_counter() + DS_CHANGE_SECONDS  # the generic detectors' budget for the change
        for file in files:
            for hit in secrets_in_path(file.path) if _names_new(file) else ():
                named.add((file.path, hit.value))
                yield path_finding(file.path, hit.rule_id, hit.value, hit.source)
            if file.is_binary:
                binaries.add(file.path)
                yield Skipped(file.path, _binary_reason(file))
                continue
            if not file.added_lines:
                continue
            data = file.head_bytes()
            if data is None:
                continue
            if looks_binary(data):
                binaries.add(file.path)
                yield Skipped(file.path, _binary_reason(file))
                continue
            try:
                # UTF-16/32 with a BOM decoded, NULs as spaces: a plaintext key is text whatever git thinks
                scan = scan_bytes(file.path, text_for_scan(data), file.added_lines, until=until)
            except Exception as exc:
                # The original message may quote a line (and so a secret); keep only its type.
                raise SecretsScanError(f"secrets scan failed on {file.path} ({type(exc).__name__})") from None
            finally:
                file.release()
            reported.update((h.rule_id, h.value) for h in scan.hits)
            if head is not None:
                head.note(file.path, data)
            hits = _new_hits(file, scan.hits)
            guesses = [h for h in hits if h.source in GENERIC]
            if len(guesses) > MAX_GUESSES_PER_FILE:
                dropped = {id(h) for h in guesses[MAX_GUESSES_PER_FILE:]}
                hits = [h for h in hits if id(h) not in dropped]
                yield Skipped(
                    file.path,
                    f"partly reported: {len(guesses)} keyword/entropy findings, only the first "
                    f"{MAX_GUESSES_PER_FILE} are listed (format-exact key findings are all listed)",
                )
            for hit in hits:
                yield to_finding(file.path, hit)
            if scan.budget_line is not None:
                yield Skipped(
                    file.path,
                    f"partly scanned: keyword and entropy detectors hit their time budget (per file or "
                    f"per change) at line {scan.budget_line} (format-exact key detectors scanned every "
                    "line)",
                )
            if scan.limited_lines:
                shown = ", ".join(map(str, scan.limited_lines[:5]))
                yield Skipped(
                    file.path,
                    f"partly scanned: on long line(s) {shown} keyword and entropy detectors saw only the "
                    "first candidate windows (format-exact key detectors scanned every line)",
                )
        for file in files:  # a key found in a file's text that also names another file
            for rule_id, value in reported:
                if _names_new(file) and value in file.path and (file.path, value) not in named:
                    named.add((file.path, value))
                    yield path_finding(file.path, rule_id, value, "name matches a secret found in a file")
        if history is not None and ctx is not None:
            yield from scan_history(history, ctx, reported, listed=binaries, head=head)


def _names_new(file: ChangedFile) -> bool:
    """Whether the change gives the file its name (added or renamed): a name the base had is backlog."""
    return file.status in (FileStatus.ADDED, FileStatus.RENAMED)


def path_finding(path: str, rule_id: str, value: str, source: str) -> Finding:
    """A secret in a file's path, as a whole-file finding on that path.

    The path itself is printed by every output, in CI logs and in URLs, so the key is as exposed as if it
    were in the file. `path_span` lets outputs redact the path (they print `redact(value)` in its place).
    """
    rule = RULES[rule_id]
    start = path.find(value)
    shown = redact_in(path, [value])
    return Finding(
        check="secrets",
        rule_id=rule.rule_id,
        severity=rule.severity,
        path=path,
        line=0,
        title=rule.title,
        message=f"{rule.title} {redact(value)} is part of the file name {shown}.",
        remediation=rule.remediation(),
        fingerprint=secret_fingerprint(rule.rule_id, path, value),
        metadata={
            **rule.metadata(),
            "detector": source,
            "redacted": redact(value),
            "in_path": True,
            "path_span": [start, start + len(value)],
        },
    )


def _binary_reason(file: ChangedFile) -> str:
    """"binary file", or `MAYBE_TEXT_REASON` when its bytes may hold text this scan cannot read (reported
    as not scanned, which the policy's `fail_on_unscanned` makes blocking)."""
    try:
        data = file.head_bytes()
    except Exception:  # the reason is a label only: the file is skipped (and listed) either way
        return "binary file"
    finally:
        file.release()
    return MAYBE_TEXT_REASON if data is not None and text_kind(data) == "maybe-text" else "binary file"


#: Base versions larger than this are not re-scanned to tell old secrets from new: the findings then stay.
BASE_COMPARE_MAX_BYTES = 8 * 1024 * 1024


def _new_hits(file: ChangedFile, hits: list[Hit]) -> list[Hit]:
    """Drop hits whose secret (same rule, same value) the base version of the file already held.

    An added line is not always new content: re-indenting a block, a whitespace-only edit, moving a line
    within the file, or renaming a file with edits all put an old secret on an "added" line. The secret was
    in the repository before this change, so reporting it would be backlog, not what the change introduced.
    Only files with hits pay for the second scan; if it fails, every hit stays (loud, never silent).
    """
    if not hits or file.status not in (FileStatus.MODIFIED, FileStatus.RENAMED):
        return hits
    try:
        base = file.base_bytes()
        if base is None or len(base) > BASE_COMPARE_MAX_BYTES or looks_binary(base):
            return hits
        base = text_for_scan(base)
        lines = base.count(b"\n") + (0 if base.endswith(b"\n") or not base else 1)
        old = {(h.rule_id, h.value) for h in scan_bytes(file.path, base, LineSet.whole(lines)).hits}
    except Exception:  # the comparison only ever removes hits: on any failure keep them all
        return hits
    return [h for h in hits if (h.rule_id, h.value) not in old]


def to_finding(path: str, hit: Hit) -> Finding:
    rule = RULES[hit.rule_id]
    where = (
        f"line {hit.line}"
        if not hit.end_line or hit.end_line == hit.line
        else (f"lines {hit.line}-{hit.end_line}")
    )
    return Finding(
        check="secrets",
        rule_id=rule.rule_id,
        severity=rule.severity,
        path=path,
        line=hit.line,
        end_line=hit.end_line or hit.line,
        title=rule.title,
        message=f"{rule.title} {redact(hit.value)} added in {path} at {where}.",
        remediation=rule.remediation(),
        fingerprint=secret_fingerprint(rule.rule_id, path, hit.value),
        metadata={
            **rule.metadata(),
            "detector": hit.source,
            "redacted": redact(hit.value),
            "column": hit.start + 1,
        },
    )


