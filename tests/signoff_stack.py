"""The e2e stack (tests/e2e_stack.py) with the real scan, sign-off and commands handlers (a longer visibility
timeout), and helpers to send real-shape `issue_comment`, `pull_request_review`, `check_run` and
`pull_request` deliveries."""

from __future__ import annotations

from typing import Any

from bot.features import Services
from bot.features.commands import CommandsFeature
from bot.features.signoff import SignoffFeature
from bot.runtime import deliveries
from bot.runtime.worker import Worker
from tests.e2e_stack import Stack, pr_payload
from tests.github_double.social import Social, social_of
from tests.webhooks import fixture_payload

RUN = "prguard/ai-safety-sign-off"


class SignoffStack(Stack):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        services = Services(self.settings, self.redis, self.github, self.queue)
        handlers = {
            deliveries.FEATURE: deliveries.DeliveryHandler(self.router, self.queue),
            "scan": self.pipeline,
            "signoff": SignoffFeature().handler(services),
            "commands": CommandsFeature().handler(services),
        }
        self.worker = Worker(
            self.queue,
            handlers,
            concurrency=self.concurrency,
            visibility_timeout=5.0,
            max_attempts=2,
            shutdown_grace=2.0,
            block_ms=100,
        )

    @property
    def social(self) -> Social:
        return social_of(self.double)

    async def opened(self, pr: Any, inst: int, action: str = "opened") -> None:
        reply = await self.deliver("pull_request", pr_payload(pr, inst, action=action))
        assert reply.status_code == 202, reply.text
        await self.drained()

    async def comment(
        self, pr: Any, inst: int, user: str, body: str, *, user_type: str = "User", drain: bool = True
    ) -> dict[str, Any]:
        """A user's PR comment on the double, then its real-shape `issue_comment.created` delivery."""
        comment = self.social.add_comment("octo/repo", pr.number, user, body, user_type=user_type)
        payload = fixture_payload("issue_comment", "created")
        payload["installation"] = {"id": inst, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ=="}
        _repo(payload, inst)
        payload["issue"]["number"] = pr.number
        payload["issue"]["pull_request"] = {
            "url": f"{self.double.base_url}/repos/octo/repo/pulls/{pr.number}"
        }
        payload["comment"] = {
            **payload["comment"],
            "id": comment["id"],
            "body": body,
            "user": comment["user"],
        }
        payload["sender"] = comment["user"]
        reply = await self.deliver("issue_comment", payload)
        assert reply.status_code in (200, 202), reply.text
        if drain:
            await self.drained()
        return comment

    async def review(self, pr: Any, inst: int, user: str, body: str) -> dict[str, Any]:
        review = self.social.add_review("octo/repo", pr.number, user, body)
        payload = fixture_payload("pull_request_review", "submitted")
        payload["installation"]["id"] = inst
        _repo(payload, inst)
        payload["pull_request"]["number"] = pr.number
        payload["review"] = {**payload["review"], "id": review["id"], "body": body, "user": review["user"]}
        payload["sender"] = review["user"]
        reply = await self.deliver("pull_request_review", payload)
        assert reply.status_code == 202, reply.text
        await self.drained()
        return review

    async def button(self, pr: Any, inst: int, user: str) -> None:
        run = self.double.check_run("octo/repo", pr.head_sha, RUN)
        payload = fixture_payload("check_run", "requested_action")
        payload["installation"]["id"] = inst
        _repo(payload, inst)
        payload["check_run"].update(
            name=RUN, head_sha=pr.head_sha, external_id=run.external_id, pull_requests=[]
        )
        payload["requested_action"] = {"identifier": "signoff"}
        payload["sender"] = self.social.user(user)
        reply = await self.deliver("check_run", payload)
        assert reply.status_code == 202, reply.text
        await self.drained()

    async def merged(self, pr: Any, inst: int, by: str) -> None:
        payload = pr_payload(pr, inst, action="closed")
        payload["pull_request"].update(state="closed", merged=True, merged_by=self.social.user(by))
        reply = await self.deliver("pull_request", payload)
        assert reply.status_code == 202, reply.text
        await self.drained()

    def run(self, pr: Any) -> Any:
        return self.double.check_run("octo/repo", pr.head_sha, RUN)


def _repo(payload: dict[str, Any], inst: int) -> None:
    payload["repository"]["owner"]["login"] = "octo"
    payload["repository"]["name"] = "repo"
    payload["repository"]["full_name"] = "octo/repo"
