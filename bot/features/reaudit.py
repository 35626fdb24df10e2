"""Continuous re-audit: after a sync brings new advisories, every installed repository's default-branch
dependency files are audited again, and what is newly affected is reported as a `prguard/dependencies`
check run on the default branch's head commit; when the operator granted `security_events: write`, also
as a SARIF upload to code scanning (`bot.features.reaudit_sarif`).

A periodic task (`PRGUARD_ADVISORY_SYNC_INTERVAL`, one worker at a time, `bot.runtime.scheduler`):

    sync from PRGUARD_ADVISORY_MIRROR (when set) → advisories modified since the last pass's data date
    → for each installation, each repository: list the default branch's dependency files (contents API,
      never cloning), parse them statically, match → post one completed run listing only new matches

"New" is a (file, package version, advisory) match whose advisory arrived since the last pass and that no
earlier re-audit reported. What was reported is remembered twice: in Redis
(`{prefix}:reaudit:reported:{owner}/{repo}`, across head commits) and in the run itself (a hidden line of
its output text, read back from GitHub on the next pass), so a lost Redis does not repeat a report on the
same head. The first pass only records the data date: existing matches are the PR scans' business (they
count them as "already present"), not a flood of runs on install. A repository with nothing new gets no run.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from bot.features.reaudit_sarif import can_upload
from bot.features.reaudit_sarif import upload as upload_sarif
from bot.features.reaudit_scan import keys_in_text, marker, new_matches
from bot.github import fleet
from bot.github.checkruns import CheckRuns, run_name
from bot.github.publish import create_completed
from bot.github.pull_change import ContentFetcher, FetchOptions, FetchStats
from bot.github.render import report_for_result
from bot.log import get_logger, scrub
from bot.runtime.router import PeriodicFeature
from bot.runtime.scheduler import PeriodicTask
from checks.dependencies.index_access import open_index
from checks.dependencies.model import Parsed, ParseError
from checks.dependencies.sources import source_for
from checks.engine import CheckResult
from checks.finding import Severity

log = get_logger("prguard.reaudit")

NAME = "reaudit"
CHECK = "dependencies"
#: folders never walked for dependency files (vendored or generated trees)
SKIP_DIRS = frozenset({"node_modules", "vendor", "third_party", "dist", "build", "target", "venv"})
#: directories listed per repository (a monorepo's packages are usually one or two levels down)
MAX_DIRS = 200
MAX_DEPTH = 4


@dataclass
class ReauditResult:
    synced: bool = False
    new_advisories: int = 0
    repositories: int = 0
    runs: list[str] = field(default_factory=list)  # "owner/repo@sha"
    sarif_uploads: list[str] = field(default_factory=list)  # "owner/repo@sha" (code scanning, when granted)
    errors: list[str] = field(default_factory=list)


class Reauditor:
    """One pass (see the module docstring). `directory`: the index directory (None: the default one)."""

    def __init__(self, settings: Any, redis: Any, github: Any, *, directory: str | None = None,
                 mirror: str | None = None) -> None:
        self.settings = settings
        self.redis = redis
        self.github = github
        self.directory = directory if directory is not None else (
            str(settings.advisory_dir) if getattr(settings, "advisory_dir", None) else None)
        self.mirror = mirror if mirror is not None else getattr(settings, "advisory_mirror", None)
        self.prefix = f"{settings.redis_prefix}:reaudit"

    async def run(self) -> ReauditResult:
        result = ReauditResult()
        if self.mirror:
            from bot.features.advisory_sync import SyncError, sync

            try:
                await asyncio.to_thread(sync, self.mirror, None, self.directory)
                result.synced = True
            except SyncError as exc:  # the old index stays; re-audit with it
                log.warning("reaudit.sync_failed", error=scrub(str(exc))[:500])
        index, problem = open_index(self.directory)
        if index is None:
            log.warning("reaudit.no_index", reason=problem)
            return result
        last = await self.redis.get(f"{self.prefix}:data-date")
        date = index.meta.data_date
        if last is None:
            await self.redis.set(f"{self.prefix}:data-date", date)
            log.info("reaudit.baseline", data_date=date)
            return result
        since = last.decode() if isinstance(last, bytes) else str(last)
        new_ids = index.ids_modified_since(since)
        result.new_advisories = len(new_ids)
        if new_ids:
            await self._all_repositories(index, new_ids, result)
        if not result.errors and date > since:
            await self.redis.set(f"{self.prefix}:data-date", date)
        log.info("reaudit.done", new_advisories=len(new_ids), repositories=result.repositories,
                 runs=len(result.runs), errors=len(result.errors))
        return result

    async def _all_repositories(self, index: Any, new_ids: set[str], result: ReauditResult) -> None:
        async for installation in fleet.installations(self.github.app):
            inst = self.github.installation(int(installation.id))
            upload = can_upload(installation)
            async with inst:
                async for repo in fleet.repositories(inst):
                    result.repositories += 1
                    owner, name = repo.owner.login, repo.name
                    try:
                        await self._repo(inst, owner, name, str(repo.default_branch), index, new_ids, result,
                                         upload)
                    except Exception as exc:  # one repository's failure must not stop the others
                        result.errors.append(f"{owner}/{name}: {scrub(f'{type(exc).__name__}: {exc}')}")
                        log.warning("reaudit.repo_failed", repo=f"{owner}/{name}", error=result.errors[-1])

    async def _repo(self, inst: Any, owner: str, repo: str, branch: str, index: Any, new_ids: set[str],
                    result: ReauditResult, upload: bool = False) -> None:
        commit = (await inst.rest.repos.async_get_commit(owner, repo, branch)).parsed_data
        head = str(commit.sha)
        files = await self._dependency_files(inst, owner, repo, head)
        if not files:
            return
        memory = f"{self.prefix}:reported:{owner}/{repo}".lower()
        reported = {k.decode() if isinstance(k, bytes) else str(k) for k in await self.redis.smembers(memory)}
        runs = CheckRuns(inst, owner, repo, app_id=self.settings.app_id)
        listed = await inst.rest.checks.async_list_for_ref(owner, repo, head, check_name=run_name(CHECK),
                                                           filter_="all")
        for run in listed.parsed_data.check_runs:
            reported |= keys_in_text(getattr(run.output, "text", None))
        found = new_matches(files, index, new_ids, reported)
        if not found.findings:
            return
        report = report_for_result(
            CheckResult(check=CHECK, title="Dependencies", findings=found.findings,
                        files_scanned=len(files)),
            fail_on=Severity.HIGH, blob_base=f"{self._html(owner, repo)}/blob/{head}",
            policy_source="defaults (re-audit of the default branch)")
        count = len(found.findings)
        report = dataclasses.replace(
            report, title=f"Re-audit: {count} package{'s' * (count != 1)} newly affected by advisories",
            summary=(f"New advisories ({index.meta.line()}) affect dependencies on `{branch}`. Only matches "
                     f"not reported before are listed.\n\n{report.summary}"),
            text=(report.text + "\n\n" if report.text else "") + marker(found.keys))
        await create_completed(runs, head, 0, report)
        await self.redis.sadd(memory, *found.keys)
        result.runs.append(f"{owner}/{repo}@{head}")
        log.info("reaudit.reported", repo=f"{owner}/{repo}", head=head, packages=count)
        if upload and await upload_sarif(inst, owner, repo, branch, head, found.standing) is not None:
            result.sarif_uploads.append(f"{owner}/{repo}@{head}")

    def _html(self, owner: str, repo: str) -> str:
        api = str(self.settings.api_url).rstrip("/")
        host = "https://github.com" if api == "https://api.github.com" else api.removesuffix("/api/v3")
        return f"{host}/{owner}/{repo}"

    async def _dependency_files(self, inst: Any, owner: str, repo: str, head: str) -> dict[str, Parsed]:
        """The default branch's dependency files, parsed (contents API; symlinks never followed)."""
        fetcher = ContentFetcher(inst, owner, repo, FetchOptions(max_file_bytes=self.settings.max_file_bytes),
                                 FetchStats())
        todo: list[tuple[str, int]] = [("", 0)]
        paths: list[str] = []
        listed = 0
        while todo and listed < MAX_DIRS:
            folder, depth = todo.pop(0)
            listed += 1
            resp = await inst.rest.repos.async_get_content(owner, repo, quote(folder, safe="/"), ref=head)
            items = resp.json()
            for item in items if isinstance(items, list) else ():
                path, kind = str(item.get("path", "")), item.get("type")
                leaf = path.rsplit("/", 1)[-1]
                if kind == "dir" and depth < MAX_DEPTH and leaf not in SKIP_DIRS and not leaf.startswith("."):
                    todo.append((path, depth + 1))
                elif kind == "file" and source_for(path) is not None:
                    paths.append(path)
        parsed: dict[str, Parsed] = {}
        blobs = await asyncio.gather(*(fetcher.fetch(p, head, None) for p in paths))
        contents = {p: b.data for p, b in zip(paths, blobs, strict=True) if b.data is not None}
        for path, data in contents.items():
            source = source_for(path)
            if source is None:
                continue
            try:
                parsed[path] = source.parse(path, data, contents.get)
            except ParseError as exc:
                log.info("reaudit.unparseable", repo=f"{owner}/{repo}", path=path, error=str(exc)[:200])
        return parsed


class ReauditFeature(PeriodicFeature):
    name = NAME

    def periodic(self, services: Any) -> list[PeriodicTask]:
        interval = getattr(services.settings, "advisory_sync_interval", 0)
        if not interval:
            return []
        auditor = Reauditor(services.settings, services.redis, services.github)

        async def run() -> None:
            await auditor.run()

        return [PeriodicTask(NAME, interval, run, timeout=max(interval, 600.0))]
