"""`SecretsCheck`: hard-coded credentials on the lines a change adds, LLM provider keys first."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from checks.change import ChangedFile, FileStatus, looks_binary
from checks.finding import Finding, Skipped, make_fingerprint
from checks.redact import redact
from checks.secrets.rules import RULES
from checks.secrets.scanner import Hit, scan_bytes


class SecretsScanError(RuntimeError):
    """A scan failure whose message names the file and the error type only, never a line's content."""


class SecretsCheck:
    name = "secrets"
    title = "Secrets"

    def applies_to(self, file: ChangedFile) -> bool:
        """Every file with head-side content, binaries included.

        Binary files are accepted here only so `run` can report them as `Skipped(path, "binary file")`:
        returning False would drop them from the result without a trace.
        """
        return file.status is not FileStatus.REMOVED and not file.is_symlink

    def run(self, files: Sequence[ChangedFile]) -> Iterator[Finding | Skipped]:
        for file in files:
            if file.is_binary:
                yield Skipped(file.path, "binary file")
                continue
            if not file.added_lines:
                continue
            data = file.head_bytes()
            if data is None:
                continue
            if looks_binary(data):
                yield Skipped(file.path, "binary file")
                continue
            try:
                scan = scan_bytes(file.path, data, file.added_lines)
            except Exception as exc:
                # The original message may quote a line (and so a secret); keep only its type.
                raise SecretsScanError(f"secrets scan failed on {file.path} ({type(exc).__name__})") from None
            finally:
                file.release()
            for hit in scan.hits:
                yield to_finding(file.path, hit)
            if scan.budget_line is not None:
                yield Skipped(
                    file.path,
                    f"partly scanned: keyword and entropy detectors hit their time budget at line "
                    f"{scan.budget_line} (format-exact key detectors scanned every line)",
                )
            if scan.limited_lines:
                shown = ", ".join(map(str, scan.limited_lines[:5]))
                yield Skipped(
                    file.path,
                    f"partly scanned: on long line(s) {shown} keyword and entropy detectors saw only the "
                    "first candidate windows (format-exact key detectors scanned every line)",
                )


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
        fingerprint=make_fingerprint(rule.rule_id, path, hit.value),
        metadata={
            **rule.metadata(),
            "detector": hit.source,
            "redacted": redact(hit.value),
            "column": hit.start + 1,
        },
    )
