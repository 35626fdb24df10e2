"""Benchmark: the dependencies check on a PR touching 5 dependency files with 2,000 packages in all, against
an offline index of every PyPI advisory in /work/shared/osv plus synthetic npm advisories, side by side with
pip-audit on the Python part pointed at a local OSV-compatible endpoint serving the same data.

    .venv/bin/python bench/dependencies.py [--npm-advisories 20000] [--runs 5]

The PR (a real git repository in a temp dir): two requirements.txt (400 PyPI packages each: every package
the PyPA data names, at a version its `versions` list gives for a third of them, plus made-up names) and
three package-lock.json v3 (400 npm packages each, with dependency chains), 10% of versions bumped on the
branch. Seeded, so reruns build the same files. pip-audit runs with `--no-deps --disable-pip` (nothing is
resolved or installed) and `-s osv --osv-url http://127.0.0.1:PORT/v1/query`; the endpoint is served here
from the same records with the same range evaluation, so both sides see the same data.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.features.advisory_sync import sync
from checks.dependencies.advisories.osv import LoadStats, records_from_path
from checks.dependencies.advisories.versions import is_affected
from checks.dependencies.check import DependenciesCheck
from checks.dependencies.model import normalise_name
from checks.engine import run_check
from checks.git_change import change_from_git

PYPA = Path(__file__).resolve().parents[2] / "shared" / "osv" / "pypa-advisory-database" / "vulns"
PY_PER_FILE, NPM_PER_FILE = 400, 400
NPM_UNIVERSE = 15_000


def git(root: Path, *args: str) -> str:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, env=env,
                          text=True).stdout.strip()


def npm_records(n: int, names: list[str], rng: random.Random) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        name = names[rng.randrange(len(names))]
        major = rng.randint(0, 3)
        out.append({"id": f"GHSA-bench-{i:06d}", "modified": "2026-11-30T00:00:00Z",
                    "aliases": [f"CVE-2099-{i}"],
                    "summary": f"synthetic advisory {i}", "affected": [{
                        "package": {"ecosystem": "npm", "name": name},
                        "ranges": [{"type": "SEMVER", "events": [
                            {"introduced": f"{major}.0.0"}, {"fixed": f"{major}.{rng.randint(1, 9)}.0"}]}]}]})
    return out


def pypi_records() -> list[dict[str, Any]]:
    return list(records_from_path(PYPA, LoadStats()))


def _valid(version: str) -> bool:
    from packaging.version import InvalidVersion, Version

    try:
        Version(version)
    except InvalidVersion:
        return False
    return True


def requirements(names: list[str], versions: dict[str, list[str]], rng: random.Random) -> dict[str, str]:
    """name -> pinned version: a version the advisories list for a third of the real names, else 9999.0."""
    pins = {}
    for name in names:
        listed = [v for v in versions.get(name) or [] if _valid(v)]
        pins[name] = rng.choice(listed) if listed and rng.random() < 0.33 else "9999.0"
    return pins


def npm_lock(prefix: str, names: list[str], rng: random.Random, bumped: set[str]) -> str:
    pkgs: dict[str, Any] = {"": {"name": prefix, "version": "1.0.0",
                                 "dependencies": {n: "*" for n in names[:40]}}}
    for i, name in enumerate(names):
        version = f"{rng.randint(0, 3)}.{rng.randint(0, 9)}.0"
        if name in bumped:  # its own generator: the other packages keep their versions
            again = random.Random(name)
            version = f"{again.randint(0, 3)}.{again.randint(0, 9)}.1"
        entry: dict[str, Any] = {"version": version,
                                 "resolved": f"https://registry.npmjs.org/{name}/-/{name}-{version}.tgz",
                                 "integrity": f"sha512-{name}-{version}"}
        children = names[i + 1: i + 4] if i < len(names) - 3 else []
        if children:
            entry["dependencies"] = {c: "*" for c in children}
        pkgs[f"node_modules/{name}"] = entry
    return json.dumps({"name": prefix, "version": "1.0.0", "lockfileVersion": 3, "requires": True,
                       "packages": pkgs}, indent=2) + "\n"


def _pip_audit_safe(record: dict[str, Any]) -> dict[str, Any]:
    """The record without `fixed` events that are not PEP 440 versions (a few PyPA records carry dates or
    commits there): pip-audit 2.10 raises InvalidVersion on them and aborts the whole audit."""
    out = json.loads(json.dumps(record))
    for affected in out.get("affected") or []:
        for rng in affected.get("ranges") or []:
            rng["events"] = [e for e in rng.get("events") or []
                             if "fixed" not in e or _valid(str(e["fixed"]))]
    return out


class OsvEndpoint:
    """POST /v1/query (OSV's API shape) answered from in-memory records with the same range evaluation."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.by_name: dict[str, list[dict[str, Any]]] = {}
        for r in map(_pip_audit_safe, records):
            for a in r.get("affected") or []:
                pkg = a.get("package") or {}
                if pkg.get("ecosystem") == "PyPI":
                    self.by_name.setdefault(normalise_name("PyPI", pkg["name"]), []).append(r)
        self.queries = 0
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                endpoint.queries += 1
                name = normalise_name("PyPI", body["package"]["name"])
                version = body["version"]
                vulns = [r for r in endpoint.by_name.get(name, []) if any(
                    is_affected("PyPI", version, a.get("ranges") or [], a.get("versions") or [])
                    for a in r["affected"] if normalise_name("PyPI", a["package"]["name"]) == name)]
                data = json.dumps({"vulns": vulns} if vulns else {}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/query"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def pypi_versions(records: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Normalised PyPI name -> every version the advisories list for it (where requirements pick pins)."""
    versions: dict[str, list[str]] = {}
    for r in records:
        for a in r.get("affected") or []:
            name = normalise_name("PyPI", a["package"]["name"])
            versions.setdefault(name, []).extend(a.get("versions") or [])
    return versions


def pip_audit_command(osv_url: str, requirement_files: list[Path], cache_dir: Path) -> list[str]:
    """pip-audit over requirement files, nothing resolved or installed, against an OSV-shaped endpoint;
    shared with bench/per_check.py."""
    cmd = [str(Path(sys.executable).parent / "pip-audit"), "--no-deps", "--disable-pip", "-s", "osv",
           "--osv-url", osv_url, "--progress-spinner", "off", "-f", "json", "--cache-dir", str(cache_dir)]
    for path in requirement_files:
        cmd += ["-r", str(path)]
    return cmd


def make_repo(root: Path, base: dict[str, str], head: dict[str, str]) -> Path:
    """A repository whose `main` holds `base` (or is one empty commit) and whose `feature` holds `head`."""
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "b@x.invalid")
    git(root, "config", "user.name", "bench")
    for files, message in ((base, "base"), (head, "head")):
        if message == "head":
            git(root, "checkout", "-qb", "feature")
        for path, text in files.items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(text)
        git(root, "add", "-A")
        git(root, "commit", "-q", "--allow-empty", "-m", message)
    return root


def timed_check(root: Path, index_dir: Path, runs: int) -> tuple[list[float], list[float], int]:
    """Wall and CPU seconds (this process + its git children) of each run of the check on `feature`."""
    walls, cpus, found = [], [], 0
    for _ in range(runs):
        change = change_from_git(str(root), "main", head="feature")
        before, started = os.times(), time.perf_counter()
        result = run_check(DependenciesCheck(), change, services={"advisories": str(index_dir)})
        walls.append(time.perf_counter() - started)
        after = os.times()
        cpus.append(sum(after[:4]) - sum(before[:4]))
        assert result.error is None, result.error
        found = sum(1 for f in result.findings
                    if f.rule_id in ("dependencies/vulnerable", "dependencies/malicious"))
    return walls, cpus, found


def files(pins: dict[str, dict[str, str]], npm_files: dict[str, list[str]], bump: bool,
          versions: dict[str, list[str]]) -> dict[str, str]:
    """The 5 files; with `bump`, 10% of the packages change version (some into a vulnerable one)."""
    out = {}
    for path, pinned in pins.items():
        rng = random.Random(path)
        lines = []
        for name, version in pinned.items():
            if bump and rng.random() < 0.1:
                listed = [v for v in versions.get(name) or [] if _valid(v) and v != version]
                version = rng.choice(listed) if listed and rng.random() < 0.5 else "9998.0"
            lines.append(f"{name}=={version}\n")
        out[path] = "".join(lines)
    for path, ns in npm_files.items():
        out[path] = npm_lock(path.split("/")[0], ns, random.Random(path), set(ns[::10]) if bump else set())
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--npm-advisories", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not PYPA.is_dir():
        print(f"needs {PYPA}", file=sys.stderr)
        return 2
    rng = random.Random(7)
    tmp = Path(tempfile.mkdtemp(prefix="prguard-bench-deps-"))
    pypi = pypi_records()
    # advisories spread over NPM_UNIVERSE names, of which the lockfiles use the first 1,200 (OSV's npm data
    # has roughly one advisory per affected package name; every name here has ~1.3)
    universe = [f"bench-npm-{i:05d}" for i in range(NPM_UNIVERSE)]
    npm_names = universe[: 3 * NPM_PER_FILE]
    npm_zip = tmp / "npm-all.zip"
    with zipfile.ZipFile(npm_zip, "w", zipfile.ZIP_DEFLATED) as z:
        for r in npm_records(args.npm_advisories, universe, rng):
            z.writestr(f"{r['id']}.json", json.dumps(r))

    # --- index build: PyPI (the YAML tree) then npm (an OSV-style all.zip) --------------------------------
    started = time.perf_counter()
    sync(str(PYPA), directory=tmp / "index")
    built = sync(str(npm_zip), ["npm"], directory=tmp / "index")
    build_s = time.perf_counter() - started
    index_file = tmp / "index" / "advisories.sqlite"

    # --- the PR: 2 requirements files + 3 package-lock.json, 2,000 packages, 10% bumped -----------------
    versions = pypi_versions(pypi)
    py_names = sorted(versions)[: 2 * PY_PER_FILE]
    py_names += [f"benchlib-{i}" for i in range(2 * PY_PER_FILE - len(py_names))]
    rng.shuffle(py_names)
    py_files = {"services/api/requirements.txt": py_names[:PY_PER_FILE],
                "services/worker/requirements.txt": py_names[PY_PER_FILE:]}
    npm_files = {f"{d}/package-lock.json": npm_names[i * NPM_PER_FILE:(i + 1) * NPM_PER_FILE]
                 for i, d in enumerate(("web", "admin", "tools"))}
    pins = {p: requirements(ns, versions, rng) for p, ns in py_files.items()}
    base, head = files(pins, npm_files, False, versions), files(pins, npm_files, True, versions)
    total = sum(len(v) for v in pins.values()) + sum(len(v) for v in npm_files.values())

    pr_times, pr_cpu, pr_found = timed_check(make_repo(tmp / "pr", base, head), tmp / "index", args.runs)
    full_repo = make_repo(tmp / "full", {}, base)
    full_times, full_cpu, full_found = timed_check(full_repo, tmp / "index", args.runs)
    python = {p: t for p, t in base.items() if p in py_files}
    py_times, py_cpu, py_found = timed_check(make_repo(tmp / "py", {}, python), tmp / "index", args.runs)

    # --- pip-audit on the same Python files, against a local OSV endpoint with the same records -----------
    endpoint = OsvEndpoint(pypi)
    cmd = pip_audit_command(endpoint.url, [tmp / "py" / path for path in py_files], tmp / "pa")
    before, started = os.times(), time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "HOME": str(tmp)})
    pa_s = time.perf_counter() - started
    after = os.times()
    pa_cpu = sum(after[:4]) - sum(before[:4])  # pip-audit's CPU plus this process's serving thread
    try:
        report = json.loads(proc.stdout)
        pa_found = sum(1 for d in report.get("dependencies", []) if d.get("vulns"))
    except ValueError:
        pa_found = -1
        print(proc.stderr[-2000:], file=sys.stderr)

    med = statistics.median
    print(f"\nDependencies check (seed 7; {len(pypi)} PyPI records from the PyPA snapshot + "
          f"{args.npm_advisories} "
          f"synthetic npm records; min / median of {args.runs} runs; shared 2-core machine, under load)\n")
    print("| measurement | packages | wall: min / median (first) | CPU median | vulnerable packages |")
    print("| --- | ---: | ---: | ---: | ---: |")
    print(f"| index build: sync PyPI YAML tree + npm all.zip | {built.meta.records} advisories | "
          f"{build_s:.2f} s | | index file {index_file.stat().st_size / 1e6:.1f} MB |")
    rows = [("check: PR bumping 10% of 5 files (base and head parsed)", total, pr_times, pr_cpu,
             f"{pr_found} introduced"),
            ("check: the same 5 files added (every package new)", total, full_times, full_cpu,
             str(full_found)),
            ("check: the Python part only (2 requirements files added)", 2 * PY_PER_FILE, py_times, py_cpu,
             str(py_found))]
    for label, n, times, cpu, found in rows:
        print(f"| {label} | {n} | {min(times):.3f} s / {med(times):.3f} s ({times[0]:.3f} s) "
              f"| {med(cpu):.3f} s | {found} |")
    print(f"| pip-audit {_pip_audit_version()} -s osv --osv-url (local endpoint) --no-deps --disable-pip, "
          f"same Python part | {2 * PY_PER_FILE} | {pa_s:.2f} s ({endpoint.queries} queries) "
          f"| {pa_cpu:.2f} s "
          f"| {pa_found} |")
    print(f"\npip-audit / check on the Python part: {pa_s / med(py_times):.0f}x (wall, median), "
          f"{pa_cpu / med(py_cpu):.0f}x (CPU)")
    return 0


def _pip_audit_version() -> str:
    from importlib.metadata import version

    return version("pip-audit")


if __name__ == "__main__":
    sys.exit(main())
