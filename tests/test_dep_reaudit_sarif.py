"""The re-audit's SARIF upload to code scanning, against the GitHub double: made only for an installation the
operator granted `security_events: write`, only when a pass posts a run, valid SARIF 2.1.0 naming the newly
affected package (and still listing what earlier passes reported, so code scanning does not close those
alerts as fixed); a rejected upload leaves the posted run alone."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema
from redis.asyncio import Redis

from bot.features.reaudit import Reauditor
from bot.github.client import GitHubApp, GitHubOptions
from bot.settings import load_settings
from tests.dep_support import line_of, lock_v3, osv, package_json, write_records
from tests.github_double.double import GitHubDouble
from tests.github_double.routes_code_scanning import uploads
from tests.github_double.shapes import PERMISSIONS

SCHEMA = json.loads((Path(__file__).parent / "fixtures" / "schemas" / "sarif-schema-2.1.0.json").read_text())
LOCK = lock_v3("shop", {"mkdirp": "^0.5.5"}, {"mkdirp": ("0.5.5", {"minimist": "^1.2.5"}),
                                             "minimist": ("1.2.5", {})})
FILES = {
    "package.json": package_json("shop", {"mkdirp": "^0.5.5"}).encode(),
    "package-lock.json": LOCK.encode(),
    "services/api/requirements.txt": b"idna==3.7\n",
}
OLD = osv("GHSA-old-0001", "PyPI", "idna", [{"introduced": "0"}, {"fixed": "3.7"}],
          modified="2026-01-01T00:00:00Z")
MINIMIST = osv("GHSA-new-0001", "npm", "minimist", [{"introduced": "0"}, {"fixed": "1.2.6"}], kind="SEMVER",
               summary="Prototype pollution in minimist", modified="2026-06-01T00:00:00Z",
               severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}])
LODASH = osv("GHSA-new-0002", "npm", "lodash", [{"introduced": "0"}, {"fixed": "4.17.21"}],
             modified="2026-06-02T00:00:00Z")
IDNA = osv("PYSEC-new-0003", "PyPI", "idna", [{"introduced": "0"}, {"fixed": "3.8"}],
           summary="Denial of service in idna", modified="2026-06-03T00:00:00Z")
MKDIRP = osv("GHSA-new-0004", "npm", "mkdirp", [{"introduced": "0"}, {"fixed": "0.5.6"}], kind="SEMVER",
             modified="2026-06-04T00:00:00Z")


def _packages(sarif: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each result by the package its message names first ("minimist 1.2.5 (npm, …) is affected by: …")."""
    return {r["message"]["text"].split(" ", 1)[0]: r for r in sarif["runs"][0]["results"]}


async def test_sarif_upload_only_when_granted_and_only_with_a_new_run(
        github_double: GitHubDouble, redis_url: str, redis_prefix: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PRGUARD_ADVISORY_DIR", str(tmp_path / "index"))
    d = github_double
    granted, plain = d.add_installation("octo"), d.add_installation("acme")
    with d.state.lock:
        d.state.installations[granted].permissions = {**PERMISSIONS, "security_events": "write"}
    d.add_repo("octo/shop", installation_id=granted, files=FILES)
    d.add_repo("acme/shop", installation_id=plain, files=FILES)
    head = d.add_commit("octo/shop", {"CHANGELOG.md": b"1.0\n"}, parent="main", branch="main")
    other = d.state.repos["acme/shop"].resolve("main")
    settings = load_settings("any", app_id=d.app_id, private_key=d.private_key_pem, api_url=d.base_url,
                             redis_url=redis_url, redis_prefix=redis_prefix, advisory_sync_interval=60.0,
                             advisory_mirror=str(tmp_path / "mirror"))
    github = GitHubApp(GitHubOptions(app_id=d.app_id, private_key=d.private_key_pem, api_url=d.base_url,
                                     server_error_delays=(0.05,), api_version=settings.api_version))
    redis = Redis.from_url(redis_url)
    mirror = write_records(tmp_path / "mirror", [OLD])
    auditor = Reauditor(settings, redis, github)
    try:
        await auditor.run()  # baseline: records the data date only
        assert uploads(d) == []

        # a new advisory for minimist 1.2.5: a run on both repositories, an upload only where granted
        write_records(mirror, [MINIMIST])
        result = await auditor.run()
        assert result.errors == [] and result.sarif_uploads == [f"octo/shop@{head}"]
        assert len(d.check_runs("octo/shop", head, "prguard/dependencies")) == 1
        assert len(d.check_runs("acme/shop", other, "prguard/dependencies")) == 1
        [upload] = uploads(d)
        assert (upload.repo, upload.commit_sha, upload.ref, upload.tool_name) == (
            "octo/shop", head, "refs/heads/main", "prguard")
        jsonschema.validate(upload.sarif, SCHEMA)  # the double validated it too; checked here on its own
        [run] = upload.sarif["runs"]
        assert run["automationDetails"]["id"] == "prguard/dependencies/"
        assert run["tool"]["driver"]["name"] == "prguard"
        [result_] = run["results"]
        assert result_["ruleId"] == "dependencies/vulnerable" and result_["level"] == "error"
        assert result_["message"]["text"].startswith("minimist 1.2.5 (npm")
        assert "GHSA-new-0001" in result_["message"]["text"]
        [where] = result_["locations"]
        assert where["physicalLocation"]["artifactLocation"]["uri"] == "package-lock.json"
        assert where["physicalLocation"]["region"]["startLine"] == line_of(LOCK, '"node_modules/minimist"')
        [fingerprint] = result_["partialFingerprints"].values()
        assert len(fingerprint) >= 16
        assert d.requests("POST", r"^/repos/acme/shop/code-scanning") == []

        # nothing new for these repositories: no run, no upload
        write_records(mirror, [LODASH])
        assert (await auditor.run()).new_advisories == 1
        assert len(uploads(d)) == 1 and len(d.check_runs("octo/shop", head, "prguard/dependencies")) == 1

        # idna 3.7 newly affected: the upload lists it, and still lists minimist (same fingerprint), since
        # code scanning closes as fixed every alert the latest analysis of the category leaves out
        write_records(mirror, [IDNA])
        assert (await auditor.run()).sarif_uploads == [f"octo/shop@{head}"]
        assert len(d.check_runs("octo/shop", head, "prguard/dependencies")) == 2
        latest = _packages(uploads(d)[-1].sarif)
        assert set(latest) == {"minimist", "idna"}
        assert latest["idna"]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == (
            "services/api/requirements.txt")
        assert latest["minimist"]["partialFingerprints"] == result_["partialFingerprints"]
        jsonschema.validate(uploads(d)[-1].sarif, SCHEMA)

        # GitHub refuses the upload (code scanning off for the repository): the run is posted all the same
        d.faults.add("POST", r"/code-scanning/sarifs$", status=403, times=None, body={
            "message": "Advanced Security must be enabled for this repository to use code scanning."})
        write_records(mirror, [MKDIRP])
        result = await auditor.run()
        assert result.errors == [] and result.sarif_uploads == []
        assert len(d.check_runs("octo/shop", head, "prguard/dependencies")) == 3
        assert len(uploads(d)) == 2
        assert len(d.requests("POST", r"^/repos/octo/shop/code-scanning/sarifs$")) == 3
    finally:
        await redis.aclose()


def test_the_double_refuses_a_sarif_that_is_not_gzip_base64(github_double: GitHubDouble) -> None:
    """The double's own check (so an upload it accepted really was gzip+base64 SARIF)."""
    d = github_double
    inst = d.add_installation("octo")
    with d.state.lock:
        d.state.installations[inst].permissions = {**PERMISSIONS, "security_events": "write"}
    d.add_repo("octo/shop", installation_id=inst, files={"README.md": b"x\n"})
    sha = d.state.repos["octo/shop"].resolve("main")
    url = f"{d.base_url}/repos/octo/shop/code-scanning/sarifs"

    def post(sarif: str) -> httpx.Response:
        return httpx.post(url, headers={"authorization": f"token {d.mint_token(inst)}"},
                          json={"commit_sha": sha, "ref": "refs/heads/main", "sarif": sarif})

    empty = json.dumps({"version": "2.1.0", "runs": []}).encode()
    assert post(base64.b64encode(empty).decode()).status_code == 400  # not gzipped
    invalid = post(base64.b64encode(gzip.compress(json.dumps({"version": "9"}).encode())).decode())
    assert invalid.status_code == 400 and "Invalid SARIF" in invalid.json()["message"]
    good = base64.b64encode(gzip.compress(empty)).decode()
    ok = post(good)
    assert ok.status_code == 202 and ok.json()["id"] == "sarif-1" and len(uploads(d)) == 1
    with d.state.lock:
        d.state.installations[inst].permissions = None  # the double's default: no security_events
    assert post(good).status_code == 403 and len(uploads(d)) == 1
