"""Glob matching for user-supplied path patterns (policy `ignore_paths` and the like).

Patterns use gitignore's syntax through `pathspec`, so `**`, directory patterns and negation behave as
developers expect, and no user-supplied regular expression ever runs on untrusted input.
"""

from __future__ import annotations

from collections.abc import Iterable

import pathspec


class PathMatcher:
    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = [p for p in patterns if p and p.strip()]
        self._spec = pathspec.GitIgnoreSpec.from_lines(self.patterns)

    def __call__(self, path: str) -> bool:
        if not self.patterns:
            return False
        try:
            return self._spec.match_file(path)
        except UnicodeEncodeError:
            # a file name that is not UTF-8 arrives with surrogate escapes, which pathspec's RE2 backend
            # cannot encode: match its escaped spelling (its undecodable bytes are no glob's literal anyway)
            return self._spec.match_file(path.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))
