"""The one error every problem in `.github/prguard.yml` is reported as, shared by the policy modules.

It lives apart from `checks.policy` so the YAML loader (`checks.policy_yaml`) and the schema validation
(`checks.policy_schema`) can raise it without importing the model they feed. Each message starts with the
file and, when the problem has one place, its line, because a failing check run must tell an admin exactly
what to fix; `problems` carries every problem found, so one run lists them all.
"""

from __future__ import annotations

POLICY_PATH = ".github/prguard.yml"


class PolicyError(Exception):
    """The policy file is invalid. `line` is 1-based, or None when the problem has no single place."""

    def __init__(self, message: str, line: int | None = None, *, problems: tuple[str, ...] = ()) -> None:
        self.message = message
        self.line = line
        where = f" line {line}" if line is not None else ""
        #: every problem found, each formatted like `str(self)`; the first is this error itself
        self.problems: tuple[str, ...] = problems or (f"{POLICY_PATH}{where}: {message}",)
        super().__init__(f"{POLICY_PATH}{where}: {message}")
