"""Slash-commands in PR comments and review bodies: `/prguard help|recheck|signoff|hold|unhold|waive|unwaive`.

Routing (payload only): `issue_comment.created` on a pull request and `pull_request_review.submitted`; every
line starting with the prefix is a command. Bots are dropped here already (they never get a reply: no bot
ping-pong). No supersede key: a push never cancels a queued command.

Handling: each command is put in the PR's ordered inbox (a Redis sorted set scored by the comment's or
review's id, which GitHub assigns in order), then, under the per-PR lock, the inbox is drained oldest
first — so a burst of commands for one PR is applied in the order they were written even when several
workers take them.
Reactions: 👀 on receipt, 👍 accepted, 👎 refused, 😕 malformed; a refusal gets one short reply.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from bot.features.signoff_actions import Command
from bot.features.signoff_service import SignoffService
from bot.github.comments import react, reply
from bot.log import get_logger
from bot.runtime.envelope import Envelope, IsCurrent
from bot.runtime.scheduler import PeriodicTask

NAME = "commands"
EVENTS: dict[str, frozenset[str]] = {
    "issue_comment": frozenset({"created"}),
    "pull_request_review": frozenset({"submitted"}),
}
DEFAULT_PREFIX = "/prguard"


def command_prefix() -> str:
    """`PRGUARD_COMMAND_PREFIX` (read by the receiver and the worker alike), default `/prguard`."""
    return os.environ.get("PRGUARD_COMMAND_PREFIX", "").strip() or DEFAULT_PREFIX


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)  # an unclosed one hides the rest (conservative)


def visible_text(body: str) -> str:
    """`body` without what GitHub does not show as prose: fenced code blocks (``` or ~~~, up to a closing
    fence of the same kind, or the end), indented code (4 spaces or a tab) and HTML comments. A command
    quoted in code or hidden in a comment is never executed."""
    kept: list[str] = []
    fence = ""
    for line in body.splitlines():
        opened = _FENCE.match(line)
        if fence:
            closing = opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence)
            if closing and not line.strip().lstrip(fence[0]):
                fence = ""
            kept.append("")
        elif opened and not (opened.group(1)[0] == "`" and "`" in line[opened.end() :]):
            fence = opened.group(1)
            kept.append("")
        elif line.startswith(("    ", "\t")):
            kept.append("")
        else:
            kept.append(line)
    return _HTML_COMMENT.sub("", "\n".join(kept))


def parse_commands(body: str, prefix: str = DEFAULT_PREFIX) -> list[tuple[str, str]]:
    """(verb, args) for each line of visible prose (`visible_text`) that starts with `prefix` (verb
    lower-cased; unknown verbs kept, so the handler can answer with what would work). At most 10 per body."""
    out = []
    for line in visible_text(body or "").splitlines():
        words = line.strip().split(maxsplit=2)
        if words and words[0].lower() == prefix.lower():
            verb = words[1].lower() if len(words) > 1 else ""
            out.append((verb, words[2].strip() if len(words) > 2 else ""))
    return out[:10]


class CommandsFeature:
    name = NAME
    events = EVENTS

    def __init__(self, prefix: str | None = None) -> None:
        self.prefix = prefix or command_prefix()

    def envelopes(self, event: str, delivery_id: str, payload: dict[str, Any]) -> list[Envelope]:
        repo = payload.get("repository") or {}
        owner, name = (repo.get("owner") or {}).get("login", ""), repo.get("name", "")
        inst = int((payload.get("installation") or {}).get("id") or 0)
        sender = payload.get("sender") or {}
        if event == "issue_comment":
            issue = payload.get("issue") or {}
            if not issue.get("pull_request"):
                return []
            item, number, kind = payload["comment"], int(issue["number"]), "comment"
        else:
            item, number, kind = payload["review"], int(payload["pull_request"]["number"]), "review"
        author = item.get("user") or {}
        if sender.get("type") == "Bot" or author.get("type") == "Bot" or not (owner and name and inst):
            return []
        commands = parse_commands(item.get("body") or "", self.prefix)
        if not commands:
            return []
        data = {
            "commands": json.dumps(commands),
            "sender": str(author.get("login", "")),
            "sender_type": str(author.get("type", "")),
            "kind": kind,
            "item_id": str(item["id"]),
        }
        return [
            Envelope(
                feature=NAME,
                event=event,
                action=str(payload.get("action", "")),
                delivery_id=delivery_id,
                installation_id=inst,
                owner=owner,
                repo=name,
                pr_number=number,
                data=data,
            )
        ]

    def handler(self, services: Any) -> CommandsHandler:
        return CommandsHandler(SignoffService(services.github, services.redis, services.settings))

    def periodic(self, services: Any) -> list[PeriodicTask]:
        return []


class CommandsHandler:
    def __init__(self, service: SignoffService) -> None:
        self.service = service

    def _inbox(self, env: Envelope) -> str:
        pr = f"{env.owner}/{env.repo}#{env.pr_number}"
        return f"{self.service.settings.redis_prefix}:signoff-inbox:{pr}".lower()

    async def process(self, env: Envelope, is_current: IsCurrent) -> None:
        redis = self.service.redis
        inbox = self._inbox(env)
        entry = json.dumps(
            {k: env.get(k) for k in ("commands", "sender", "sender_type", "kind", "item_id")}, sort_keys=True
        )
        await redis.zadd(inbox, {entry: int(env.get("item_id"))})
        await redis.expire(inbox, 86400)
        gh = self.service.github.installation(env.installation_id)
        async with gh, self.service.lock(env.owner, env.repo, env.pr_number):
            while True:
                first = await redis.zrange(inbox, 0, 0)
                if not first:
                    return
                raw = first[0].decode() if isinstance(first[0], bytes) else first[0]
                await self._run(gh, env, json.loads(raw))
                await redis.zrem(inbox, raw)

    async def _run(self, gh: Any, env: Envelope, item: dict[str, str]) -> None:
        log = get_logger("prguard.commands", **env.log_context())
        comment_id = int(item["item_id"]) if item["kind"] == "comment" else 0
        if comment_id:
            await react(gh, env.owner, env.repo, comment_id, "eyes")
        results = []
        for index, (verb, args) in enumerate(json.loads(item["commands"])):
            source = f"{item['kind']}:{item['item_id']}:{index}"
            if not verb:
                await reply(
                    gh,
                    env.owner,
                    env.repo,
                    env.pr_number,
                    f"@{item['sender']} that command is empty; try `{self.service.settings_prefix()} help`",
                )
                results.append("confused")
                continue
            cmd = Command(verb, args, item["sender"], item["sender_type"], source, comment_id)
            outcome = await self.service.command(gh, env.owner, env.repo, env.pr_number, cmd, log)
            if outcome is None:
                continue
            if verb == "help" and outcome.accepted:
                await reply(gh, env.owner, env.repo, env.pr_number, outcome.message)
            results.append("+1" if outcome.accepted else "-1")
            log.info("commands.done", verb=verb, accepted=outcome.accepted)
        if comment_id and results:
            final = "-1" if "-1" in results else ("confused" if "confused" in results else "+1")
            await react(gh, env.owner, env.repo, comment_id, final)

    async def fail(self, env: Envelope, reason: str) -> None:
        gh = self.service.github.installation(env.installation_id)
        async with gh:
            await reply(
                gh,
                env.owner,
                env.repo,
                env.pr_number,
                "prguard could not process a command here; please try again.",
            )

    async def cancel(self, env: Envelope, newer_version: str) -> None:
        return None
