"""Issue 11: subprocess engines (checkov, zizmor, semgrep, the Rego child) run with a time limit, a memory
limit and an environment holding only what they need.

Each engine is reached the way a job reaches it — the real check (`run_check`) on a real git change, or
`checks.signoff.rego.evaluate` — with the worker's secrets set in this process's environment. The engine
itself is replaced, through prguard's own engine-path settings (`PRGUARD_CHECKOV`, `PRGUARD_ZIZMOR`,
`PRGUARD_SEMGREP`; for Rego a `regopy` package first on its path), by a small script that:

- records the environment and RLIMIT_AS it was given, then `exec`s the real engine (a real scan, with
  findings), or
- allocates past its memory limit, or
- starts a child and sleeps past the check's deadline.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from checks import registry
from checks.engine import CheckResult, run_check
from checks.git_change import change_from_git
from checks.iac.engines import checkov_home
from checks.policy import CheckPolicy, Policy
from checks.prompt_safety.semgrep import runner as semgrep_runner
from checks.signoff import rego
from checks.tools import DEFAULT_MEMORY_MB
from tests.gitrepo import GitRepo
from tests.test_check_context import alive

#: what the worker's environment holds and no engine may see: name -> value
SECRETS = {
    "GITHUB_PRIVATE_KEY": "-----BEGIN RSA PRIVATE KEY-----\nleak-private-key\n-----END RSA PRIVATE KEY-----",
    "GITHUB_APP_PRIVATE_KEY": "leak-app-private-key",
    "GITHUB_WEBHOOK_SECRET": "leak-webhook-secret",
    "PRGUARD_FINGERPRINT_KEY": "leak-fingerprint-key",
    "REDIS_URL": "redis://:leak-redis-password@127.0.0.1:6379/0",
}
REAL = {
    "checkov": str(checkov_home() / "bin" / "checkov"),
    "zizmor": str(Path(sys.executable).parent / "zizmor"),
    "semgrep": str(Path(sys.executable).parent / "semgrep"),
}
SETTING = {"checkov": "PRGUARD_CHECKOV", "zizmor": "PRGUARD_ZIZMOR", "semgrep": "PRGUARD_SEMGREP"}
#: one small real input per engine and the check that hands it over
INPUTS: dict[str, tuple[str, dict[str, str]]] = {
    "checkov": ("iac", {"infra/main.tf": 'resource "aws_s3_bucket" "b" {\n  bucket = "d"\n  acl    = '
                                         '"public-read"\n}\n'}),
    "zizmor": ("iac", {".github/actions/greet/action.yml": (
        "name: greet\ndescription: says hello\nruns:\n  using: composite\n  steps:\n"
        "    - run: echo \"${{ github.event.pull_request.title }}\"\n      shell: bash\n")}),
    "semgrep": ("prompt-safety", {"ml/load.py": "import torch\nstate = torch.load('ckpt.pt')\n"}),
}
#: a checkov stand-in with an empty report, so a zizmor test does not wait for checkov's start-up
EMPTY_CHECKOV = "import sys\nprint('[]')\n"

RECORD = """
import json, os, resource, sys
with open({record!r}, "w") as fh:
    json.dump({{"env": dict(os.environ), "rlimit_as": resource.getrlimit(resource.RLIMIT_AS)[0]}}, fh)
os.execv({real!r}, [{real!r}, *sys.argv[1:]])
"""
#: allocates `over` MiB more than its limit (lazily zeroed pages: nothing is touched without a limit)
HOG = """
import resource, sys
limit = resource.getrlimit(resource.RLIMIT_AS)[0]
block = bytearray((limit if limit > 0 else 0) + {over} * 1048576)
print("allocated", len(block), "bytes", file=sys.stderr)
"""
#: starts a child of its own, writes both pids, then sleeps far past any deadline
SLEEPER = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
with open({pids!r}, "w") as fh:
    fh.write(f"{{os.getpid()}} {{child.pid}}")
time.sleep(120)
"""


def script(path: Path, body: str) -> str:
    path.write_text(f"#!{sys.executable} -IS\n{body}")
    path.chmod(0o755)
    return str(path)


@pytest.fixture(autouse=True)
def worker_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)


def scan_with(engine: str, stand_in: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *,
              timeout: float = 120, policy: Policy | None = None) -> CheckResult:
    """Run the check that feeds `engine` on a change adding its input, with `stand_in` as the engine."""
    check, files = INPUTS[engine]
    monkeypatch.setenv(SETTING[engine], stand_in)
    if engine == "zizmor":
        monkeypatch.setenv("PRGUARD_CHECKOV", script(tmp_path / "empty-checkov", EMPTY_CHECKOV))
    repo = GitRepo.on_feature_branch(tmp_path / "repo", {"README.md": "base\n"})
    repo.commit(files, "add")
    return run_check(registry.create(check), change_from_git(repo.path, "main", head="HEAD"),
                     timeout=timeout, policy=policy)


def assert_no_secret(env: dict[str, str]) -> None:
    leaked = [k for k in SECRETS if k in env] + [k for k, v in env.items()
                                                  if any(s in v for s in SECRETS.values())]
    assert not leaked, f"the engine saw {leaked}"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("engine", ["checkov", "zizmor", "semgrep"])
def test_an_engine_gets_no_secret_a_private_home_and_a_memory_limit(
    engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = tmp_path / f"{engine}.json"
    recorder = script(tmp_path / engine, RECORD.format(record=str(record), real=REAL[engine]))
    result = scan_with(engine, recorder, tmp_path, monkeypatch)
    assert result.error is None, result.error
    assert result.findings, "the real engine ran behind the recorder and found the input's problem"
    seen: dict[str, Any] = json.loads(record.read_text())
    env = seen["env"]
    assert_no_secret(env)
    assert set(env) <= {"PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "SSL_CERT_FILE", "HOME", "TMPDIR",
                        "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "NO_COLOR", "RUST_LOG", "BC_SKIP_MAPPING",
                        "SKIP_PACKAGE_UPDATE_CHECK", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2", "LOG_LEVEL",
                        "PYTHONDONTWRITEBYTECODE", "PRGUARD_HELM_REPORT", "PRGUARD_HELM_TIMEOUT",
                            "CHECKOV_KUSTOMIZE_ALLOWED_REMOTE_PREFIXES",
                        *(k for k in env if k.startswith("SEMGREP_"))}, sorted(env)
    for private in ("HOME", "TMPDIR"):
        assert "prguard-check-" in env[private] and env[private] != os.environ.get(private), env[private]
    expected = (semgrep_runner.memory_mb(semgrep_runner.jobs(1)) if engine == "semgrep"
                else DEFAULT_MEMORY_MB) * 1024 * 1024
    assert seen["rlimit_as"] == expected


@pytest.mark.timeout(60)
@pytest.mark.parametrize("engine", ["checkov", "zizmor", "semgrep"])
def test_an_engine_over_its_memory_limit_is_an_error_not_a_clean_scan(
    engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hog = script(tmp_path / engine, HOG.format(over=256))
    policy = Policy(checks={"iac": CheckPolicy(options={"memory_mb": 512})}) if engine != "semgrep" else None
    result = scan_with(engine, hog, tmp_path, monkeypatch, policy=policy)
    assert result.error is not None, "an engine that died at its memory limit must not pass"
    assert "memory limit" in result.error, result.error
    assert engine == "semgrep" or "MemoryError" in result.error  # semgrep's error quotes one stderr line
    assert engine in result.error
    assert result.findings == []


@pytest.mark.timeout(60)
@pytest.mark.parametrize("engine", ["checkov", "zizmor", "semgrep"])
def test_an_engine_past_the_deadline_is_killed_with_its_children_and_reported(
    engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pids = tmp_path / "pids"
    sleeper = script(tmp_path / engine, SLEEPER.format(pids=str(pids)))
    started = time.monotonic()
    result = scan_with(engine, sleeper, tmp_path, monkeypatch, timeout=4)
    assert time.monotonic() - started < 20
    assert result.error is not None and "killed" in result.error and engine in result.error, result.error
    assert result.findings == []
    leader, child = map(int, pids.read_text().split())
    deadline = time.monotonic() + 5
    while (alive(leader) or alive(child)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(leader) and not alive(child), "the engine and its own child are both dead"


# --- the Rego child: `python -S -m checks.signoff.rego`, with a `regopy` stand-in first on its path ------

REGOPY = """
import json, os, sys, time

class Interpreter:
    def __init__(self):
        mode = {mode!r}
        if mode == "record":
            with open({record!r}, "w") as fh:
                json.dump(dict(os.environ), fh)
            sys.path.remove({here!r})
            del sys.modules["regopy"]
            import regopy
            self.__class__ = regopy.Interpreter
            regopy.Interpreter.__init__(self)
        elif mode == "hog":
            self.block = b"x" * (64 * 1048576)
            self.more = [bytearray(self.block) for _ in range(16)]  # copies, touched: 1 GiB resident
            time.sleep(30)
        else:
            time.sleep(60)
"""
POLICY = {"a.rego": 'package prguard\ndeny contains "blocked" if { input.x == 1 }\n'}


@pytest.fixture
def regopy_stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Write a `regopy` stand-in for `mode` and put it first on the child's PYTHONPATH (= our sys.path)."""
    here = tmp_path / "stand-in"
    (here / "regopy").mkdir(parents=True)

    def install(mode: str) -> Path:
        record = tmp_path / "rego-env.json"
        source = REGOPY.format(mode=mode, record=str(record), here=str(here))
        (here / "regopy" / "__init__.py").write_text(source)
        return record

    monkeypatch.syspath_prepend(str(here))
    yield install


def test_the_rego_child_gets_no_secret(regopy_stand_in: Any) -> None:
    record = regopy_stand_in("record")
    assert rego.evaluate(POLICY, {"x": 1}).deny == ["blocked"]  # the real engine ran behind the stand-in
    env = json.loads(record.read_text())
    assert_no_secret(env)
    assert set(env) <= {"PATH", "PYTHONPATH", "LC_CTYPE"}, sorted(env)


@pytest.mark.timeout(60)
def test_the_rego_child_over_its_memory_limit_is_killed_and_reported(regopy_stand_in: Any) -> None:
    regopy_stand_in("hog")
    started = time.monotonic()
    with pytest.raises(rego.RegoError, match=r"exceeded its memory limit \(256 MiB\)"):
        rego.evaluate(POLICY, {"x": 1}, memory_mb=256, timeout=30)
    assert time.monotonic() - started < 20


def test_the_rego_child_past_its_deadline_is_killed_and_reported(regopy_stand_in: Any) -> None:
    regopy_stand_in("sleep")
    started = time.monotonic()
    with pytest.raises(rego.RegoError, match=r"exceeded its time limit \(2 s\)"):
        rego.evaluate(POLICY, {"x": 1}, timeout=2)
    assert time.monotonic() - started < 10
