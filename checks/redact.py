"""Redaction: the one way a secret may appear in any output: at most its first 4 characters and its length."""

from __future__ import annotations

import re

#: C0/C1 controls, DEL and Unicode bidi/line controls: in a file name or message a PR chooses they could move
#: a terminal's cursor, clear lines, or reorder text, hiding a finding from whoever reads the output
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def visible(text: str) -> str:
    """`text` with every unsafe character shown as a backslash-u escape (terminal, run summary, reply)."""
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def redact(secret: str) -> str:
    """`sk-p…(164 chars)`: enough for a developer to find the value, useless to anyone who reads the log.

    At most 4 characters, and never more than a quarter of the value, so a short password is not half
    given away by its own redaction.
    """
    return f"{secret[:min(4, len(secret) // 4)]}…({len(secret)} chars)"


def redact_in(text: str, secrets: list[str] | tuple[str, ...] | set[str]) -> str:
    """Replace each secret's every occurrence in `text`, longest first so overlapping values stay hidden."""
    for secret in sorted(secrets, key=len, reverse=True):
        if secret:
            text = text.replace(secret, redact(secret))
    return text
