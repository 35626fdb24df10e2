"""The sign-off's policy (`signoff:`, `evidence:`, `waivers:` of `.github/prguard.yml`), typed.

The keys are validated by their schema fragments (`checks/schemas/top-*.schema.json`); this only reads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from checks.paths import PathMatcher
from checks.policy import PolicyError


@dataclass(frozen=True)
class RepoWaiver:
    fingerprint: str
    reason: str
    expires: str = ""

    def expired(self, today: date) -> bool:
        return bool(self.expires) and date.fromisoformat(self.expires) < today


@dataclass(frozen=True)
class SignoffConfig:
    owners: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    min_permission: str = "maintain"
    required_paths: tuple[str, ...] = ()
    keep_on_non_ai_changes: bool = False
    review: str = "REQUEST_CHANGES"
    evidence: tuple[Mapping[str, Any], ...] = ()
    waivers: tuple[RepoWaiver, ...] = ()

    @classmethod
    def from_extra(cls, extra: Mapping[str, Any]) -> SignoffConfig:
        s = extra.get("signoff") or {}
        return cls(
            owners={str(k): tuple(v) for k, v in (s.get("owners") or {}).items()},
            min_permission=str(s.get("min_permission") or "maintain"),
            required_paths=tuple(s.get("required_paths") or ()),
            keep_on_non_ai_changes=bool(s.get("keep_on_non_ai_changes", False)),
            review=str(s.get("review") or "REQUEST_CHANGES"),
            evidence=tuple(extra.get("evidence") or ()),
            waivers=tuple(
                RepoWaiver(str(w["fingerprint"]), str(w["reason"]), _expiry(w.get("expires"), i))
                for i, w in enumerate(extra.get("waivers") or ())
            ),
        )

    def required_matcher(self) -> PathMatcher:
        return PathMatcher(self.required_paths)


def _expiry(value: Any, index: int) -> str:
    """A waiver's `expires` as YYYY-MM-DD: YAML gives an unquoted date as a `date`, a quoted one as text."""
    if value is None or value == "":
        return ""
    if isinstance(value, date):
        return value.isoformat()[:10]
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise PolicyError(
            f"waivers[{index}].expires: expected a date YYYY-MM-DD, got {str(value)[:40]!r}"
        ) from None
