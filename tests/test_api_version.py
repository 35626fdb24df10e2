"""GITHUB_API_VERSION: the REST API version prguard speaks, and a GitHub that only knows some versions.

A GitHub Enterprise Server older than a REST API version answers 400 to it. githubkit sends its newest
(2026-03-10) unless told otherwise, so against the double restricted to 2022-11-28 (like a GHES) every
request prguard sends — namespace calls, pagination's next pages, the installation-token mint — must carry
the configured version, and every reply must parse with that version's models.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.github.client import GitHubApp, GitHubOptions, VersionedGitHub
from bot.github.pull_change import list_pr_files
from bot.settings import ConfigError, Settings, load_settings
from tests.e2e_stack import Stack, pr_payload
from tests.github_double.double import GitHubDouble
from tests.secrets_keys import github_token

ROOT = Path(__file__).resolve().parents[1]
OLD, NEW = "2022-11-28", "2026-03-10"
GHES = "https://ghe.example.com/api/v3"



@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """No prguard variable set and a working directory without `.env`."""
    for field in Settings.model_fields.values():
        monkeypatch.delenv(str(field.validation_alias.choices[0]), raising=False)  # type: ignore[union-attr]
    monkeypatch.chdir(tmp_path)
    yield tmp_path


# --- settings ---------------------------------------------------------------------------------------------

def test_the_default_version_follows_the_api_url(clean_env: Path) -> None:
    assert load_settings("any").api_version == NEW  # api.github.com
    assert load_settings("any", api_url="https://api.github.com/").api_version == NEW
    assert load_settings("any", api_url=GHES).api_version == OLD  # any GHES >= 3.9 knows it
    assert load_settings("any", api_url="http://127.0.0.1:8080/api/v3").api_version == OLD


def test_an_explicit_version_wins_over_the_url(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_API_URL", GHES)
    monkeypatch.setenv("GITHUB_API_VERSION", NEW)  # a GHES recent enough for it
    assert load_settings("any").api_version == NEW
    monkeypatch.setenv("GITHUB_API_URL", "https://api.github.com")
    monkeypatch.setenv("GITHUB_API_VERSION", OLD)
    assert load_settings("any").api_version == OLD
    monkeypatch.setenv("GITHUB_API_VERSION", "")  # empty counts as unset
    assert load_settings("any").api_version == NEW


@pytest.mark.parametrize("value", ["2023-01-01", "latest", "v3", "ghec-2022-11-28"])
def test_an_unknown_version_is_one_line_naming_the_variable(clean_env: Path, value: str) -> None:
    with pytest.raises(ConfigError, match=r"^GITHUB_API_VERSION must be one of 2022-11-28, 2026-03-10$"):
        load_settings("any", api_version=value)


def test_a_bad_version_stops_the_worker_with_exit_2(tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "GITHUB_APP_ID": "1",
           "GITHUB_API_VERSION": "2099-01-01"}
    result = subprocess.run([sys.executable, "-m", "bot.cli.main", "worker"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=30)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == ("prguard: configuration error: GITHUB_API_VERSION must be one of "
                             "2022-11-28, 2026-03-10\n")


def test_client_options_take_the_version_from_settings(clean_env: Path) -> None:
    settings = load_settings("any", app_id=1, api_url=GHES)
    assert GitHubOptions.from_settings(settings).api_version == OLD
    settings = load_settings("any", app_id=1, api_url=GHES, api_version=NEW)
    assert GitHubOptions.from_settings(settings).api_version == NEW
    assert GitHubOptions(app_id=1, private_key="").api_version == NEW
    with pytest.raises(ValueError, match="2021-01-01"):
        GitHubOptions(app_id=1, private_key="", api_version="2021-01-01")


# --- the double as an old GHES ----------------------------------------------------------------------------

def test_the_double_refuses_versions_it_does_not_know_with_githubs_400(github_double: GitHubDouble) -> None:
    github_double.api_versions = frozenset({OLD})
    url = f"{github_double.base_url}/app"
    auth = {"Authorization": f"Bearer {github_double.app_jwt()}"}
    with httpx.Client(timeout=10) as http:
        refused = http.get(url, headers={**auth, "X-GitHub-Api-Version": NEW})
        pinned = http.get(url, headers={**auth, "X-GitHub-Api-Version": OLD})
        bare = http.get(url, headers=auth)  # no header: GitHub's default, 2022-11-28
    assert refused.status_code == 400
    assert refused.json()["message"] == "Bad Request"
    assert f'request header, "{NEW}", is not a supported version' in refused.json()["errors"]
    assert '"2022-11-28" (most recent)' in refused.json()["errors"]
    assert (pinned.status_code, bare.status_code) == (200, 200)
    assert pinned.headers["x-github-api-version-selected"] == OLD
    assert [(r.status, r.api_version) for r in github_double.requests(path_regex="^/app$")] == [
        (400, NEW), (200, OLD), (200, None)
    ]


# --- the client -------------------------------------------------------------------------------------------

def _app(double: GitHubDouble, version: str | None = None) -> GitHubApp:
    return GitHubApp(GitHubOptions(app_id=double.app_id, private_key=double.private_key_pem,
                                   api_url=double.base_url, server_error_delays=(0.05,),
                                   api_version=version))


def test_with_auth_keeps_the_pinned_version(github_double: GitHubDouble) -> None:
    app = _app(github_double, NEW)
    inst = app.installation(1)
    assert isinstance(inst, VersionedGitHub) and inst.api_version == NEW
    assert type(inst.rest.checks).__module__.startswith("githubkit_schemas.v2026_03_10.")
    inst = _app(github_double).installation(1)  # the double's URL is not github.com
    assert inst.api_version == OLD
    assert type(inst.rest.checks).__module__.startswith("githubkit_schemas.v2022_11_28.")


async def test_every_read_parses_with_the_2022_11_28_models_and_carries_its_header(
    github_double: GitHubDouble,
) -> None:
    """Each kind of call prguard makes, against a double that knows only 2022-11-28."""
    d = github_double
    d.api_versions = frozenset({OLD})
    inst_id = d.add_installation("octo")
    d.add_repo("octo/repo", installation_id=inst_id, files={"README.md": b"hello\n"})
    many = {f"f/{i:03}.txt": (None, b"x\n") for i in range(120)}  # two pages of PR files
    pr = d.create_pull_request("octo/repo", changes={**many, "app.py": (None, b"token = 1\n")})
    gh = _app(d).installation(inst_id)
    async with gh:
        rest = gh.rest
        pull = (await rest.pulls.async_get("octo", "repo", pr.number)).parsed_data
        assert (pull.head.sha, pull.base.sha, type(pull).__module__.split(".")[1]) == (
            pr.head_sha, pr.base_sha, "v2022_11_28")
        files = await list_pr_files(gh, "octo", "repo", pr.number)
        assert len(files) == 121 and "app.py" in {f.filename for f in files}
        content = (await rest.repos.async_get_content("octo", "repo", "app.py", ref=pr.head_sha)).parsed_data
        assert base64.b64decode(getattr(content, "content", "")) == b"token = 1\n"
        blob_sha = getattr(content, "sha", "")
        blob = (await rest.git.async_get_blob("octo", "repo", blob_sha)).parsed_data
        assert base64.b64decode(blob.content) == b"token = 1\n"
        raw = await rest.git.async_get_blob("octo", "repo", blob_sha,
                                            headers={"Accept": "application/vnd.github.raw+json"})
        assert raw.content == b"token = 1\n"
        assoc = await rest.repos.async_list_pull_requests_associated_with_commit("octo", "repo", pr.head_sha)
        assert [p.number for p in assoc.parsed_data] == [pr.number]
        run: Any = (await rest.checks.async_create("octo", "repo", data={
            "name": "prguard/secrets", "head_sha": pr.head_sha, "status": "in_progress"})).parsed_data
        run = (await rest.checks.async_update("octo", "repo", run.id, data={
            "conclusion": "success", "output": {"title": "ok", "summary": "nothing found"}})).parsed_data
        assert (run.status, run.conclusion) == ("completed", "success")
        assert (await rest.checks.async_get("octo", "repo", run.id)).parsed_data.output.title == "ok"
        listed = (await rest.checks.async_list_for_ref("octo", "repo", pr.head_sha)).parsed_data
        assert [r.id for r in listed.check_runs] == [run.id]

    seen = d.requests()
    assert d.token_mints == 1 and any(r.path.endswith("/access_tokens") for r in seen)
    assert len([r for r in seen if r.path.endswith("/files")]) == 2
    assert {(r.api_version, r.status < 400) for r in seen} == {(OLD, True)}


# --- end to end -------------------------------------------------------------------------------------------

def _refused(seen: list[Any]) -> list[tuple[str, str]]:
    """Requests GitHub answered 400 although they arrived whole (a body cut by a dropped connection on a
    loaded machine is a transport error prguard retries, not a request GitHub refuses)."""
    return [(r.method, r.path) for r in seen if r.status == 400 and (r.method == "GET" or r.body is not None)]


async def _secret_pr_checked(double: GitHubDouble, redis_url: str, prefix: str, version: str | None
                             ) -> dict[str, Any]:
    async with Stack(double, redis_url, prefix, api_version=version) as stack:
        inst = stack.repo()
        pr = double.create_pull_request("octo/repo", changes={
            "app/settings.py": (b"import os\n", b"import os\nTOKEN = '%s'\n" % github_token().encode()),
        })
        assert (await stack.deliver("pull_request", pr_payload(pr, inst))).status_code == 202
        return await stack.completed(pr.head_sha)


async def test_a_ghes_that_knows_only_2022_11_28_gets_its_four_check_runs(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    github_double.api_versions = frozenset({OLD})
    # no explicit version: the default for a URL that is not api.github.com
    runs = await _secret_pr_checked(github_double, redis_url, redis_prefix, None)
    assert runs["prguard/secrets"].conclusion == "failure"
    assert [a["start_line"] for a in runs["prguard/secrets"].annotations] == [2]
    assert all(r.status == "completed" for r in runs.values())
    seen = github_double.requests()
    assert any(r.path.endswith("/access_tokens") for r in seen)
    assert {r.api_version for r in seen} == {OLD}
    assert _refused(seen) == []  # (a missing policy file is a 404)


async def test_a_github_that_knows_only_2026_03_10_works_when_configured_for_it(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    github_double.api_versions = frozenset({NEW})  # a request without the header would be 2022-11-28: 400
    runs = await _secret_pr_checked(github_double, redis_url, redis_prefix, NEW)
    assert runs["prguard/secrets"].conclusion == "failure"
    assert all(r.status == "completed" for r in runs.values())
    seen = github_double.requests()
    assert any(r.path.endswith("/access_tokens") for r in seen)
    assert {r.api_version for r in seen} == {NEW}
    assert _refused(seen) == []  # (a missing policy file is a 404)


def _worker_against(double: GitHubDouble, redis_url: str, prefix: str, **env: str
                    ) -> subprocess.CompletedProcess[str]:
    """`prguard worker` pointed at the double, run until it stops by itself (or 30 s)."""
    base = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT),
            "GITHUB_APP_ID": str(double.app_id), "GITHUB_PRIVATE_KEY": double.private_key_pem,
            "GITHUB_API_URL": double.base_url, "REDIS_URL": redis_url, "PRGUARD_REDIS_PREFIX": prefix}
    return subprocess.run([sys.executable, "-m", "bot.cli.main", "worker", "--concurrency", "1"],
                          env={**base, **env}, capture_output=True, text=True, timeout=30)


def test_a_worker_whose_api_version_github_refuses_stops_at_once_naming_it(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    github_double.api_versions = {"2026-03-10"}  # a server that does not know the default for its URL
    done = _worker_against(github_double, redis_url, redis_prefix)
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("prguard: configuration error: GITHUB_API_VERSION 2022-11-28 is not supported")


def test_a_worker_whose_app_github_refuses_stops_at_once_naming_the_settings(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    done = _worker_against(github_double, redis_url, redis_prefix, GITHUB_APP_ID="999999")
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert "GITHUB_APP_ID 999999 or GITHUB_PRIVATE_KEY was refused" in last
    assert github_double.private_key_pem.splitlines()[1] not in done.stderr
