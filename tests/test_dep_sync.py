"""`prguard advisories sync|status`: from a directory, from zips served on loopback (a real HTTP server), an
interrupted download leaving the old index working, withdrawn records ignored, one ecosystem refreshed."""

from __future__ import annotations

import io
import json
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from checks.dependencies.advisories.store import AdvisoryIndex
from checks.dependencies.audit import match
from checks.dependencies.model import Package
from tests.dep_support import PYPA, osv, sync_cli, write_records

NPM_V1 = [osv("GHSA-npm-0001", "npm", "minimist", [{"introduced": "0"}, {"fixed": "1.2.6"}], kind="SEMVER")]
NPM_V2 = [*NPM_V1, osv("GHSA-npm-0002", "npm", "lodash", [{"introduced": "0"}, {"fixed": "4.17.21"}],
                       kind="SEMVER")]
PYPI_NEW = [osv("GHSA-py-0001", "PyPI", "idna", [{"introduced": "0"}, {"fixed": "3.7"}])]


def _zip(records: list[dict]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for r in records:
            z.writestr(f"{r['id']}.json", json.dumps(r))
    return buf.getvalue()


class Mirror:
    """A loopback HTTP server with OSV's export layout; `truncate` makes it drop the connection mid-body."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.truncate = False
        self.requests: list[str] = []
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                mirror.requests.append(self.path)
                body = mirror.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/zip")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if mirror.truncate else body)
                if mirror.truncate:
                    self.close_connection = True

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Mirror:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def mirror() -> Iterator[Mirror]:
    with Mirror() as m:
        yield m


def _affected(index_dir: Path, ecosystem: str, name: str, version: str) -> list[str]:
    index = AdvisoryIndex(index_dir / "advisories.sqlite")
    try:
        found = match(index, [Package(ecosystem, name, version, "x")])
        return sorted(a.id for m in found.values() for a in m.advisories)
    finally:
        index.close()


def test_sync_from_a_directory_ignores_withdrawn_records(tmp_path: Path, capsys) -> None:
    data = tmp_path / "data"
    write_records(data / "nested" / "deeper", [
        osv("GHSA-wd-0001", "PyPI", "withdrawnpkg", [{"introduced": "0"}], withdrawn="2026-01-02T00:00:00Z"),
        osv("GHSA-live-0001", "PyPI", "livepkg", [{"introduced": "0"}, {"fixed": "2.0"}]),
    ])
    (data / "pypa").symlink_to(PYPA / "vulns", target_is_directory=True)  # symlinks are not followed
    code, out, err = sync_cli(capsys, "sync", "--from", str(data), "--dir", str(tmp_path / "idx"))
    assert code == 0, err
    assert "1 advisories (PyPI 1); 1 withdrawn records ignored" in out
    assert _affected(tmp_path / "idx", "PyPI", "livepkg", "1.5") == ["GHSA-live-0001"]
    assert _affected(tmp_path / "idx", "PyPI", "livepkg", "2.0") == []
    assert _affected(tmp_path / "idx", "PyPI", "withdrawnpkg", "1.0") == []

    code, out, err = sync_cli(capsys, "sync", "--from", str(PYPA), "--dir", str(tmp_path / "idx"))
    assert code == 0 and "124 advisories (PyPI 124); 4 withdrawn records ignored" in out
    # PYSEC-2023-101 (every selenium version) is withdrawn: only the live PYSEC-2023-206 matches
    assert _affected(tmp_path / "idx", "PyPI", "selenium", "3.141.0") == ["PYSEC-2023-206"]
    assert "PYSEC-2019-217" in _affected(tmp_path / "idx", "PyPI", "Jinja2", "2.10")

    code, out, _ = sync_cli(capsys, "status", "--dir", str(tmp_path / "idx"))
    assert code == 0
    assert f"advisory data: OSV from {PYPA.resolve()}, newest record 2024-09-26T21:33:29.480277Z" in out
    assert "PyPI: 124 advisories" in out


def test_sync_from_zips_served_on_loopback_then_one_ecosystem(tmp_path: Path, capsys, mirror: Mirror) -> None:
    mirror.files = {"/npm/all.zip": _zip(NPM_V1), "/PyPI/all.zip": _zip(PYPI_NEW)}
    idx = tmp_path / "idx"
    code, out, err = sync_cli(capsys, "sync", "--from", mirror.url, "--ecosystem", "npm",
                              "--ecosystem", "PyPI", "--dir", str(idx))
    assert code == 0, err
    assert sorted(mirror.requests) == ["/PyPI/all.zip", "/npm/all.zip"]
    assert _affected(idx, "npm", "minimist", "1.2.5") == ["GHSA-npm-0001"]
    assert _affected(idx, "PyPI", "idna", "3.6") == ["GHSA-py-0001"]
    # refreshing npm alone (one zip URL) keeps PyPI, and counts what is new
    mirror.files["/npm-v2.zip"] = _zip(NPM_V2)
    code, out, err = sync_cli(capsys, "sync", "--from", f"{mirror.url}/npm-v2.zip", "--ecosystem", "npm",
                              "--dir", str(idx))
    assert code == 0, err
    assert "1 new or changed since the previous index" in out
    assert _affected(idx, "npm", "lodash", "4.17.20") == ["GHSA-npm-0002"]
    assert _affected(idx, "PyPI", "idna", "3.6") == ["GHSA-py-0001"]


def test_interrupted_or_corrupt_download_leaves_the_old_index_working(tmp_path: Path, capsys,
                                                                      mirror: Mirror) -> None:
    idx = tmp_path / "idx"
    mirror.files = {"/all.zip": _zip(NPM_V1)}
    assert sync_cli(capsys, "sync", "--from", f"{mirror.url}/all.zip", "--dir", str(idx))[0] == 0
    before = (idx / "advisories.sqlite").read_bytes()

    mirror.files = {"/all.zip": _zip(NPM_V2)}
    mirror.truncate = True
    code, out, err = sync_cli(capsys, "sync", "--from", f"{mirror.url}/all.zip", "--dir", str(idx))
    assert code == 1
    assert "sync failed, the previous index is unchanged" in err
    mirror.truncate = False
    mirror.files = {"/all.zip": b"<html>captive portal</html>"}
    code, out, err = sync_cli(capsys, "sync", "--from", f"{mirror.url}/all.zip", "--dir", str(idx))
    assert code == 1 and "previous index is unchanged" in err

    assert (idx / "advisories.sqlite").read_bytes() == before
    assert sorted(p.name for p in idx.iterdir()) == ["advisories.sqlite"]  # no partial files left behind
    assert _affected(idx, "npm", "minimist", "1.2.5") == ["GHSA-npm-0001"]
    code, out, _ = sync_cli(capsys, "status", "--dir", str(idx))
    assert code == 0 and f"OSV from {mirror.url}/all.zip" in out


def test_status_without_an_index_names_the_sync_command(tmp_path: Path, capsys) -> None:
    code, _, err = sync_cli(capsys, "status", "--dir", str(tmp_path / "nothing"))
    assert code == 2 and "run `prguard advisories sync`" in err
