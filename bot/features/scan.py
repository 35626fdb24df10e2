"""The PR scan, prguard's first feature: one PR head in, one completed check run per check out.

Routing (in the receiver, payload only; `bot.features.scan_routing`): `pull_request` opened / synchronize /
reopened / ready_for_review, and `edited` when the base branch changed (the policy comes from the new base);
`check_suite` requested / rerequested; `check_run` rerequested (the "Re-run" button). Each becomes one
envelope whose supersede key is the PR and whose version is the head SHA, so a newer head cancels an older
scan (and never anything else).

Handling (in the worker):

    resolve the PR (fork events carry none) → create/find the runs `in_progress` → policy from the BASE branch
    → PR files + contents (bot.github.pull_change) → checks in a thread → still the newest head? → post

Every run this job created ends completed: with results, `failure` when the policy is invalid, `cancelled`
when a newer push superseded the head (seen by the queue, or by the PR files API listing another head
mid-job), or — if the job keeps failing — `failure` via `fail()` once the queue gives up. A 422 GitHub
gives for annotations does not count as failing: the run is completed without them (bot.github.publish).
A job that raises leaves its runs `in_progress` on purpose: the queue retries it and the retry reuses the
same runs (`CheckRuns.ensure` finds them), so no duplicates appear. `fail` and `cancel` touch only the runs
of the checks (`prguard/<check>`), never another feature's runs on the same commit.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from githubkit import GitHub

from bot import metrics
from bot.features.scan_routing import EVENTS, NAME, scan_envelope
from bot.github.checkruns import PREFIX, CheckRuns, Run, pr_from_external_id, run_name
from bot.github.client import GitHubApp
from bot.github.comments import app_comments
from bot.github.publish import complete, create_completed, post, settle
from bot.github.pull_change import FetchOptions, FetchStats, HeadMoved, build_change
from bot.github.pull_commits import pull_history
from bot.github.pulls import PullContext, context_of, effective_policy, pr_for_head
from bot.github.render import (
    RunReport,
    in_progress_body,
    report_cancelled,
    report_disabled,
    report_failed,
    report_for_result,
    report_policy_error,
    report_unavailable,
)
from bot.log import Logger, add_sensitive, get_logger, scrub
from bot.runtime.envelope import Envelope, IsCurrent
from bot.runtime.queue import JobQueue
from bot.runtime.scheduler import PeriodicTask
from checks import registry
from checks.change import ChangedFile
from checks.engine import CheckResult, create_checks, run_checks
from checks.policy import PolicyError
from checks.secrets.scanner import secrets_in_path
from checks.signoff.records import parse_records
from checks.waivers import Waiver, policy_waivers, record_waivers


class ScanFeature:
    name = NAME
    events = EVENTS

    def envelopes(self, event: str, delivery_id: str, payload: dict[str, Any]) -> list[Envelope]:
        envelope = scan_envelope(event, delivery_id, payload)
        return [envelope] if envelope is not None else []

    def handler(self, services: Any) -> ScanHandler:
        return ScanHandler(services.settings, services.redis, github=services.github, queue=services.queue)

    def periodic(self, services: Any) -> list[PeriodicTask]:
        return []


@dataclass(frozen=True)
class ScanOptions:
    annotation_cap: int = 500
    max_file_bytes: int = 1024 * 1024
    fetch_concurrency: int = 8
    #: seconds each check may run (`checks.engine`): an engine still running then is killed, the run fails
    check_timeout: float = 300.0
    #: commits of a PR whose additions are read (`PRGUARD_HISTORY_MAX_COMMITS`)
    history_max_commits: int = 200
    #: seconds before re-reading a PR whose head differs from the job's (GitHub's reads may lag a webhook)
    head_recheck_delay: float = 1.0

    @classmethod
    def from_settings(cls, settings: Any) -> ScanOptions:
        return cls(annotation_cap=settings.annotation_cap, max_file_bytes=settings.max_file_bytes,
                   fetch_concurrency=settings.github_fetch_concurrency, check_timeout=settings.check_timeout,
                   history_max_commits=settings.history_max_commits)


def _register_path_secrets(results: Iterable[CheckResult]) -> None:
    """Have every secret that is part of a path (a key used as a file name, or a key found in one file that
    names another) scrubbed from summaries and logs (`bot.log.add_sensitive`), as `prguard scan` does."""
    for result in results:
        for finding in result.findings:
            span = finding.metadata.get("path_span")
            if isinstance(span, list | tuple) and len(span) == 2 and 0 <= span[0] < span[1]:
                add_sensitive(finding.path[span[0] : span[1]])
        for path in {f.path for f in result.findings} | {s.path for s in result.skipped}:
            add_sensitive(*(hit.value for hit in secrets_in_path(path)))


def _check_runs(names: list[str], runs: list[Run]) -> list[Run]:
    """The runs among `runs` that belong to the scan's checks (not another feature's)."""
    wanted = {run_name(n) for n in names}
    return [r for r in runs if r.name in wanted]


class ScanHandler:
    """The scan's `bot.runtime.envelope.Handler` (see the module docstring)."""

    def __init__(self, settings: Any, redis: Any, *, github: GitHubApp, queue: JobQueue,
                 options: ScanOptions | None = None) -> None:
        self.settings = settings
        self.redis = redis
        self.github = github
        self.queue = queue
        self.options = options or ScanOptions.from_settings(settings)

    # --- Handler ------------------------------------------------------------------------------------------
    async def process(self, job: Envelope, is_current: IsCurrent) -> None:
        log = get_logger("prguard.scan", **job.log_context())
        started = time.monotonic()
        gh = self.github.installation(job.installation_id)
        async with gh:
            pull = await self._pull(gh, job, log)
            if pull is None:
                return
            if not await self._first_for_head(job):
                log.info("scan.duplicate_head", pr=pull.number,
                         note="another delivery for this push already scans this head")
                return
            runs = self._runs(gh, job, log)
            opened = await self._open(runs, job.head_sha, pull.number)
            log.info("scan.runs_in_progress", pr=pull.number, runs={n: r.id for n, r in opened.items()})
            scan_started = time.monotonic()
            try:
                reports = await self._scan(gh, job, pull, log)
            except HeadMoved as moved:
                await self._head_moved(gh, job, pull.number, runs, opened, moved, log)
                return
            post_started = time.monotonic()
            if not await is_current():
                log.info("scan.superseded_before_posting", pr=pull.number)
                newer = await self._newest_head(job)
                await complete(runs, opened, {c: report_cancelled(c, newer) for c in opened})
                return
            await complete(runs, opened, reports)
        done = time.monotonic()
        log.info("scan.done", pr=pull.number, seconds=round(done - started, 3),
                 open_s=round(scan_started - started, 3), scan_s=round(post_started - scan_started, 3),
                 post_s=round(done - post_started, 3),
                 conclusions={c: r.conclusion for c, r in reports.items()})

    async def fail(self, job: Envelope, reason: str) -> None:
        """Dead letter: every scan run on this head that is not completed becomes `failure` (and a check
        with no run at all gets a failed one, so a required check never waits forever)."""
        log = get_logger("prguard.scan", **job.log_context())
        reason = scrub(reason)
        gh = self.github.installation(job.installation_id)
        async with gh:
            runs = self._runs(gh, job, log)
            pr_number = job.pr_number
            existing = await runs.list_for_head(job.head_sha, all_runs=True)
            if not pr_number:
                pr_number = next((pr_from_external_id(r.external_id) for r in existing if r.external_id), 0)
            tasks = []
            for check in registry.check_names():
                report = report_failed(check, reason)
                mine = [r for r in existing if r.name == run_name(check)]
                tasks += [post(runs, run, report) for run in mine if not run.completed]
                if not mine:
                    tasks.append(create_completed(runs, job.head_sha, pr_number, report))
            await settle(tasks)
        log.error("scan.failed_runs_completed", reason=reason, runs=len(tasks))

    async def cancel(self, job: Envelope, newer_version: str) -> None:
        """Superseded: complete this head's open scan runs as `cancelled`, naming the newer head."""
        log = get_logger("prguard.scan", **job.log_context())
        gh = self.github.installation(job.installation_id)
        async with gh:
            runs = self._runs(gh, job, log)
            closed = await self._cancel_open(runs, job.head_sha, newer_version)
        log.info("scan.cancelled", newer_head=newer_version, runs=closed)

    # --- steps --------------------------------------------------------------------------------------------
    async def _cancel_open(self, runs: CheckRuns, head_sha: str, newer: str, *, closed: bool = False) -> int:
        open_runs = _check_runs(registry.check_names(), await runs.open_runs(head_sha))
        await settle(
            post(runs, run, report_cancelled(run.name.removeprefix(PREFIX), newer, closed=closed))
            for run in open_runs
        )
        return len(open_runs)

    async def _head_moved(self, gh: GitHub[Any], job: Envelope, number: int, runs: CheckRuns,
                          opened: dict[str, Run], moved: HeadMoved, log: Logger) -> None:
        """A push landed mid-job: cancel this head's runs once the PR itself confirms the new head.

        The files list alone could be a stale read, so the PR is read again; if it still names this head,
        the job raises and the queue retries it rather than cancelling the newest head's runs.
        """
        pr = (await gh.rest.pulls.async_get(job.owner, job.repo, number)).parsed_data
        if pr.head.sha == job.head_sha:
            raise moved
        log.info("scan.head_moved", newer_head=pr.head.sha, listed=moved.listed)
        await complete(runs, opened, {c: report_cancelled(c, pr.head.sha) for c in opened})

    async def _first_for_head(self, job: Envelope) -> bool:
        """False when this job only repeats a scan another delivery of the same push already owns.

        GitHub sends both `pull_request.synchronize` and `check_suite.requested` for one push to a PR (fork
        PRs too). Scanning twice would double the API calls and leave two sets of runs on the commit, so the
        first of the pair claims the head for an hour; a retry of the same delivery keeps its claim.
        Explicit requests (`rerequested`) always scan, and two `pull_request` deliveries (e.g. closed and
        reopened on the same head) both scan.
        """
        if job.action == "rerequested":
            return True
        key = f"{self.settings.redis_prefix}:head-scan:{job.owner}/{job.repo}@{job.head_sha}".lower()
        mine = f"{job.event}.{job.action}:{job.delivery_id}"
        if await self.redis.set(key, mine, nx=True, ex=3600):
            return True
        holder = await self.redis.get(key) or b""
        holder = holder.decode() if isinstance(holder, bytes) else str(holder)
        if holder.endswith(f":{job.delivery_id}"):
            return True
        return not (job.event == "check_suite" or holder.startswith("check_suite."))

    def _runs(self, gh: GitHub[Any], job: Envelope, log: Logger) -> CheckRuns:
        return CheckRuns(gh, job.owner, job.repo, app_id=self.github.options.app_id or None,
                         write_retry_delays=self.github.options.server_error_delays, logger=log)

    async def _pull(self, gh: GitHub[Any], job: Envelope, log: Logger) -> PullContext | None:
        """The job's PR as GitHub has it now; None (after closing this head's open runs) when there is nothing
        to scan: no open PR has this head, the PR is closed, or its head has moved on."""
        number = job.pr_number or await pr_for_head(gh, self._runs(gh, job, log), job.owner, job.repo,
                                                    job.head_sha, log)
        if not number:
            log.info("scan.no_open_pr", note="no open pull request has this head; nothing to scan")
            return None
        pr = (await gh.rest.pulls.async_get(job.owner, job.repo, number)).parsed_data
        if pr.state == "open" and pr.head.sha != job.head_sha:
            # one short second look before concluding, in case GitHub's read lags its own webhook
            await asyncio.sleep(self.options.head_recheck_delay)
            pr = (await gh.rest.pulls.async_get(job.owner, job.repo, number)).parsed_data
        if pr.state != "open" or pr.head.sha != job.head_sha:
            # GitHub is the record: a closed PR, or a head that is no longer the PR's (a late `check_suite`
            # for an older push), is not scanned — the PR files API would describe another commit — and
            # runs an earlier attempt opened must not stay in_progress forever
            closed = pr.state != "open"
            cancelled = await self._cancel_open(self._runs(gh, job, log), job.head_sha, pr.head.sha,
                                                closed=closed)
            log.info("scan.pr_not_open" if closed else "scan.head_not_current", pr=number,
                     state=pr.state, pr_head=pr.head.sha, runs_cancelled=cancelled)
            return None
        return context_of(pr, number, job.head_sha, job.get("base_sha"), job.get("base_ref"))

    async def _open(self, runs: CheckRuns, head_sha: str, pr_number: int) -> dict[str, Run]:
        """The runs `in_progress`: reused when a previous attempt opened them, else created."""
        names = registry.check_names()
        known = await runs.list_for_head(head_sha)
        created = await asyncio.gather(*(
            runs.ensure(head_sha, run_name(c), pr_number, in_progress_body(c), known=known) for c in names
        ))
        return dict(zip(names, created, strict=True))

    async def _scan(self, gh: GitHub[Any], job: Envelope, pull: PullContext, log: Logger
                    ) -> dict[str, RunReport]:
        try:
            policy, source = await effective_policy(gh, job.owner, job.repo, pull)  # with `_extends`
            waivers = policy_waivers(policy.extra)
        except PolicyError as exc:
            log.warning("scan.policy_invalid", line=exc.line, error=str(exc))
            message = getattr(exc, "message", str(exc))
            return {c: report_policy_error(c, message, exc.line, pull.base_ref,
                                           problems=getattr(exc, "problems", ()))
                    for c in registry.check_names()}

        reports: dict[str, RunReport] = {}
        stats = FetchStats()
        wanted: list[str] = []
        for name in registry.check_names():
            if not policy.enabled(name):
                reports[name] = report_disabled(name, pull.base_ref)
            elif not registry.is_available(name):
                reports[name] = report_unavailable(name)
            else:
                wanted.append(name)
        # building a check may import engines and load rules: keep that off the event loop too
        checks, failed = await asyncio.to_thread(create_checks, wanted)
        broken = {r.check: r for r in failed}

        if checks:
            def wants(file: ChangedFile) -> bool:
                return any(not policy.ignores(file.path, c.name) and c.applies_to(file) for c in checks)

            change = await build_change(
                gh, job.owner, job.repo, pr_number=pull.number, base_sha=pull.base_sha,
                head_sha=pull.head_sha, wants=wants, changed_files_total=pull.changed_files,
                options=FetchOptions(max_file_bytes=self.options.max_file_bytes,
                                     concurrency=self.options.fetch_concurrency),
                logger=log, stats=stats,
            )
            # what each commit added: secrets committed and deleted on the branch (bot.github.pull_commits)
            change.history = await pull_history(
                gh, job.owner, job.repo, pull, checks, max_commits=self.options.history_max_commits,
                max_file_bytes=self.options.max_file_bytes, concurrency=self.options.fetch_concurrency,
                logger=log, stats=stats,
            )
            # a cancelled job (shutdown, or another worker took it over) cancels its checks too: their
            # engines are killed instead of running on beside the next owner's
            cancel = threading.Event()
            try:
                done = await asyncio.to_thread(run_checks, checks, change, policy=policy,
                                               timeout=self.options.check_timeout, cancel=cancel)
            except asyncio.CancelledError:
                cancel.set()
                raise
            results = {r.check: r for r in done}
            for result in done:
                metrics.CHECK_SECONDS.labels(result.check, "error" if result.error else "ok").observe(
                    result.duration_s)
            results.update(broken)
        else:
            results = dict(broken)

        _register_path_secrets(results.values())
        if any(r.findings for r in results.values()):  # nothing to waive otherwise: no extra request
            waivers += await self._pr_waivers(gh, job, pull.number)
        blob_base = f"{pull.html_url}/blob/{pull.head_sha}"
        for name, result in results.items():
            reports[name] = report_for_result(
                result, fail_on=policy.fail_on_for(name), blob_base=blob_base, policy_source=source,
                annotation_cap=self.options.annotation_cap, unlisted=int(stats.extra.get("unlisted", 0)),
                fail_on_unscanned=policy.fail_on_unscanned, waivers=waivers,
            )
            log.info("scan.check_done", check=name, findings=len(result.findings),
                     error=bool(result.error), seconds=round(result.duration_s, 3))
        return {name: reports[name] for name in registry.check_names()}

    async def _pr_waivers(self, gh: GitHub[Any], job: Envelope, number: int) -> list[Waiver]:
        """The `/prguard waive` records prguard itself wrote on the PR (never users' comments), folded."""
        app_id = int(self.github.options.app_id or 0)
        comments = await app_comments(gh, job.owner, job.repo, number, app_id)
        return record_waivers(r for c in comments for r in parse_records(c.body))

    async def _newest_head(self, job: Envelope) -> str:
        """The PR's newest known head, for a nicer summary only: never lets a cancellation fail."""
        try:
            return str(await self.queue.latest_version(job) or "")
        except Exception as exc:
            get_logger("prguard.scan", **job.log_context()).warning("scan.newest_head_unknown",
                                                                     error=scrub(repr(exc)))
            return ""
