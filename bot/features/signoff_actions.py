"""The sign-off's commands: `/prguard signoff|hold|unhold|waive|unwaive|recheck|help` and the *Sign off*
button, and the bypass record on merge. Mixed into `SignoffService` (bot.features.signoff_service), whose
facts, decisions and `refresh` they use.

Each accepted command is recorded in a reply of prguard's own (`checks.signoff.records`), the only records the
state is rebuilt from; each refusal too (for the audit), with one short reply saying why. The sender is
checked LIVE (collaborator permission and team membership APIs), never from `author_association`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from githubkit import GitHub

from bot.features.signoff_facts import RUN_NAME, Facts
from bot.features.signoff_identity import (
    email_key,
    history_emails,
    public_profile,
    relations,
    unlinked_emails,
)
from bot.features.signoff_render import HELP, cell, needed_line, redact_secrets
from bot.github.comments import reply
from bot.github.permissions import in_team, repo_role
from bot.log import Logger
from checks.signoff.owners import Owner, OwnersMap, role_at_least
from checks.signoff.records import fold, record_comment
from checks.signoff.rego import RegoError

VERBS = ("help", "recheck", "signoff", "hold", "unhold", "waive", "unwaive")


@dataclass(frozen=True)
class Command:
    verb: str
    args: str
    sender: str
    sender_type: str
    source: str  # "comment:<id>", "review:<id>", "button:<delivery>"
    comment_id: int = 0  # for reactions (0: none possible, e.g. a review body)
    head: str = ""  # the head a button's run was for: the click signs only that head ("": any, a command)


@dataclass
class Outcome:
    accepted: bool
    message: str


class SignoffActions:
    """Commands on a PR; `self` is a `SignoffService`."""

    app_id: int
    settings: Any
    redis: Any

    async def may_sign(self, gh: GitHub[Any], f: Facts, login: str) -> list[str]:
        """The AI paths `login` may sign (LIVE permission and team checks), per `signoff.owners`."""
        owners = OwnersMap(f.config.owners)
        role: str | None = None
        teams: dict[Owner, bool] = {}
        out = []
        for path in sorted(f.ai):
            mine = owners.owners_of(path)
            if not mine:
                role = role or await repo_role(gh, f.owner, f.repo, login)
                if role_at_least(role, f.config.min_permission):
                    out.append(path)
                continue
            for o in mine:
                if not o.is_team and o.login.lower() == login.lower():
                    out.append(path)
                    break
                if o.is_team:
                    if o not in teams:
                        teams[o] = await in_team(gh, o.org, o.team, login)
                    if teams[o]:
                        out.append(path)
                        break
        return out

    async def excluded(self, gh: GitHub[Any], f: Facts, cmd: Command, bot_login: str) -> str:
        """Why `cmd.sender` may never sign this PR, or "": the PR's author, a bot, or anyone the commits name
        (author, committer, co-author) by login, email or name (`signoff_identity.relations`). When the
        commits alone show nothing of theirs, the sender's public profile (name, email) is read live, and, if
        a commit names an email GitHub links to no account here, the emails of their own commits on the
        default branch. The reply says which rule matched, so a wrong refusal can be understood and
        corrected."""
        who = cmd.sender.lower()
        if who == f.author.lower():
            return "the pull request's author cannot sign it off"
        found = relations(f.commits, cmd.sender)
        if not found and (cmd.sender_type == "Bot" or who == bot_login.lower()):
            return "bots cannot sign off"
        if not found:
            name, email = await public_profile(gh, cmd.sender)
            known = {email_key(email): "your public profile email"} if email else {}
            if unlinked_emails(f.commits):
                known = {**await history_emails(gh, f.owner, f.repo, cmd.sender), **known}
            found = relations(f.commits, cmd.sender, emails=known, name=name)
        if not found:
            return ""
        more = f"; and of {len(found) - 3} more commit(s)" if len(found) > 3 else ""
        return (
            "an author or co-author of this pull request's commits cannot sign it off: you are the "
            + "; the ".join(found[:3]) + more
        )

    async def command(
        self, gh: GitHub[Any], owner: str, repo: str, number: int, cmd: Command, log: Logger
    ) -> Outcome | None:
        """Apply one command; None when it is ignored (a bot, or already handled)."""
        bot_login = await self.bot_login()
        if cmd.sender_type == "Bot" or cmd.sender.lower() == bot_login.lower():
            return None
        if cmd.verb == "help":
            return Outcome(True, HELP.format(p=self.settings_prefix()))
        # a secret pasted into a command is never recorded, echoed or exported (reasons, fingerprints)
        cmd = replace(cmd, args=redact_secrets(cmd.args))
        if cmd.verb not in VERBS:
            refusal = f"unknown command `{cell(cmd.verb, 30)}`; try `{self.settings_prefix()} help`"
            await reply(gh, owner, repo, number, f"@{cmd.sender} {refusal}")
            return Outcome(False, refusal)
        f = await self.facts(gh, owner, repo, number)
        if cmd.source in f.state.sources:
            return None  # a redelivery or retry of a command already recorded
        if cmd.verb == "recheck":
            await self.refresh(gh, owner, repo, number, log, facts=f)
            return Outcome(True, "")
        refusal, record = await self._decide(gh, f, cmd, bot_login)
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if refusal:
            body = record_comment(
                {
                    "kind": "refused",
                    "by": cmd.sender,
                    "command": cmd.verb,
                    "why": refusal,
                    "head": f.head,
                    "at": stamp,
                    "source": cmd.source,
                },
                f"@{cmd.sender} `{cmd.verb}` refused: {refusal}",
            )
            await reply(gh, owner, repo, number, body)
            return Outcome(False, refusal)
        assert record is not None
        record.update(by=cmd.sender, at=stamp, source=cmd.source, head=f.head)
        await reply(gh, owner, repo, number, record_comment(record, self._describe(record)))
        # the state is the records; this one is now among them (the rest of the facts did not change)
        f.state = fold([*f.state.records, record])
        await self.refresh(gh, owner, repo, number, log, facts=f)
        if cmd.verb in ("waive", "unwaive"):
            await self._rescan(gh, f, cmd.source, log)
        return Outcome(True, "")

    async def _rescan(self, gh: GitHub[Any], f: Facts, source: str, log: Logger) -> None:
        """Queue a scan of the head so its check runs show the waiver (or its removal).

        A new scan, not a re-render: a run's stored output holds only the findings block, not the findings'
        lines and messages its summary and annotations need, and the scan is the one place that turns results
        into runs (with its supersede, retry and dead-letter handling: a push meanwhile cancels this scan).
        The record is already posted, so the scan reads it back. Deduplicated by the command's id.
        """
        from bot.features.scan_routing import make_envelope
        from bot.runtime.queue import JobQueue

        installation = int(getattr(gh.auth, "installation_id", 0) or 0)
        pr = {"number": f.number, "base": {"ref": f.base_ref, "sha": ""}, "head": {"ref": ""}}
        envelope = make_envelope("issue_comment", "rerequested", f"waiver-rescan:{source}", installation,
                                 f.owner, f.repo, f.head, pr=pr)
        queued = await JobQueue.from_settings(self.redis, self.settings).enqueue(envelope)
        log.info("commands.rescan_queued", head=f.head, queued=queued)

    async def _decide(
        self, gh: GitHub[Any], f: Facts, cmd: Command, bot_login: str
    ) -> tuple[str, dict[str, Any] | None]:
        words = cmd.args.split(maxsplit=1)
        prefix = self.settings_prefix()
        if cmd.head and cmd.head != f.head:  # a button on an older head's run: never sign what was not shown
            return (
                f"this Sign off button belongs to an older head `{cmd.head[:12]}`; the PR is now at "
                f"`{f.head[:12]}`: review it and use the button on the new run or `{prefix} signoff`",
                None,
            )
        if cmd.verb in ("hold", "unhold"):
            if cmd.verb == "hold" and not cmd.args.strip():
                return f"a hold needs a reason: `{prefix} hold <reason>`", None
            if cmd.verb == "unhold":
                return await self._unhold(gh, f, cmd, bot_login)
            # anyone with triage may hold; the author may hold their own PR. Holds are per person: a new
            # hold never replaces someone else's (so it cannot be used to take over and release theirs)
            role = await repo_role(gh, f.owner, f.repo, cmd.sender)
            if not (role_at_least(role, "triage") or cmd.sender.lower() == f.author.lower()):
                return "only people with at least triage on the repository may hold or release a hold", None
            return "", {"kind": cmd.verb, "reason": cmd.args.strip()}
        why = await self.excluded(gh, f, cmd, bot_login)
        if why:
            return why, None
        if not f.ai:
            return "this head changes no AI-impacting file, so no sign-off or waiver is needed", None
        allowed = await self.may_sign(gh, f, cmd.sender)
        if not allowed:
            need = needed_line(self.missing(f, []))
            return f"you are not an owner of any AI path this PR touches. Needed:\n{need}", None
        if cmd.verb in ("waive", "unwaive"):
            if not words or (cmd.verb == "waive" and len(words) < 2):
                return (
                    f"usage: `{prefix} waive <fingerprint> <reason>` / `{prefix} unwaive <fingerprint>`",
                    None,
                )
            fp = words[0]
            listed = {x.fingerprint for r in f.runs.values() for x in (r.findings or [])}
            if cmd.verb == "waive" and fp not in listed:
                return f"no finding with fingerprint `{cell(fp, 64)}` on this head", None
            if cmd.verb == "unwaive" and fp not in f.state.waivers:
                return f"`{cell(fp, 64)}` is not waived on this pull request", None
            return "", {"kind": cmd.verb, "fingerprint": fp, "reason": words[1] if len(words) > 1 else ""}
        if cmd.verb != "signoff":
            return f"unknown command `{cell(cmd.verb, 30)}`; try `{prefix} help`", None
        if not cmd.args.strip():
            return f"a sign-off needs a reason: `{prefix} signoff <reason>`", None
        blocking, problems = self.blocking(f)
        all_rules = self.rules(f)
        rules = [r for r in all_rules if not r.met]
        reasons = []
        try:
            denied = (await self.rego(f, all_rules)).deny
        except RegoError as exc:
            denied = [f"the Rego policy is invalid: {exc}"]
        if denied:
            reasons.append("denied by policy:\n" + "\n".join(f"- {cell(m, 300)}" for m in denied[:20]))
        if blocking:
            reasons.append(
                "unwaived blocking findings remain:\n" + "\n".join(f"- {b}" for b in blocking[:20])
            )
        if problems:
            reasons.append("prguard's checks are not settled:\n" + "\n".join(f"- {p}" for p in problems))
        if rules:
            reasons.append(
                "evidence rules not met:\n" + "\n".join(f"- *{cell(r.name)}*: {cell(r.why)}" for r in rules)
            )
        if reasons:
            return "\n".join(reasons), None
        return "", {"kind": "signoff", "reason": cmd.args.strip()[:500], "tree": f.tree, "paths": allowed}

    async def _unhold(
        self, gh: GitHub[Any], f: Facts, cmd: Command, bot_login: str
    ) -> tuple[str, dict[str, Any] | None]:
        """`unhold` releases the sender's own hold; everyone's only for who may release others' holds
        (maintain/admin, or an owner of an AI path this PR touches), never the PR's author or committers."""
        holds = f.state.holds
        if not holds:
            return "the pull request is not on hold", None
        me = cmd.sender.lower()
        others = [h["by"] for k, h in holds.items() if k != me]
        if others and not await self.excluded(gh, f, cmd, bot_login):
            role = await repo_role(gh, f.owner, f.repo, cmd.sender)
            if role_at_least(role, "maintain") or await self.may_sign(gh, f, cmd.sender):
                return "", {"kind": "unhold", "reason": "", "released": [h["by"] for h in holds.values()]}
        if me in holds:
            return "", {"kind": "unhold", "reason": "", "released": [holds[me]["by"]]}
        return (
            "only whoever placed a hold, a maintainer or admin, or an owner of the AI paths may release it "
            f"(on hold by {', '.join('@' + cell(b) for b in others)})",
            None,
        )

    @staticmethod
    def _describe(record: dict[str, Any]) -> str:
        kind, by = record["kind"], record["by"]
        if kind == "signoff":
            return (
                f"✅ @{by} signed off head `{record['head'][:12]}` for "
                f"{', '.join(f'`{cell(p, 120)}`' for p in record['paths'])}: {cell(record['reason'], 300)}"
            )
        if kind == "hold":
            return f"⏸️ @{by} put the AI safety sign-off on hold: {cell(record['reason'], 300)}"
        if kind == "unhold":
            whose = [b for b in record.get("released") or [] if str(b).lower() != str(by).lower()]
            mine = len(whose) < len(record.get("released") or [])
            held = (["their own"] if mine else []) + [f"@{b}'s" for b in whose]
            return f"▶️ @{by} released {' and '.join(held) or 'the'} hold{'s' * (len(held) > 1)}."
        if kind == "waive":
            fp = cell(record["fingerprint"])
            return f"🙈 @{by} waived `{fp}` on this PR: {cell(record['reason'], 300)}"
        return f"@{by} restored finding `{cell(record['fingerprint'])}`."

    def settings_prefix(self) -> str:
        from bot.features.commands import command_prefix

        return command_prefix()

    async def record_bypass(
        self, gh: GitHub[Any], owner: str, repo: str, number: int, head: str, merged_by: str
    ) -> list[str]:
        """A merge while prguard's runs were not green on its head: recorded on the PR (and so in audit)."""
        resp = await gh.rest.checks.async_list_for_ref(owner, repo, head, per_page=100, app_id=self.app_id)
        latest: dict[str, Any] = {}
        for run in sorted(resp.parsed_data.check_runs, key=lambda r: r.id):
            if run.name.startswith("prguard/"):
                latest[run.name] = run
        bad = {
            n: (str(r.conclusion) if r.conclusion else str(r.status))
            for n, r in latest.items()
            if r.conclusion not in ("success", "neutral", "skipped")
        }
        if RUN_NAME not in latest:
            bad[RUN_NAME] = "missing"
        if not bad:
            return []
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        record = {
            "kind": "bypass",
            "by": merged_by,
            "head": head,
            "runs": bad,
            "at": stamp,
            "source": f"merge:{head}",
        }
        runs = ", ".join(f"`{n}` ({c})" for n, c in sorted(bad.items()))
        await reply(
            gh,
            owner,
            repo,
            number,
            record_comment(
                record,
                f"⚠️ **Bypass recorded**: @{merged_by} merged head `{head[:12]}` "
                f"while prguard's runs were not green: {runs}.",
            ),
        )
        return sorted(bad)
