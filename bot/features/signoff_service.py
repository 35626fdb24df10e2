"""The AI safety sign-off's decisions and writes, shared by the `signoff` feature (pushes, the button,
re-runs, merges) and the `commands` feature (slash-commands).

`refresh` (here) turns the facts of the PR's head (bot.features.signoff_facts) into the
`prguard/ai-safety-sign-off` run, the one sticky comment, review requests to the owners and prguard's one live
review. `command` (bot.features.signoff_actions) applies a sign-off, hold, waiver … after checking the sender
LIVE, and records it in a reply of prguard's own (the only records state is rebuilt from). Both run under one
per-PR lock, so a PR's work happens one thing at a time.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Any

from githubkit import GitHub
from githubkit.exception import RequestFailed

from bot.features.signoff_actions import SignoffActions
from bot.features.signoff_facts import RUN_NAME, Facts, classify_files, document, gather
from bot.features.signoff_lock import PrLock
from bot.features.signoff_render import cell, evidence, needed_line
from bot.github.checkruns import CheckRuns, now, run_name
from bot.github.comments import upsert_sticky
from bot.github.reviews import request_reviews, sync_review
from bot.log import Logger
from checks.registry import check_names
from checks.signoff.evidence import EvidenceInput, RuleOutcome, evaluate_rules
from checks.signoff.owners import OwnersMap
from checks.signoff.records import SignOff
from checks.signoff.rego import RegoError, RegoResult, evaluate

SIGN_OFF_ACTION = {
    "label": "Sign off",
    "description": "Sign off the AI changes of this head",
    "identifier": "signoff",
}
BLOCKING_CONCLUSIONS = {"failure", "action_required", "cancelled", "timed_out", "stale", "startup_failure"}


class SignoffService(SignoffActions):
    def __init__(self, github: Any, redis: Any, settings: Any, *, lock_ttl: float = 60.0) -> None:
        self.github = github
        self.redis = redis
        self.settings = settings
        self.app_id = int(github.options.app_id)
        self.lock_ttl = lock_ttl
        self.rego_timeout = 10.0
        self._login = ""

    # --- identity and serialisation ---------------------------------------------------------------------
    async def bot_login(self) -> str:
        if not self._login:
            app = (await self.github.app.rest.apps.async_get_authenticated()).parsed_data
            self._login = f"{app.slug}[bot]"
        return self._login

    def lock(self, owner: str, repo: str, number: int) -> PrLock:
        key = f"{self.settings.redis_prefix}:signoff-lock:{owner}/{repo}#{number}".lower()
        return PrLock(self.redis, key, self.lock_ttl)

    async def facts(self, gh: GitHub[Any], owner: str, repo: str, number: int) -> Facts:
        return await gather(gh, owner, repo, number, app_id=self.app_id, bot_login=await self.bot_login())

    # --- decisions ---------------------------------------------------------------------------------------
    async def valid_signoffs(self, gh: GitHub[Any], f: Facts) -> list[SignOff]:
        """The sign-offs valid for this head (see `SignoffState.valid_signoffs`); with the policy's
        `keep_on_non_ai_changes`, a sign-off on an earlier head is kept when this head descends from it
        (compare `status` "ahead", merge-base = that head) and the compare lists no AI-impacting file
        (classified like the PR's own files)."""
        kept: set[str] = set()
        if f.config.keep_on_non_ai_changes:
            for head in {s.head for s in f.state.signoffs if s.head != f.head}:
                try:
                    resp = await gh.rest.repos.async_compare_commits(f.owner, f.repo, f"{head}...{f.head}")
                except RequestFailed:
                    continue  # unknown (e.g. force-pushed away): not kept
                cmp = resp.parsed_data
                # only a descendant of the signed head: the three-dot compare lists the files from the
                # merge-base, which equals the signed head only then. A force-push elsewhere (e.g. onto a
                # commit the signed history later reverted) could otherwise list just a harmless file.
                mb = cmp.merge_base_commit.sha if cmp.merge_base_commit else ""
                if cmp.status != "ahead" or mb != head:
                    continue
                files = cmp.files or []
                if len(files) < 300 and not classify_files(files, f.config):
                    kept.add(head)
        return f.state.valid_signoffs(f.head, f.tree, kept=frozenset(kept))

    def missing(self, f: Facts, valid: list[SignOff]) -> dict[str, list[str]]:
        owners = OwnersMap(f.config.owners)
        covered = {p for s in valid for p in s.paths}
        return {p: [str(o) for o in owners.owners_of(p)] for p in sorted(f.ai) if p not in covered}

    def rules(self, f: Facts) -> list[RuleOutcome]:
        return evaluate_rules(f.config.evidence, EvidenceInput(f.ai, f.changed, f.results))

    def waived(self, f: Facts, today: date | None = None) -> set[str]:
        today = today or datetime.now(UTC).date()
        return set(f.state.waivers) | {w.fingerprint for w in f.config.waivers if not w.expired(today)}

    async def rego(self, f: Facts, rules: list[RuleOutcome]) -> RegoResult:
        """The base branch's Rego policies on this head's facts (raises `RegoError`, also when a Rego file
        could not be read: a dropped policy would allow what it denies)."""
        if f.rego_error is not None:
            raise f.rego_error
        if not f.rego:
            return RegoResult()
        doc = document(f, rules, self.waived(f))
        return await asyncio.to_thread(evaluate, f.rego, doc, timeout=self.rego_timeout)

    def blocking(self, f: Facts, today: date | None = None) -> tuple[list[str], list[str]]:
        """(unwaived blocking findings as `check fingerprint severity path`, problems reading the runs)."""
        waived = self.waived(f, today)
        out, problems = [], []
        # a check that has not reported on this head is "not checked", never "clean"
        problems += [f"`{run_name(c)}` has not run on this head yet" for c in check_names()
                     if run_name(c) not in f.runs]
        for run in f.runs.values():
            if run.status != "completed":
                problems.append(f"`{run.name}` has not finished on this head")
                continue
            if run.findings is None:
                if run.conclusion in BLOCKING_CONCLUSIONS:
                    problems.append(f"`{run.name}` concluded {run.conclusion} without readable findings")
                continue
            out += [
                f"`{x.fingerprint}` {x.severity} {x.rule} in `{cell(x.path, 100)}` ({run.name})"
                for x in run.findings
                if x.blocking and x.fingerprint not in waived
            ]
            if run.truncated:
                problems.append(f"`{run.name}` lists too many findings to judge")
        return out, problems

    # --- the run, the comment, the review ----------------------------------------------------------------
    async def refresh(
        self, gh: GitHub[Any], owner: str, repo: str, number: int, log: Logger, facts: Facts | None = None
    ) -> str:
        """Post the run, sticky comment, review requests and review for the PR's head; `facts` when the
        caller has just read them (a command that only added a record of its own)."""
        f = facts or await self.facts(gh, owner, repo, number)
        runs = CheckRuns(gh, owner, repo, app_id=self.app_id, logger=log)
        if f.policy_error is not None:
            err = f.policy_error
            where = f" (line {err.line})" if err.line else ""
            await self._post_run(
                runs,
                f,
                "failure",
                f"Invalid .github/prguard.yml{where}",
                f"`.github/prguard.yml` on `{cell(f.base_ref)}` is invalid{where}:\n\n"
                + "\n".join(f"- {cell(p, 300)}" for p in err.problems[:20])
                + "\n\nThe sign-off cannot be evaluated until the policy is fixed.",
            )
            return "failure"
        rules = self.rules(f)
        try:
            rego = await self.rego(f, rules)
        except RegoError as exc:
            at_line = f" line {exc.line}" if exc.line else ""
            where = f"`{cell(exc.path)}`{at_line}" if exc.path else "Rego"
            what = "Unreadable" if exc is f.rego_error else "Invalid"
            await self._post_run(
                runs,
                f,
                "failure",
                f"{what} Rego policy ({where})"[:250],
                f"The Rego policy on `{cell(f.base_ref)}` could not be evaluated: {where}: "
                f"{cell(exc.message, 500)}\n\nThe sign-off cannot be evaluated until it is fixed.",
            )
            return "failure"
        if not f.ai:
            return await self._not_required(gh, runs, f)
        valid = await self.valid_signoffs(gh, f)
        missing = self.missing(f, valid)
        ev = evidence(f, rules, valid) + _rego_lines(rego)
        hold = f.state.hold
        bot_login = await self.bot_login()
        if not missing and hold is None and not rego.deny:
            who = ", ".join(
                f"@{s.by} at {s.at} ({cell(s.reason, 120)}, signed head `{s.head[:12]}`)" for s in valid
            )
            signers = ", ".join("@" + s.by for s in valid)
            await self._post_run(
                runs, f, "success", f"Signed off by {signers}", f"Granted for head `{f.head}`: {who}.\n\n{ev}"
            )
            await self._sticky(gh, f, f"✅ AI safety sign-off **granted** for `{f.head[:12]}` by {who}.")
            await sync_review(
                gh,
                owner,
                repo,
                number,
                bot_login=bot_login,
                head=f.head,
                event="APPROVE",
                body=f"AI safety sign-off granted by {who} for head `{f.head}`.\n\n{ev}",
            )
            return "success"
        parts = []
        if rego.deny:
            parts.append(
                "**Denied by policy** (`.github/prguard/*.rego`):\n"
                + "\n".join(f"- {cell(m, 300)}" for m in rego.deny[:20])
            )
        for h in f.state.holds.values():  # every hold, one per person: the run stays held while any remains
            parts.append(
                f"**On hold** by @{cell(h['by'])}: {cell(h['reason'], 300)} (`/prguard unhold` to release)"
            )
        if missing:
            parts.append(
                "**Sign-off needed** (`/prguard signoff <reason>` or the *Sign off* button) for:\n"
                + needed_line(missing)
            )
        stale = [s for s in f.state.signoffs if s not in valid]
        if stale and not valid:
            parts.append(
                f"A sign-off by @{cell(stale[-1].by)} on `{stale[-1].head[:12]}` went **stale**: the "
                "head changed since."
            )
        text = "\n\n".join(parts)
        if hold is not None:
            title = "On hold"
        elif missing:
            title = f"Sign-off required ({len(missing)} AI path{'s' * (len(missing) != 1)})"
        else:
            title = "Denied by policy"
        await self._post_run(runs, f, "action_required", title, f"{text}\n\n{ev}", actions=not hold)
        await self._sticky(gh, f, f"🛑 AI safety sign-off **required** for `{f.head[:12]}`.\n\n{text}")
        await self._request(gh, f, missing)
        await sync_review(
            gh,
            owner,
            repo,
            number,
            bot_login=bot_login,
            head=f.head,
            event=f.config.review,
            body=f"AI safety sign-off required.\n\n{text}\n\n{ev}",
        )
        return "action_required"

    async def _not_required(self, gh: GitHub[Any], runs: CheckRuns, f: Facts) -> str:
        await self._post_run(
            runs,
            f,
            "success",
            "No AI-impacting change",
            f"None of the {len(f.files)} changed files is an AI asset (prompts, agent rules and settings, "
            "MCP "
            "configs, models and model references, datasets, AI-BOMs, code newly calling an LLM) or matches "
            "`signoff.required_paths`, so no sign-off is required.",
        )
        if f.state.signoffs or any(c.body.startswith("<!-- prguard:sticky") for c in f.comments):
            await self._sticky(
                gh,
                f,
                "The AI safety sign-off is **no longer required**: this head changes no AI-impacting file.",
            )
        await sync_review(
            gh, f.owner, f.repo, f.number, bot_login=await self.bot_login(), head=f.head, event=None, body=""
        )
        return "success"

    async def _post_run(
        self, runs: CheckRuns, f: Facts, conclusion: str, title: str, summary: str, *, actions: bool = False
    ) -> None:
        body: dict[str, Any] = {
            "status": "completed",
            "conclusion": conclusion,
            "completed_at": now(),
            "output": {"title": title[:250], "summary": summary[:65000]},
        }
        if actions:
            body["actions"] = [SIGN_OFF_ACTION]
        existing = await runs.list_for_head(f.head, RUN_NAME)
        if existing:
            await runs.update(existing[0], body)
        else:
            await runs.ensure(f.head, RUN_NAME, f.number, body, reuse_open=False)

    async def _sticky(self, gh: GitHub[Any], f: Facts, text: str) -> None:
        await upsert_sticky(gh, f.owner, f.repo, f.number, text, f.comments)

    async def _request(self, gh: GitHub[Any], f: Facts, missing: dict[str, list[str]]) -> None:
        users, teams = [], []
        for o in OwnersMap(f.config.owners).all_owners(missing):
            if o.is_team and o.team not in f.requested_teams and o.team not in teams:
                teams.append(o.team)
            elif (
                not o.is_team
                and o.login.lower() != f.author.lower()
                and o.login not in f.requested_users
                and o.login not in users
            ):
                users.append(o.login)
        await request_reviews(gh, f.owner, f.repo, f.number, users=users, teams=teams)


def _rego_lines(rego: RegoResult) -> str:
    if not (rego.deny or rego.warn):
        return ""
    lines = ["", "", "**Rego policies**"]
    lines += [f"- deny: {cell(m, 300)}" for m in rego.deny[:20]]
    lines += [f"- warn: {cell(m, 300)}" for m in rego.warn[:20]]
    return "\n".join(lines)
