"""Continuous re-audit against the GitHub double and a real Redis: a new advisory for a package on a
repository's default branch produces one `prguard/dependencies` run on its head; a sync with nothing new
produces none; a lost Redis does not repeat a report (what was reported is read back from GitHub)."""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import Redis

from bot.features.reaudit import ReauditFeature, Reauditor
from bot.github.client import GitHubApp, GitHubOptions
from bot.runtime.scheduler import Scheduler
from bot.settings import load_settings
from tests.dep_support import line_of, lock_v3, osv, package_json, write_records
from tests.github_double.double import GitHubDouble

LOCK = lock_v3("shop", {"mkdirp": "^0.5.5"}, {"mkdirp": ("0.5.5", {"minimist": "^1.2.5"}),
                                             "minimist": ("1.2.5", {})})
FILES = {
    "README.md": b"shop\n",
    "package.json": package_json("shop", {"mkdirp": "^0.5.5"}).encode(),
    "package-lock.json": LOCK.encode(),
    "services/api/requirements.txt": b"idna==3.7\n",
}
OLD = osv("GHSA-old-0001", "PyPI", "idna", [{"introduced": "0"}, {"fixed": "3.7"}],
          modified="2026-01-01T00:00:00Z")
NEW = osv("GHSA-new-0001", "npm", "minimist", [{"introduced": "0"}, {"fixed": "1.2.6"}], kind="SEMVER",
          summary="Prototype pollution in minimist", modified="2026-06-01T00:00:00Z",
          severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}])
UNRELATED = osv("GHSA-new-0002", "npm", "lodash", [{"introduced": "0"}, {"fixed": "4.17.21"}],
                modified="2026-06-02T00:00:00Z")


async def test_new_advisory_gives_one_run_on_the_default_branch_head(
        github_double: GitHubDouble, redis_url: str, redis_prefix: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PRGUARD_ADVISORY_DIR", str(tmp_path / "index"))  # as a worker's environment sets it
    d = github_double
    inst = d.add_installation("octo")
    d.add_repo("octo/shop", installation_id=inst, files=FILES)
    d.add_repo("octo/docs", installation_id=inst, files={"README.md": b"docs\n"})
    head = d.add_commit("octo/shop", {"CHANGELOG.md": b"1.0\n"}, parent="main", branch="main")
    settings = load_settings("any", app_id=d.app_id, private_key=d.private_key_pem, api_url=d.base_url,
                             redis_url=redis_url, redis_prefix=redis_prefix, advisory_sync_interval=60.0,
                             advisory_mirror=str(tmp_path / "mirror"))
    github = GitHubApp(GitHubOptions(app_id=d.app_id, private_key=d.private_key_pem, api_url=d.base_url,
                                     server_error_delays=(0.05,), api_version=settings.api_version))
    redis = Redis.from_url(redis_url)
    mirror = write_records(tmp_path / "mirror", [OLD])
    try:
        # pass 1, through the worker's scheduler: the first sync only records the data date
        services = type("S", (), {"settings": settings, "redis": redis, "github": github, "queue": None})()
        tasks = ReauditFeature().periodic(services)
        assert [t.name for t in tasks] == ["reaudit"]
        assert await Scheduler(redis, tasks, holder="w1", prefix=redis_prefix).run_due() == ["reaudit"]
        assert d.check_runs("octo/shop", head) == []

        auditor = Reauditor(settings, redis, github)
        # pass 2: the mirror now has an advisory for minimist 1.2.5 (transitive, on the default branch)
        write_records(mirror, [NEW])
        result = await auditor.run()
        assert result.synced and result.new_advisories == 1 and result.errors == []
        [run] = d.check_runs("octo/shop", head, "prguard/dependencies")
        assert run.status == "completed" and run.conclusion == "failure"
        assert run.title == "Re-audit: 1 package newly affected by advisories"
        assert "advisory data: OSV from" in run.summary and "minimist 1.2.5" in run.summary
        newest = "newest record 2026-06-01T00:00:00Z."
        assert f"Advisory data: OSV from {mirror.resolve()}, {newest}" in run.summary  # bot/github/render.py
        [note] = run.annotations
        assert "GHSA-new-0001" in note["message"] and "Upgrade minimist to 1.2.6" in note["message"]
        assert note["path"] == "package-lock.json"
        assert note["start_line"] == line_of(LOCK, '"node_modules/minimist"')
        assert "minimist 1.2.5 ← mkdirp" in note["message"]
        assert d.check_runs("octo/docs", d.state.repos["octo/docs"].resolve("main")) == []

        # pass 3: a sync with nothing new affecting the repository: no run
        write_records(mirror, [UNRELATED])
        assert (await auditor.run()).new_advisories == 1
        assert len(d.check_runs("octo/shop", head, "prguard/dependencies")) == 1
        assert (await auditor.run()).new_advisories == 0
        assert len(d.check_runs("octo/shop", head, "prguard/dependencies")) == 1

        # Redis loses what was reported and the advisory is revised: GitHub still says it was reported
        await redis.delete(f"{redis_prefix}:reaudit:reported:octo/shop")
        write_records(mirror, [{**NEW, "modified": "2026-07-01T00:00:00Z", "summary": "revised"}])
        assert (await auditor.run()).new_advisories == 1
        assert len(d.check_runs("octo/shop", head, "prguard/dependencies")) == 1
    finally:
        await redis.aclose()
