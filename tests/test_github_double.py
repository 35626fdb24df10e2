"""The GitHub double behaves like GitHub for githubkit: App and installation credentials, pull requests and
their files, contents and blobs, the manifest flow. Every reply is read through githubkit's own models."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from githubkit import GitHub, UnauthAuthStrategy
from githubkit.cache import MemCacheStrategy
from githubkit.exception import RequestFailed

from tests.conftest import FIXTURES
from tests.github_double import GitHubDouble
from tests.github_double.auth import AppIdentity
from tests.github_double.fixtures import github_double  # noqa: F401  (the fixture under test)
from tests.github_double.testing import SAMPLE_REPO as REPO
from tests.github_double.testing import app_client, sample_pr
from tests.github_double.testing import installation_client as installation


@pytest.fixture
def double(github_double: GitHubDouble) -> GitHubDouble:  # noqa: F811
    return github_double


def raw(double: GitHubDouble, token: str) -> httpx.Client:
    return httpx.Client(base_url=double.base_url, headers={"Authorization": f"token {token}"})


# -- identity, App endpoints and tokens ---------------------------------------------------------------------
async def test_app_endpoints_and_token_mint_parse(double: GitHubDouble) -> None:
    d = double
    assert d.base_url.startswith("http://127.0.0.1:") and d.base_url.endswith("/api/v3")
    inst_id, _ = sample_pr(d)
    gh = app_client(d)
    async with gh:
        app = (await gh.rest.apps.async_get_authenticated()).parsed_data
        assert app is not None and app.id == d.app_id and app.slug == d.app_slug
        found = (await gh.rest.apps.async_get_repo_installation("octo", "repo")).parsed_data
        assert found.id == inst_id and found.app_id == d.app_id
        minted = (await gh.rest.apps.async_create_installation_access_token(inst_id)).parsed_data
        expires = datetime.strptime(minted.expires_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert minted.token.startswith("ghs_")
        assert timedelta(minutes=59) < expires - datetime.now(UTC) <= timedelta(hours=1)
    async with installation(d, inst_id) as inst:
        repo = (await inst.rest.repos.async_get("octo", "repo")).parsed_data
        await inst.rest.repos.async_get("octo", "repo")
        assert repo.full_name == REPO and repo.default_branch == "main"
    assert d.token_mints == 2  # one explicit, one by githubkit's installation flow (then cached)
    assert [r.path for r in d.requests("POST")] == [f"/app/installations/{inst_id}/access_tokens"] * 2


def test_jwt_rules(double: GitHubDouble) -> None:
    d = double
    now = int(time.time())
    key = d.private_key_pem
    other_key = AppIdentity.generate(1).private_key_pem

    def int_iss(lifetime: int) -> str:  # pyjwt only encodes a string `iss`; GitHub accepts a number too
        claims = {"iss": d.app_id, "iat": now - 60, "exp": now - 60 + lifetime}
        return jwt.api_jws.encode(json.dumps(claims).encode(), key, "RS256")

    def status(token: str) -> int:
        return httpx.get(f"{d.base_url}/app", headers={"Authorization": f"Bearer {token}"}).status_code

    iss = str(d.app_id)
    assert status(int_iss(600)) == 200
    assert status(jwt.encode({"iss": iss, "iat": now - 60, "exp": now + 540}, key, "RS256")) == 200
    assert status(jwt.encode({"iss": iss, "iat": now - 60, "exp": now + 540}, other_key, "RS256")) == 401
    assert (
        status(jwt.encode({"iss": str(d.app_id + 1), "iat": now - 60, "exp": now + 540}, key, "RS256")) == 401
    )
    assert status(jwt.encode({"iss": iss, "iat": now - 700, "exp": now - 10}, key, "RS256")) == 401
    assert status(int_iss(601)) == 401  # more than 10 minutes
    assert status("not-a-jwt") == 401
    reply = httpx.get(f"{d.base_url}/app")
    assert reply.status_code == 401
    assert set(reply.json()) >= {"message", "documentation_url"}


def test_installation_token_rules(double: GitHubDouble) -> None:
    d = double
    inst_id, pr = sample_pr(d)
    other = d.add_installation("elsewhere")
    d.add_repo("elsewhere/repo", installation_id=other)
    token = d.mint_token(inst_id)
    with raw(d, token) as client:
        assert client.get("/repos/octo/repo").status_code == 200
        assert client.get("/repos/elsewhere/repo").status_code == 404  # not this installation's
        assert client.get("/app").status_code == 401  # an installation token is no JWT
    jwt_only = httpx.get(f"{d.base_url}/repos/octo/repo", headers={"Authorization": f"Bearer {d.app_jwt()}"})
    assert jwt_only.status_code == 401 and jwt_only.json()["message"] == "Bad credentials"
    assert httpx.get(f"{d.base_url}/repos/octo/repo/pulls/{pr.number}").status_code == 401
    d.revoke_all_tokens()
    with raw(d, token) as client:
        assert client.get("/repos/octo/repo").json()["message"] == "Bad credentials"
    fresh = d.mint_token(inst_id)
    d.expire_all_tokens()
    with raw(d, fresh) as client:
        assert client.get("/repos/octo/repo").status_code == 401


async def test_short_lived_tokens_and_refresh_after_401(double: GitHubDouble) -> None:
    d = double
    inst_id, _ = sample_pr(d)
    d.token_ttl = timedelta(seconds=90)
    gh = app_client(d)
    async with gh:
        minted = (await gh.rest.apps.async_create_installation_access_token(inst_id)).parsed_data
    expires = datetime.strptime(minted.expires_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert timedelta(seconds=80) < expires - datetime.now(UTC) <= timedelta(seconds=90)
    async with installation(d, inst_id) as inst:
        await inst.rest.repos.async_get("octo", "repo")
        d.expire_all_tokens()
        with pytest.raises(RequestFailed) as failed:
            await inst.rest.repos.async_get("octo", "repo")  # githubkit's cache still holds the dead token
        assert failed.value.response.status_code == 401
    async with installation(d, inst_id) as inst:  # a fresh cache mints again
        assert (await inst.rest.repos.async_get("octo", "repo")).status_code == 200
    assert d.token_mints == 3


# -- pull requests, files, contents, blobs ------------------------------------------------------------------
async def test_pull_request_files_statuses_and_patches(double: GitHubDouble) -> None:
    d = double
    inst_id = d.add_installation("octo")
    d.add_repo(REPO, files={"old/name.py": b"print(1)\n", "gone.txt": b"bye\n", "big.txt": b"0\n"})
    d.max_patch_bytes = 10_000
    pr = d.create_pull_request(
        REPO,
        changes={
            "app.py": (b"a = 1\nb = 2\n", b"a = 1\nb = 3\nc = 4"),
            "new.txt": (None, b"hello\n"),
            "gone.txt": (b"bye\n", None),
            "logo.png": (None, b"\x89PNG\r\n\x1a\n\x00\x00binary"),
            "big.txt": (b"0\n", b"".join(b"line %d\n" % i for i in range(5000))),
        },
        renames={"new/name.py": "old/name.py"},
    )
    async with installation(d, inst_id) as inst:
        got = (await inst.rest.pulls.async_get("octo", "repo", pr.number)).parsed_data
        assert (got.head.sha, got.base.sha, got.changed_files) == (pr.head_sha, pr.base_sha, 6)
        files = (await inst.rest.pulls.async_list_files("octo", "repo", pr.number)).parsed_data
        by_name = {f.filename: f for f in files}
        assert {n: f.status for n, f in by_name.items()} == {
            "app.py": "modified", "new.txt": "added", "gone.txt": "removed", "logo.png": "added",
            "big.txt": "modified", "new/name.py": "renamed",
        }  # fmt: skip
        assert by_name["new/name.py"].previous_filename == "old/name.py"
        assert (
            by_name["app.py"].patch
            == "@@ -1,2 +1,3 @@\n a = 1\n-b = 2\n+b = 3\n+c = 4\n\\ No newline at end of file"
        )
        assert (by_name["app.py"].additions, by_name["app.py"].deletions, by_name["app.py"].changes) == (
            2,
            1,
            3,
        )
        assert by_name["new.txt"].patch == "@@ -0,0 +1 @@\n+hello"
        assert not by_name["logo.png"].patch  # binary: no patch
        assert not by_name["big.txt"].patch and by_name["big.txt"].additions == 5000  # too large: no patch
        assert by_name["app.py"].contents_url.startswith(d.base_url)
        prs = await inst.rest.repos.async_list_pull_requests_associated_with_commit(
            "octo", "repo", pr.head_sha
        )
        assert [p.number for p in prs.parsed_data] == [pr.number]
        new_head = d.push(REPO, pr.number, {"app.py": b"fixed\n"})
        files = (await inst.rest.pulls.async_list_files("octo", "repo", pr.number)).parsed_data
        assert next(f for f in files if f.filename == "app.py").patch.endswith("+fixed")
        assert (await inst.rest.pulls.async_get("octo", "repo", pr.number)).parsed_data.head.sha == new_head


async def test_files_pagination_links_and_the_3000_cap(double: GitHubDouble) -> None:
    d = double
    inst_id = d.add_installation("octo")
    d.add_repo(REPO)
    pr = d.create_pull_request(REPO, changes={f"f{i:04}.txt": (None, b"x\n") for i in range(250)})
    async with installation(d, inst_id) as inst:
        first = await inst.rest.pulls.async_list_files("octo", "repo", pr.number, per_page=100)
        link = first.headers["link"]
        assert (
            f'<{d.base_url}/repos/octo/repo/pulls/{pr.number}/files?per_page=100&page=2>; rel="next"' in link
        )
        assert 'page=3>; rel="last"' in link
        names = [
            f.filename
            async for f in inst.rest.paginate(
                inst.rest.pulls.async_list_files,
                owner="octo",
                repo="repo",
                pull_number=pr.number,
                per_page=100,
            )
        ]
        assert names == [f"f{i:04}.txt" for i in range(250)]
        assert [r.query for r in d.requests("GET", r"/files$")][1:] == [
            "per_page=100", "per_page=100&page=2", "per_page=100&page=3",
        ]  # fmt: skip
        huge = d.create_pull_request(
            REPO, head="huge", changes={f"h{i:04}": (None, b"") for i in range(3005)}
        )
        last = await inst.rest.pulls.async_list_files("octo", "repo", huge.number, per_page=100, page=30)
        assert len(last.parsed_data) == 100 and "next" not in last.headers.get("link", "")
        assert (
            await inst.rest.pulls.async_list_files("octo", "repo", huge.number, page=101)
        ).parsed_data == []


async def test_trees_give_the_file_list_and_base_edits_stay_out_of_it(double: GitHubDouble) -> None:
    d = double
    inst_id = d.add_installation("octo")
    d.add_repo(REPO, files={"keep.txt": b"k\n"})
    pr = d.create_pull_request(
        REPO,
        base_tree={"a.txt": b"1\n", "b.txt": b"2\n", "same.txt": b"s\n"},
        head_tree={"a.txt": b"1\n1\n", "c.txt": b"3\n", "same.txt": b"s\n"},
    )
    d.set_content(REPO, ".github/prguard.yml", b"checks: {}\n", ref="main")  # on the base, after the PR
    async with installation(d, inst_id) as inst:
        files = (await inst.rest.pulls.async_list_files("octo", "repo", pr.number)).parsed_data
        assert [(f.filename, f.status) for f in files] == [("a.txt", "modified"), ("b.txt", "removed"),
                                                            ("c.txt", "added")]  # fmt: skip
        policy = await inst.rest.repos.async_get_content(
            "octo", "repo", ".github/prguard.yml", ref=pr.base_sha
        )
        assert base64.b64decode(policy.parsed_data.content) == b"checks: {}\n"
        with pytest.raises(RequestFailed) as absent:
            await inst.rest.repos.async_get_content("octo", "repo", "keep.txt", ref=pr.base_sha)
        assert absent.value.response.status_code == 404  # base_tree is the whole base


async def test_contents_blobs_and_refs(double: GitHubDouble) -> None:
    d = double
    inst_id, pr = sample_pr(d, **{"assets/model.bin": (None, b"\x00" * (1024 * 1024 + 1))})
    d.set_content(REPO, ".github/prguard.yml", "fail_on: high\n", ref="main")
    async with installation(d, inst_id) as inst:
        policy = await inst.rest.repos.async_get_content("octo", "repo", ".github/prguard.yml", ref="main")
        assert policy.parsed_data.encoding == "base64"
        assert base64.b64decode(policy.parsed_data.content) == b"fail_on: high\n"
        head_app = (
            await inst.rest.repos.async_get_content("octo", "repo", "app.py", ref=pr.head_sha)
        ).parsed_data
        assert base64.b64decode(head_app.content) == b"a = 1\ntoken = 'x'\n"
        base_app = (
            await inst.rest.repos.async_get_content("octo", "repo", "app.py", ref=pr.base_sha)
        ).parsed_data
        assert base64.b64decode(base_app.content) == b"a = 1\n"
        big = await inst.rest.repos.async_get_content("octo", "repo", "assets/model.bin", ref=pr.head_sha)
        assert (big.parsed_data.content, big.parsed_data.encoding, big.parsed_data.size) == (
            "",
            "none",
            1048577,
        )
        raw_big = await inst.arequest(
            "GET", f"/repos/octo/repo/contents/assets/model.bin?ref={pr.head_sha}",
            headers={"Accept": "application/vnd.github.raw+json"},
        )  # fmt: skip
        assert raw_big.content == b"\x00" * 1048577
        listing = (await inst.rest.repos.async_get_content("octo", "repo", "src", ref="main")).parsed_data
        assert [(item.type, item.path) for item in listing] == [("file", "src/keep.py")]
        root = (await inst.rest.repos.async_get_content("octo", "repo", "", ref=pr.head_sha)).parsed_data
        assert {item.name for item in root} >= {"assets", "app.py", "src", ".github"}
        with pytest.raises(RequestFailed) as absent:
            await inst.rest.repos.async_get_content("octo", "repo", "app.py", ref="nope")
        assert absent.value.response.status_code == 404
        with pytest.raises(RequestFailed) as absent:
            await inst.rest.repos.async_get_content("octo", "repo", "assets/model.bin", ref=pr.base_sha)
        assert absent.value.response.status_code == 404
        blob = (await inst.rest.git.async_get_blob("octo", "repo", head_app.sha)).parsed_data
        assert base64.b64decode(blob.content) == b"a = 1\ntoken = 'x'\n" and blob.size == 18


# -- manifest flow ------------------------------------------------------------------------------------------
async def test_manifest_conversion_once(double: GitHubDouble) -> None:
    d = double
    d.register_manifest_code("abc123")
    gh = GitHub(
        UnauthAuthStrategy(), base_url=d.base_url, auto_retry=False, cache_strategy=MemCacheStrategy()
    )
    async with gh:
        app = (await gh.rest.apps.async_create_from_manifest("abc123")).parsed_data
        assert (app.id, app.pem, app.webhook_secret) == (d.app_id, d.private_key_pem, d.webhook_secret)
        assert app.client_secret
        with pytest.raises(RequestFailed) as again:
            await gh.rest.apps.async_create_from_manifest("abc123")
        assert again.value.response.status_code == 404


def test_real_payloads_fitted_to_the_double(double: GitHubDouble) -> None:
    inst_id, pr = sample_pr(double)
    opened = json.loads((FIXTURES / "pull_request" / "opened.payload.json").read_bytes())
    fitted = double.fit_event(opened, REPO, number=pr.number)
    assert fitted["installation"]["id"] == inst_id and fitted["repository"]["full_name"] == REPO
    assert (fitted["number"], fitted["pull_request"]["head"]["sha"]) == (pr.number, pr.head_sha)
    assert fitted["pull_request"]["base"]["sha"] == pr.base_sha and set(fitted) == set(opened)
    suite = json.loads((FIXTURES / "check_suite" / "requested.payload.json").read_bytes())
    fork = double.fit_event(suite, REPO, head_sha=pr.head_sha)
    assert (fork["check_suite"]["head_sha"], fork["check_suite"]["pull_requests"]) == (pr.head_sha, [])
    rerun = json.loads((FIXTURES / "check_run" / "rerequested.payload.json").read_bytes())
    fitted_run = double.fit_event(rerun, REPO, number=pr.number)
    assert [p["number"] for p in fitted_run["check_run"]["pull_requests"]] == [pr.number]
    assert fitted_run["check_run"]["check_suite"]["head_sha"] == pr.head_sha


def test_webhook_headers_are_signed_with_the_app_secret(double: GitHubDouble) -> None:
    body = b'{"action": "opened"}'
    headers = double.webhook_headers("pull_request", body, delivery="d-1")
    expected = hmac.new(double.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Hub-Signature-256"] == f"sha256={expected}"
    assert (headers["X-GitHub-Event"], headers["X-GitHub-Delivery"]) == ("pull_request", "d-1")
