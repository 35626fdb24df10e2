"""The worker's job handler: one PR head in, four completed check runs out.

    resolve the PR (fork events carry none) → create/find the runs `in_progress` → policy from the BASE branch
    → PR files + contents (bot.github.pull_change) → checks in a thread → still the newest head? → post results

Every run this job created ends completed: with results, `failure` when the policy is invalid, `cancelled`
when a newer push superseded the head (seen by the queue, or by the PR files API listing another head
mid-job), or — if the job keeps failing — `failure` via `fail()` once the queue gives up. A 422 GitHub
gives for annotations does not count as failing: the run is completed without them (see `_post`).
A job that raises leaves its runs `in_progress` on purpose: the queue retries it and the retry
reuses the same runs (`CheckRuns.ensure` finds them), so no duplicates appear.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass
from typing import Any

from githubkit import GitHub
from githubkit.exception import RequestFailed

from bot.github.checkruns import PREFIX, CheckRuns, Run, now, pr_from_external_id, run_name
from bot.github.client import GitHubApp, error_message
from bot.github.pull_change import FetchOptions, FetchStats, HeadMoved, build_change
from bot.github.render import (
    RunReport,
    annotations_refused_note,
    in_progress_body,
    report_cancelled,
    report_disabled,
    report_failed,
    report_for_result,
    report_policy_error,
    report_unavailable,
)
from bot.log import Logger, get_logger, scrub
from bot.runtime.envelope import IsCurrent, Job
from checks import registry
from checks.change import ChangedFile
from checks.engine import create_checks, run_checks


@dataclass(frozen=True)
class PipelineOptions:
    annotation_cap: int = 500
    max_file_bytes: int = 1024 * 1024
    fetch_concurrency: int = 8
    #: seconds before re-reading a PR whose head differs from the job's (GitHub's reads may lag a webhook)
    head_recheck_delay: float = 1.0

    @classmethod
    def from_settings(cls, settings: Any) -> PipelineOptions:
        return cls(
            annotation_cap=int(getattr(settings, "annotation_cap", cls.annotation_cap)),
            max_file_bytes=int(getattr(settings, "max_file_bytes", cls.max_file_bytes)),
            fetch_concurrency=int(
                getattr(settings, "github_fetch_concurrency", None) or cls.fetch_concurrency
            ),
        )


@dataclass
class PullContext:
    """What a job needs to know about its PR, read from GitHub (the job's own fields may be partial)."""

    number: int
    head_sha: str
    base_sha: str
    base_ref: str
    html_url: str  # the base repository's web URL, for blob links
    changed_files: int


class Pipeline:
    """`bot.jobs.JobHandler` for the GitHub App (see the module docstring)."""

    def __init__(self, settings: Any, redis: Any, *, github: GitHubApp | None = None,
                 options: PipelineOptions | None = None) -> None:
        self.settings = settings
        self.redis = redis
        self.github = github or GitHubApp.from_settings(settings)
        self.options = options or PipelineOptions.from_settings(settings)
        self._queue: Any = None

    async def aclose(self) -> None:
        """Nothing pooled outlives a job (each job opens and closes its own HTTP client)."""

    # --- JobHandler ---------------------------------------------------------------------------------------
    async def process(self, job: Job, is_current: IsCurrent) -> None:
        log = get_logger("prguard.pipeline", **job.log_context())
        started = time.monotonic()
        gh = self.github.installation(job.installation_id)
        async with gh:
            pull = await self._pull(gh, job, log)
            if pull is None:
                return
            if not await self._first_for_head(job):
                log.info("pipeline.duplicate_head", pr=pull.number,
                         note="another delivery for this push already scans this head")
                return
            runs = self._runs(gh, job, log)
            opened = await self._open(runs, job.head_sha, pull.number)
            log.info("pipeline.runs_in_progress", pr=pull.number, runs={n: r.id for n, r in opened.items()})
            scan_started = time.monotonic()
            try:
                reports = await self._scan(gh, job, pull, log)
            except HeadMoved as moved:
                await self._head_moved(gh, job, pull.number, runs, opened, moved, log)
                return
            post_started = time.monotonic()
            if not await is_current():
                log.info("pipeline.superseded_before_posting", pr=pull.number)
                newer = await self._newest_head(job)
                await self._complete(runs, opened, {c: report_cancelled(c, newer) for c in opened})
                return
            await self._complete(runs, opened, reports)
        done = time.monotonic()
        log.info("pipeline.done", pr=pull.number, seconds=round(done - started, 3),
                 open_s=round(scan_started - started, 3), scan_s=round(post_started - scan_started, 3),
                 post_s=round(done - post_started, 3),
                 conclusions={c: r.conclusion for c, r in reports.items()})

    async def _head_moved(self, gh: GitHub[Any], job: Job, number: int, runs: CheckRuns,
                          opened: dict[str, Run], moved: HeadMoved, log: Logger) -> None:
        """A push landed mid-job: cancel this head's runs once the PR itself confirms the new head.

        The files list alone could be a stale read, so the PR is read again; if it still names this head,
        the job raises and the queue retries it rather than cancelling the newest head's runs.
        """
        pr = (await gh.rest.pulls.async_get(job.owner, job.repo, number)).parsed_data
        if pr.head.sha == job.head_sha:
            raise moved
        log.info("pipeline.head_moved", newer_head=pr.head.sha, listed=moved.listed)
        await self._complete(runs, opened, {c: report_cancelled(c, pr.head.sha) for c in opened})

    async def fail(self, job: Job, reason: str) -> None:
        """Dead letter: every prguard run on this head that is not completed becomes `failure`."""
        log = get_logger("prguard.pipeline", **job.log_context())
        reason = scrub(reason)
        gh = self.github.installation(job.installation_id)
        async with gh:
            runs = self._runs(gh, job, log)
            pr_number = job.pr_number
            existing = await runs.list_for_head(job.head_sha, all_runs=True)
            if not pr_number:
                pr_number = next((pr_from_external_id(r.external_id) for r in existing if r.external_id), 0)
            reports = {c: report_failed(c, reason) for c in registry.check_names()}
            tasks = []
            for check, report in reports.items():
                mine = [r for r in existing if r.name == run_name(check)]
                open_runs = [r for r in mine if not r.completed]
                for run in open_runs:
                    tasks.append(self._post(runs, run, report))
                if not mine:
                    tasks.append(self._create_completed(runs, job.head_sha, pr_number, report))
            await _settle(tasks)
        log.error("pipeline.failed_runs_completed", reason=reason, runs=len(tasks))

    async def cancel(self, job: Job) -> None:
        """Superseded: complete this head's open runs as `cancelled`, naming the newer head."""
        log = get_logger("prguard.pipeline", **job.log_context())
        newer = await self._newest_head(job)
        gh = self.github.installation(job.installation_id)
        async with gh:
            runs = self._runs(gh, job, log)
            open_runs = await runs.open_runs(job.head_sha)
            await _settle(
                self._post(runs, run, report_cancelled(run.name.removeprefix(PREFIX), newer))
                for run in open_runs
            )
        log.info("pipeline.cancelled", newer_head=newer, runs=len(open_runs))

    # --- steps --------------------------------------------------------------------------------------------
    async def _first_for_head(self, job: Job) -> bool:
        """False when this job only repeats a scan another delivery of the same push already owns.

        GitHub sends both `pull_request.synchronize` and `check_suite.requested` for one push to a PR (fork
        PRs too). Scanning twice would double the API calls and leave two sets of runs on the commit, so the
        first of the pair claims the head for an hour; a retry of the same delivery keeps its claim.
        Explicit requests (`rerequested`) always scan, and two `pull_request` deliveries (e.g. closed and
        reopened on the same head) both scan.
        """
        if job.action == "rerequested":
            return True
        prefix = getattr(self.settings, "redis_prefix", "prguard")
        key = f"{prefix}:head-scan:{job.owner}/{job.repo}@{job.head_sha}".lower()
        mine = f"{job.event}.{job.action}:{job.delivery_id}"
        if await self.redis.set(key, mine, nx=True, ex=3600):
            return True
        holder = await self.redis.get(key) or b""
        holder = holder.decode() if isinstance(holder, bytes) else str(holder)
        if holder.endswith(f":{job.delivery_id}"):
            return True
        return not (job.event == "check_suite" or holder.startswith("check_suite."))

    def _runs(self, gh: GitHub[Any], job: Job, log: Logger) -> CheckRuns:
        return CheckRuns(gh, job.owner, job.repo, app_id=self.github.options.app_id or None,
                         write_retry_delays=self.github.options.server_error_delays, logger=log)

    async def _pull(self, gh: GitHub[Any], job: Job, log: Logger) -> PullContext | None:
        """The job's PR, mapping a bare head SHA (fork `check_suite`/`check_run` events) to its open PR."""
        number = job.pr_number or await self._pr_for_head(gh, job, log)
        if not number:
            log.info("pipeline.no_open_pr", note="no open pull request has this head; nothing to scan")
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
            runs = self._runs(gh, job, log)
            open_runs = await runs.open_runs(job.head_sha)
            await _settle(
                self._post(runs, run, report_cancelled(run.name.removeprefix(PREFIX), pr.head.sha,
                                                       closed=closed))
                for run in open_runs
            )
            log.info("pipeline.pr_not_open" if closed else "pipeline.head_not_current", pr=number,
                     state=pr.state, pr_head=pr.head.sha, runs_cancelled=len(open_runs))
            return None
        return PullContext(
            number=number,
            head_sha=job.head_sha,
            base_sha=pr.base.sha or job.base_sha,   # live values: the PR may have been retargeted since
            base_ref=pr.base.ref or job.base_ref,
            html_url=str(pr.base.repo.html_url),
            changed_files=int(pr.changed_files or 0),
        )

    async def _pr_for_head(self, gh: GitHub[Any], job: Job, log: Logger) -> int:
        resp = await gh.rest.repos.async_list_pull_requests_associated_with_commit(
            job.owner, job.repo, job.head_sha
        )
        for pr in resp.parsed_data:
            if pr.state == "open" and pr.head.sha == job.head_sha:
                log.info("pipeline.pr_mapped", pr=pr.number, via="commits/{sha}/pulls")
                return int(pr.number)
        # a fork's head commit may not be listed: our own runs carry the PR in external_id
        runs = await self._runs(gh, job, log).list_for_head(job.head_sha, all_runs=True)
        for run in runs:
            number = pr_from_external_id(run.external_id)
            if number:
                log.info("pipeline.pr_mapped", pr=number, via="external_id")
                return number
        return 0

    async def _open(self, runs: CheckRuns, head_sha: str, pr_number: int) -> dict[str, Run]:
        """The four runs `in_progress`: reused when a previous attempt opened them, else created."""
        names = registry.check_names()
        known = await runs.list_for_head(head_sha)
        created = await asyncio.gather(*(
            runs.ensure(head_sha, run_name(c), pr_number, in_progress_body(c), known=known) for c in names
        ))
        return dict(zip(names, created, strict=True))

    async def _policy(self, gh: GitHub[Any], job: Job, pull: PullContext) -> tuple[Any, str]:
        """The policy at the base branch (never the head), and where it came from, for summaries.

        Only GitHub's plain "Not Found" for the file means "no policy". A 404 that says the *ref* is unknown
        (the base branch was deleted or renamed mid-job) is retried at the PR's base SHA, and raises if that
        is unknown too: falling back to the defaults there would silently drop a stricter policy.
        """
        from checks.policy import POLICY_PATH, parse_policy

        refs = [r for r in dict.fromkeys((pull.base_ref, pull.base_sha)) if r]
        for i, ref in enumerate(refs):
            try:
                resp = await gh.rest.repos.async_get_content(
                    job.owner, job.repo, POLICY_PATH, ref=ref,
                    headers={"Accept": "application/vnd.github.raw+json"},
                )
            except RequestFailed as exc:
                if exc.response.status_code != 404:
                    raise
                if error_message(exc) == "Not Found":
                    return parse_policy(None), f"defaults (no .github/prguard.yml on `{_short(ref)}`)"
                if i + 1 < len(refs):
                    continue
                raise
            return parse_policy(resp.content), f"`.github/prguard.yml` on `{_short(ref)}`"
        raise ValueError("a pull request without a base ref or SHA")

    async def _scan(self, gh: GitHub[Any], job: Job, pull: PullContext, log: Logger) -> dict[str, RunReport]:
        from checks.policy import PolicyError

        try:
            policy, source = await self._policy(gh, job, pull)
        except PolicyError as exc:
            log.warning("pipeline.policy_invalid", line=exc.line, error=str(exc))
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
            done = await asyncio.to_thread(run_checks, checks, change, ignore=policy.ignores)
            results = {r.check: r for r in done}
            results.update(broken)
        else:
            results = dict(broken)

        blob_base = f"{pull.html_url}/blob/{pull.head_sha}"
        for name, result in results.items():
            reports[name] = report_for_result(
                result, fail_on=policy.fail_on_for(name), blob_base=blob_base, policy_source=source,
                annotation_cap=self.options.annotation_cap, unlisted=int(stats.extra.get("unlisted", 0)),
            )
            log.info("pipeline.check_done", check=name, findings=len(result.findings),
                     error=bool(result.error), seconds=round(result.duration_s, 3))
        return {name: reports[name] for name in registry.check_names()}

    async def _complete(self, runs: CheckRuns, opened: dict[str, Run], reports: dict[str, RunReport]) -> None:
        await _settle(self._post(runs, opened[c], reports[c]) for c in opened)

    async def _post(self, runs: CheckRuns, run: Run, report: RunReport) -> Run:
        """Complete `run` with `report`: the first request completes it, the rest append annotations.

        GitHub refuses a whole request (422) for one annotation it dislikes. Retrying cannot help, and the
        run must not stay `in_progress`: the request is sent again without its annotations and the summary
        says so, so the run still completes with its real conclusion; later batches are then dropped.
        """
        for i, body in enumerate(report.requests()):
            if i == 0:
                body["completed_at"] = now()
            batch = body["output"].get("annotations", [])
            try:
                run = await runs.update(run, body, new_annotations=len(batch))
            except RequestFailed as exc:
                if exc.response.status_code != 422 or not batch:
                    raise
                runs.log.warning("pipeline.annotations_refused", check_run=run.name, run_id=run.id,
                                 batch=i + 1, error=scrub(error_message(exc)))
                body = {**body, "output": {"title": report.title,
                                           "summary": annotations_refused_note(report.summary,
                                                                               error_message(exc))}}
                run = await runs.update(run, body)
                break
        return run

    async def _create_completed(self, runs: CheckRuns, head_sha: str, pr_number: int,
                                report: RunReport) -> Run:
        first, *rest = report.requests()
        body = {**first, "started_at": now(), "completed_at": now()}
        run = await runs.ensure(head_sha, run_name(report.check), pr_number, body, reuse_open=False)
        for more in rest:
            run = await runs.update(run, more, new_annotations=len(more["output"].get("annotations", [])))
        return run

    async def _newest_head(self, job: Job) -> str:
        try:
            if self._queue is None:
                from bot.runtime.queue import JobQueue

                self._queue = JobQueue.from_settings(self.redis, self.settings)
            return str(await self._queue.latest_head(job) or "")
        except Exception:  # only used for a nicer summary: never let it fail a cancellation
            return ""


async def _settle(coros: Iterable[Awaitable[Any]]) -> list[Any]:
    """Run the writes together and let every one of them finish before raising the first error.

    With a bare `gather`, the first failure left the job (and closed its HTTP client) while the other runs'
    updates were still in flight: those runs then failed too and stayed `in_progress`.
    """
    results = await asyncio.gather(*coros, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


def _short(ref: str) -> str:
    return ref[:12] if len(ref) == 40 and all(c in "0123456789abcdef" for c in ref) else ref
