"""Opt-in online lookups (pip-audit's OSV service): nothing is asked unless the operator sets PRGUARD_OSV_URL
and the repository's policy sets `online: true`; then an advisory only the service knows is reported, and
an unreachable service is reported as such, never as clean. The service is a real HTTP server on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.dep_support import index_fixture, osv
from tests.gitrepo import GitRepo
from tests.scanning import scan_json

index_dir = index_fixture()
ONLINE_ONLY = osv("GHSA-online-0001", "PyPI", "idna", [{"introduced": "0"}, {"fixed": "3.8"}],
                  aliases=["CVE-2099-7777"], summary="Only the online service knows this one")
POLICY = "checks:\n  dependencies:\n    online: true\n"


class Osv:
    def __init__(self) -> None:
        self.queries: list[dict[str, Any]] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                service.queries.append(query)
                hit = query["package"]["name"] == "idna" and query["version"] == "3.7"
                body = json.dumps({"vulns": [ONLINE_ONLY]} if hit else {}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/query"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def service(index_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Osv]:
    monkeypatch.setenv("PRGUARD_ADVISORY_DIR", str(index_dir))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # pip-audit's HTTP cache
    osv_service = Osv()
    yield osv_service
    osv_service.server.shutdown()
    osv_service.server.server_close()


def _pr(tmp_path: Path, policy: str) -> GitRepo:
    repo = GitRepo.on_feature_branch(tmp_path / "repo", {".github/prguard.yml": policy,
                                                         "requirements.txt": "certifi==2024.8.30\n"})
    repo.commit({"requirements.txt": "certifi==2024.8.30\nidna==3.7\n"}, "add idna")
    return repo


def test_online_lookup_reports_what_only_the_service_knows(tmp_path: Path, capsys, service: Osv,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRGUARD_OSV_URL", service.url)
    _, report, err = scan_json(capsys, _pr(tmp_path, POLICY), "--head", "HEAD")
    [finding] = [f for f in report["findings"] if f["check"] == "dependencies"]
    # pip-audit names an advisory by its CVE alias when it has one
    assert finding["metadata"]["advisories"] == ["CVE-2099-7777"]
    assert "GHSA-online-0001" in finding["metadata"]["aliases"]
    assert finding["metadata"]["upgrade"] == "3.8" and finding["line"] == 2
    assert [q["package"]["name"] for q in service.queries] == ["idna"]  # only what the PR added
    assert "online lookups: 1 PyPI package versions asked" in err


def test_nothing_leaves_the_machine_without_both_opt_ins(tmp_path: Path, capsys, service: Osv,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    _, report, err = scan_json(capsys, _pr(tmp_path / "a", POLICY), "--head", "HEAD")  # no PRGUARD_OSV_URL
    assert [f for f in report["findings"] if f["check"] == "dependencies"] == []
    assert "PRGUARD_OSV_URL is not set" in err
    monkeypatch.setenv("PRGUARD_OSV_URL", service.url)
    # the operator allows it, the repository's policy does not ask for it
    _, report, _ = scan_json(capsys, _pr(tmp_path / "b", "fail_on: high\n"), "--head", "HEAD")
    assert [f for f in report["findings"] if f["check"] == "dependencies"] == []
    assert service.queries == []


def test_unreachable_service_is_could_not_check(tmp_path: Path, capsys, service: Osv,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRGUARD_OSV_URL", "http://127.0.0.1:9/v1/query")
    _, report, _ = scan_json(capsys, _pr(tmp_path, POLICY), "--head", "HEAD")
    [finding] = [f for f in report["findings"] if f["check"] == "dependencies"]
    assert finding["rule_id"] == "dependencies/could-not-check"
    assert "online OSV lookup failed" in finding["message"]
