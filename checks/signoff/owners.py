"""Who may sign off which AI path: `signoff.owners` globs → users and `@org/team`s, like Prow's OWNERS.

Every touched AI path needs one of its owners. A path no owners glob matches falls back to the default:
anyone with at least `signoff.min_permission` (default `maintain`) on the repository. Globs are gitignore
style (`checks.paths.PathMatcher`); every glob matching a path contributes its owners.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from checks.paths import PathMatcher

#: repository roles, weakest first (GitHub's `role_name`)
ROLES = ("none", "read", "triage", "write", "maintain", "admin")


def role_at_least(role: str, minimum: str) -> bool:
    try:
        return ROLES.index(role) >= ROLES.index(minimum)
    except ValueError:
        return False


@dataclass(frozen=True)
class Owner:
    """A user (`alice`) or a team (`@acme/ml-safety` → org `acme`, slug `ml-safety`)."""

    login: str = ""
    org: str = ""
    team: str = ""

    @classmethod
    def parse(cls, text: str) -> Owner:
        text = text.strip()
        if text.startswith("@") and "/" in text:
            org, team = text[1:].split("/", 1)
            return cls(org=org, team=team)
        return cls(login=text.removeprefix("@"))

    @property
    def is_team(self) -> bool:
        return bool(self.team)

    def __str__(self) -> str:
        return f"@{self.org}/{self.team}" if self.is_team else f"@{self.login}"


class OwnersMap:
    def __init__(self, owners: Mapping[str, Iterable[str]] | None) -> None:
        self._rules = [
            (glob, PathMatcher([glob]), tuple(Owner.parse(o) for o in names))
            for glob, names in (owners or {}).items()
        ]

    def owners_of(self, path: str) -> tuple[Owner, ...]:
        """The owners of `path` (empty: the default, maintainers and admins)."""
        found: list[Owner] = []
        for _, matcher, owners in self._rules:
            if matcher(path):
                found += [o for o in owners if o not in found]
        return tuple(found)

    def all_owners(self, paths: Iterable[str]) -> tuple[Owner, ...]:
        out: list[Owner] = []
        for path in paths:
            out += [o for o in self.owners_of(path) if o not in out]
        return tuple(out)


def uncovered(paths: Iterable[str], covered: Iterable[str]) -> list[str]:
    done = set(covered)
    return [p for p in paths if p not in done]
