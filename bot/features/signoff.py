"""The AI safety sign-off feature: the `prguard/ai-safety-sign-off` run for every PR head.

Routing (payload only): `pull_request` opened/synchronize/reopened/ready_for_review/edited → refresh;
`pull_request` closed with `merged` → record a bypass when prguard's runs were not green; `check_run`
requested_action (the *Sign off* button) → a sign-off by the clicker; `check_run` rerequested of this run and
`check_suite` rerequested → refresh. No supersede key: every envelope reads the PR's live head, and a push
never cancels a queued sign-off. Work for one PR runs under the per-PR lock (`SignoffService.lock`).
"""

from __future__ import annotations

from typing import Any

from bot.features.signoff_actions import Command
from bot.features.signoff_facts import RUN_NAME
from bot.features.signoff_service import SignoffService
from bot.github.checkruns import CheckRuns, now, pr_from_external_id
from bot.github.comments import reply
from bot.log import get_logger, scrub
from bot.runtime.envelope import Envelope, IsCurrent
from bot.runtime.scheduler import PeriodicTask

NAME = "signoff"
EVENTS: dict[str, frozenset[str]] = {
    "pull_request": frozenset({"opened", "synchronize", "reopened", "ready_for_review", "edited", "closed"}),
    "check_run": frozenset({"requested_action", "rerequested"}),
    "check_suite": frozenset({"rerequested"}),
}


def _repo(payload: dict[str, Any]) -> tuple[str, str, int]:
    repo = payload.get("repository") or {}
    return (
        (repo.get("owner") or {}).get("login", ""),
        repo.get("name", ""),
        int((payload.get("installation") or {}).get("id") or 0),
    )


class SignoffFeature:
    name = NAME
    events = EVENTS

    def envelopes(self, event: str, delivery_id: str, payload: dict[str, Any]) -> list[Envelope]:
        action = str(payload.get("action", ""))
        owner, repo, inst = _repo(payload)
        if not (owner and repo and inst):
            return []
        data: dict[str, str] = {}
        if event == "pull_request":
            pr = payload["pull_request"]
            number, head = int(pr["number"]), str(pr["head"]["sha"])
            if action == "edited" and "base" not in (payload.get("changes") or {}):
                return []  # a title or body edit changes nothing the sign-off decides on
            if action == "closed":
                if not pr.get("merged"):
                    return []
                data = {
                    "merged_by": str((pr.get("merged_by") or payload.get("sender") or {}).get("login", ""))
                }
        elif event == "check_run":
            run = payload["check_run"]
            if run.get("name") != RUN_NAME:
                return []
            prs = run.get("pull_requests") or []
            number = int(prs[0]["number"]) if prs else pr_from_external_id(run.get("external_id"))
            head = str(run.get("head_sha", ""))
            if action == "requested_action":
                if (payload.get("requested_action") or {}).get("identifier") != "signoff":
                    return []
                sender = payload.get("sender") or {}
                data = {"sender": str(sender.get("login", "")), "sender_type": str(sender.get("type", ""))}
        else:
            suite = payload["check_suite"]
            prs = suite.get("pull_requests") or []
            if not prs:
                return []
            number, head = int(prs[0]["number"]), str(suite.get("head_sha", ""))
        if not number:
            return []
        return [
            Envelope(
                feature=NAME,
                event=event,
                action=action,
                delivery_id=delivery_id,
                installation_id=inst,
                owner=owner,
                repo=repo,
                pr_number=number,
                head_sha=head,
                data=data,
            )
        ]

    def handler(self, services: Any) -> SignoffHandler:
        return SignoffHandler(SignoffService(services.github, services.redis, services.settings))

    def periodic(self, services: Any) -> list[PeriodicTask]:
        return []


class SignoffHandler:
    def __init__(self, service: SignoffService) -> None:
        self.service = service

    async def process(self, env: Envelope, is_current: IsCurrent) -> None:
        log = get_logger("prguard.signoff", **env.log_context())
        gh = self.service.github.installation(env.installation_id)
        async with gh, self.service.lock(env.owner, env.repo, env.pr_number):
            if env.event == "pull_request" and env.action == "closed":
                bad = await self.service.record_bypass(
                    gh, env.owner, env.repo, env.pr_number, env.head_sha, env.get("merged_by")
                )
                log.info("signoff.merged", not_green=bad)
                return
            if env.action == "requested_action":
                cmd = Command(
                    "signoff",
                    "signed off with the Checks tab's Sign off button",
                    env.get("sender"),
                    env.get("sender_type"),
                    f"button:{env.delivery_id}",
                    head=env.head_sha,
                )
                outcome = await self.service.command(gh, env.owner, env.repo, env.pr_number, cmd, log)
                log.info("signoff.button", accepted=outcome.accepted if outcome else None)
                return
            pr = (await gh.rest.pulls.async_get(env.owner, env.repo, env.pr_number)).parsed_data
            if pr.state != "open":
                return
            conclusion = await self.service.refresh(gh, env.owner, env.repo, env.pr_number, log)
            log.info("signoff.refreshed", conclusion=conclusion)

    async def fail(self, env: Envelope, reason: str) -> None:
        """Dead letter: the head's sign-off run becomes `failure` saying how to retry (a required check that
        is never completed would wait forever), and the PR says so once."""
        gh = self.service.github.installation(env.installation_id)
        async with gh:
            if env.head_sha and env.action != "closed":
                runs = CheckRuns(gh, env.owner, env.repo, app_id=self.service.app_id)
                body = {
                    "status": "completed",
                    "conclusion": "failure",
                    "completed_at": now(),
                    "output": {
                        "title": "The sign-off could not be evaluated",
                        "summary": f"prguard gave up evaluating the AI safety sign-off of this head "
                        f"({env.event}.{env.action}): {scrub(reason)[:500]}\n\n"
                        "Comment `/prguard recheck` or re-run this check to try again.",
                    },
                }
                existing = await runs.list_for_head(env.head_sha, RUN_NAME)
                if existing:
                    await runs.update(existing[0], body)
                else:
                    await runs.ensure(env.head_sha, RUN_NAME, env.pr_number, body, reuse_open=False)
            await reply(
                gh,
                env.owner,
                env.repo,
                env.pr_number,
                f"prguard could not update the AI safety sign-off ({env.event}.{env.action}); "
                "comment `/prguard recheck` to try again.",
            )

    async def cancel(self, env: Envelope, newer_version: str) -> None:
        return None
