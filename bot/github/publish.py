"""Post a `RunReport` to a check run: the completing write, then annotation batches, never left `in_progress`.

Every feature that owns check runs (the PR scan today; any later one) completes them through here, so the
rules hold for all of them: GitHub's 50-annotations-per-request batching, a 422 for one bad annotation does
not leave the run open, and several runs are written together with every write allowed to finish.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import Any

from githubkit.exception import RequestFailed

from bot.github.checkruns import CheckRuns, Run, now, run_name
from bot.github.render import RunReport, annotations_refused_note
from bot.github.retry import error_message
from bot.log import scrub


async def post(runs: CheckRuns, run: Run, report: RunReport) -> Run:
    """Complete `run` with `report`: the first request completes it, the rest append annotations.

    GitHub refuses a whole request (422) for one annotation it dislikes. Retrying cannot help, and the run
    must not stay `in_progress`: the request is sent again without its annotations and the summary says so,
    so the run still completes with its real conclusion; later batches are then dropped.
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
            runs.log.warning("checkrun.annotations_refused", check_run=run.name, run_id=run.id,
                             batch=i + 1, error=scrub(error_message(exc)))
            body = {**body, "output": {"title": report.title,
                                       "summary": annotations_refused_note(report.summary,
                                                                           error_message(exc))}}
            run = await runs.update(run, body)
            break
    return run


async def create_completed(runs: CheckRuns, head_sha: str, pr_number: int, report: RunReport) -> Run:
    """A new run that is completed from its first request (when there was no run to complete)."""
    first, *rest = report.requests()
    body = {**first, "started_at": now(), "completed_at": now()}
    run = await runs.ensure(head_sha, run_name(report.check), pr_number, body, reuse_open=False)
    for more in rest:
        run = await runs.update(run, more, new_annotations=len(more["output"].get("annotations", [])))
    return run


async def complete(runs: CheckRuns, opened: dict[str, Run], reports: dict[str, RunReport]) -> None:
    """Complete each opened run with its report, all together."""
    await settle(post(runs, opened[c], reports[c]) for c in opened)


async def settle(coros: Iterable[Awaitable[Any]]) -> list[Any]:
    """Run the writes together and let every one of them finish before raising the first error.

    With a bare `gather`, the first failure left the job (and closed its HTTP client) while the other runs'
    updates were still in flight: those runs then failed too and stayed `in_progress`.
    """
    results = await asyncio.gather(*coros, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results
