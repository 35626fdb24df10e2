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
        return bool(self.patterns) and self._spec.match_file(path)
