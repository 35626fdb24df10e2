"""Waivers applied to findings: which findings stop blocking, and which waiver says so.

Two trusted sources: a `/prguard waive` that prguard itself recorded on the PR (`checks.signoff.records`,
read back only from the App's own comments) and the `waivers:` of the BASE policy (`checks.signoff.config`).
A waived finding is not dropped: the check run and `prguard scan` list it as waived, with who, when and why,
so nothing is hidden silently. A policy waiver past its `expires` date stops applying and is listed as such
(its finding blocks again).

Pure: no I/O; `today` is passed in, so the caller's clock (UTC for the App) decides expiry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from checks.finding import Finding


@dataclass(frozen=True)
class Waiver:
    fingerprint: str
    reason: str
    #: who waived it on the PR ("" for a policy waiver)
    by: str = ""
    #: when it was recorded on the PR (ISO timestamp; "" for a policy waiver)
    at: str = ""
    #: a policy waiver's last day, YYYY-MM-DD ("" = no expiry)
    expires: str = ""
    policy: bool = False

    def expired(self, today: date) -> bool:
        return self.policy and bool(self.expires) and date.fromisoformat(self.expires) < today

    def describe(self, today: date) -> str:
        """One line for a human: who/when/why, or the policy waiver's expiry (or that it expired)."""
        if not self.policy:
            return f"waived by @{self.by} at {self.at or 'an unknown time'}: {self.reason}"
        if self.expired(today):
            return f"policy waiver expired on {self.expires}: not applied ({self.reason})"
        until = f"expires {self.expires}" if self.expires else "no expiry"
        return f"policy waiver, {until}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"source": "policy" if self.policy else "pull_request", "reason": self.reason}
        if self.policy:
            data["expires"] = self.expires or None
        else:
            data.update(by=self.by, at=self.at)
        return data


@dataclass(frozen=True)
class Waived:
    finding: Finding
    waiver: Waiver


@dataclass
class Applied:
    #: findings that still count (including those whose only waiver has expired)
    kept: list[Finding] = field(default_factory=list)
    #: findings a current waiver covers: not blocking, listed as waived
    waived: list[Waived] = field(default_factory=list)
    #: findings whose policy waiver has expired (also in `kept`): listed as "expired: not applied"
    expired: list[Waived] = field(default_factory=list)


def today_utc() -> date:
    return datetime.now(UTC).date()


def policy_waivers(extra: Mapping[str, Any]) -> list[Waiver]:
    """The base policy's `waivers:` (raises `checks.policy.PolicyError` on a malformed `expires`)."""
    from checks.signoff.config import SignoffConfig

    return [
        Waiver(w.fingerprint, w.reason, expires=w.expires, policy=True)
        for w in SignoffConfig.from_extra({"waivers": extra.get("waivers") or ()}).waivers
    ]


def record_waivers(records: Iterable[Mapping[str, Any]]) -> list[Waiver]:
    """The waivers in force after prguard's own records on a PR (oldest first; `unwaive` lifts one).

    The caller must pass only records from the App's own comments (`bot.github.comments.app_comments`)."""
    from checks.signoff.records import fold

    return [Waiver(w.fingerprint, w.reason, by=w.by, at=w.at) for w in fold(records).waivers.values()]


def apply(findings: Iterable[Finding], waivers: Iterable[Waiver], today: date) -> Applied:
    """Split `findings` by `waivers`: a PR waiver wins over a policy one, a current policy waiver over an
    expired one; a finding matched only by expired waivers is kept (and listed in `expired`)."""
    current: dict[str, Waiver] = {}
    stale: dict[str, Waiver] = {}
    for w in waivers:
        if w.expired(today):
            stale.setdefault(w.fingerprint, w)
        elif w.fingerprint not in current or (current[w.fingerprint].policy and not w.policy):
            current[w.fingerprint] = w
    out = Applied()
    for finding in findings:
        if finding.fingerprint in current:
            out.waived.append(Waived(finding, current[finding.fingerprint]))
            continue
        out.kept.append(finding)
        if finding.fingerprint in stale:
            out.expired.append(Waived(finding, stale[finding.fingerprint]))
    return out
