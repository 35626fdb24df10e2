"""Secrets in every commit of a change: what each commit added (`Change.history`), not only the head.

A key committed in one commit and deleted in the next is gone from the head, yet every clone and fork of
the branch still holds it; on GitHub it is readable from the moment it is pushed. The only fix is to rotate
the key. So the secrets check also scans what each commit added (`checks.history`) and reports a key the
head does not show as a whole-file finding on its path (`line == 0`), naming the commit that first added it
(`metadata["commit"]`, which also tells the engine the finding is introduced by construction).

Quiet by the same rules as the head scan:
- a (rule, value) the head scan already reports is not reported again (one secret, one finding), and a file
  a commit left exactly as the head has it (same blob) is not read again: the head scan saw all of it;
- a (rule, value) the file's base version already held is old, not introduced;
- the same (rule, value) added by several commits is reported once, naming the first.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import TYPE_CHECKING

from checks.change import LineSet, ReadError, looks_binary, text_for_scan
from checks.diff import line_count
from checks.finding import Finding, Skipped
from checks.history import CommitFile, History, blob_id, short_sha
from checks.redact import redact
from checks.secrets.rules import RULES
from checks.secrets.scanner import GENERIC, Hit, scan_bytes

if TYPE_CHECKING:
    from checks.context import CheckContext

#: Keyword and entropy findings listed per history (as `MAX_GUESSES_PER_FILE` for one head file): a branch
#: that committed a data file full of them is one problem, not thousands of findings.
MAX_HISTORY_GUESSES = 200
#: Base versions larger than this are not scanned to tell old secrets from new: the findings then stay.
BASE_COMPARE_MAX_BYTES = 8 * 1024 * 1024

REMEDY = "Rotate it: removing the line does not remove it from history."

Key = tuple[str, str]


class HeadBlobs:
    """The blob ids of the head files the head scan read, for the paths the history touches.

    A commit whose version of a path is the head's (a file added in commit 1 and left alone) added nothing
    the head scan did not see: each of its secrets is a head finding, or on the base and not new.
    """

    def __init__(self, history: History) -> None:
        self.paths = {f.path for _c, f in history.files() if f.blob}
        self.algorithm = history.blob_algorithm()
        self.blobs: dict[str, str] = {}

    def note(self, path: str, data: bytes) -> None:
        """Record the head file the head scan just read (its bytes as scanned)."""
        if path in self.paths:
            self.blobs[path] = blob_id(data, self.algorithm)

    def covers(self, file: CommitFile) -> bool:
        return file.blob is not None and self.blobs.get(file.path) == file.blob


class HistoryScanError(RuntimeError):
    """A scan failure that names the path, the commit and the error type only, never a line's content."""


def scan_history(history: History, ctx: CheckContext, reported: set[Key], *, listed: Collection[str] = (),
                 head: HeadBlobs | None = None) -> Iterator[Finding | Skipped]:
    """Findings for secrets the change's commits added that the head scan did not report (`reported`).

    The history's skips are yielded too, except a file's when the head scan already lists that path as
    not scanned (`listed`, and the change's own skips): a binary file is one line of "not scanned", not one
    per commit that touched it.
    """
    listed = set(listed) | {s.path for s in ctx.change.skipped}
    yield from (s for s in history.skipped if s.path not in listed)
    in_change = {f.path for f in ctx.change.scannable()}
    on_base: dict[str, set[Key] | None] = {}
    seen = set(reported)
    guesses = 0
    for commit, file in history.files():
        if head is not None and head.covers(file):
            history.cover(file)
            continue
        data = history.read(file)
        if looks_binary(data):
            yield Skipped(file.path, f"binary content added in commit {short_sha(commit.sha)}")
            continue
        data = text_for_scan(data)  # UTF-16/32 with a BOM decoded, NULs as spaces (as the head scan does)
        try:
            scan = scan_bytes(file.path, data, LineSet.whole(line_count(data)))
        except Exception as exc:  # its message may quote a line (and so a secret): keep only its type
            raise HistoryScanError(f"secrets scan failed on {file.path} in commit {short_sha(commit.sha)} "
                                   f"({type(exc).__name__})") from None
        for hit in scan.hits:
            key = (hit.rule_id, hit.value)
            if key in seen:
                continue
            seen.add(key)
            if _base_has(ctx, file, key, on_base):
                continue
            if hit.source in GENERIC:
                guesses += 1
                if guesses == MAX_HISTORY_GUESSES + 1:
                    yield Skipped("(history)", f"partly reported: more than {MAX_HISTORY_GUESSES} keyword/"
                                  "entropy findings in the commits' additions, only the first are listed "
                                  "(format-exact key findings are all listed)")
                if guesses > MAX_HISTORY_GUESSES:
                    continue
            yield history_finding(commit.sha, file, hit, in_change=file.path in in_change)
        if scan.budget_line is not None or scan.limited_lines:
            yield Skipped(file.path, f"partly scanned in commit {short_sha(commit.sha)}: keyword and entropy "
                          "detectors hit their limits (format-exact key detectors scanned every line)")


def _base_has(ctx: CheckContext, file: CommitFile, key: Key, cache: dict[str, set[Key] | None]) -> bool:
    """Whether the file's base version (at its path, or the path it was renamed from) holds this secret.

    Read only for files with a hit. A base that cannot be read, is too large or is binary answers False:
    the finding stays (loud, never silent).
    """
    for path in dict.fromkeys(p for p in (file.path, file.old_path) if p):
        if path not in cache:
            cache[path] = _base_secrets(ctx, path)
        found = cache[path]
        if found is not None and key in found:
            return True
    return False


def _base_secrets(ctx: CheckContext, path: str) -> set[Key] | None:
    try:
        base = ctx.read(path, "base")
    except (ReadError, ValueError):  # FileTooLarge is a ReadError
        return None
    if base is None or len(base) > BASE_COMPARE_MAX_BYTES or looks_binary(base):
        return None
    base = text_for_scan(base)
    try:
        return {(h.rule_id, h.value) for h in scan_bytes(path, base, LineSet.whole(line_count(base))).hits}
    except Exception:  # the comparison only ever removes findings: on any failure keep them all
        return None


def history_finding(sha: str, file: CommitFile, hit: Hit, *, in_change: bool) -> Finding:
    """A whole-file finding on the path the commit added the secret to, naming the commit.

    When the path is not part of the final change (a file added and deleted on the branch), the finding
    still sits on that path: text output shows `path (whole file)`, SARIF a location without a region, and
    the App an annotation on its line 1, which GitHub lists on the check run rather than in the diff.
    """
    from checks.secrets.check import secret_fingerprint  # the check imports this module

    rule = RULES[hit.rule_id]
    short = short_sha(sha)
    line = file.line_of(hit.line)
    at = f" at line {line}" if line else ""
    gone = "" if in_change else f" ({file.path} is not in the final change)"
    where = f" ({rule.revoke_at})" if rule.revoke_at else ""
    return Finding(
        check="secrets",
        rule_id=rule.rule_id,
        severity=rule.severity,
        path=file.path,
        line=0,
        title=rule.title,
        message=(f"{rule.title} {redact(hit.value)} was added to {file.path}{at} in commit {short}{gone}; "
                 f"the final change no longer adds it, but the commit keeps it in the history. {REMEDY}"),
        remediation=(f"{REMEDY} Revoke or rotate this credential at {rule.provider}{where} now: the "
                     "commit keeps it readable to anyone who can fetch the branch."),
        fingerprint=secret_fingerprint(rule.rule_id, file.path, hit.value),
        metadata={
            **rule.metadata(),
            "detector": hit.source,
            "redacted": redact(hit.value),
            "commit": sha,
            "commit_line": line,
        },
    )
