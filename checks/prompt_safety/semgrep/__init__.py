"""LLM-using code, checked with semgrep rules shipped in this package (`rules/*.yml`).

The prompt-safety check calls `applies(path)` to pick the source files and `scan(files, ctx)` once per job:
one semgrep process for every rule and every file, offline, with the files passed explicitly so nothing the
change adds (a `.semgrepignore`, `# nosemgrep` comments) can hide one of them.
"""

from checks.prompt_safety.semgrep.runner import LANGUAGES, RULES_DIR, SemgrepError, applies, scan

__all__ = ["LANGUAGES", "RULES_DIR", "SemgrepError", "applies", "scan"]
