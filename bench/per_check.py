"""Per-check cost: each prguard check beside the plain tool(s) a user would run on the same files.

    .venv/bin/python bench/per_check.py [--runs 3] [--no-write]

For each check the bench writes a fixed file set into a temp git repository as a pull request would: `main`
holds the base (and a `.github/prguard.yml` that enables only that check), `feature` changes or adds the
files. Then, in the same run, interleaved, `--runs` times each:

- prguard as a user runs it: `prguard scan <repo> --base main --head HEAD --format json` (its own process;
  the base policy turns the other three checks off, since the CLI has no per-check option);
- the same check in-process through the engine API (`change_from_git` + `checks.engine.run_check`), which
  is the CLI minus its start-up, policy and report;
- the plain tool(s) on a copy of the head's files: secrets vs `detect-secrets scan`, dependencies vs
  `pip-audit` (offline, against the local OSV endpoint of bench/dependencies.py), iac vs `checkov -d` +
  `zizmor --offline` (bench/iac.py), prompt-safety vs `semgrep scan` of prguard's rules
  (bench/prompt_safety_code.py).

Commands run in a small wrapper process that times them and reads the peak RSS of the largest process
(`getrusage(RUSAGE_CHILDREN)`). Prints a markdown table of medians and, for any ratio above 1.5x, where the
check's time goes (engine subprocesses vs the rest, one extra in-process run). Replaces the
`## Per-check cost` section of docs/BENCHMARKS.md unless --no-write.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import dependencies as deps  # noqa: E402
from bench import iac  # noqa: E402
from bench.e2e_latency import write_section as replace_section  # noqa: E402
from bench.prompt_safety_code import plain_semgrep_command  # noqa: E402
from bench.secrets_throughput import prguard_cmd  # noqa: E402
from checks import registry, tools  # noqa: E402
from checks.engine import run_check  # noqa: E402
from checks.git_change import change_from_git  # noqa: E402
from tests.gitrepo import GitRepo  # noqa: E402
from tests.secrets_keys import CASES, reseed  # noqa: E402

SECTION = "## Per-check cost"
BAD_RATIO = 1.5

_RUNNER = """\
import json, resource, subprocess, sys, time
spec = json.load(open(sys.argv[1]))
codes, errs = [], []
started = time.perf_counter()
for c in spec:
    p = subprocess.run(c["argv"], cwd=c["cwd"], env=c["env"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    codes.append(p.returncode)
    errs.append(p.stderr[-600:].decode(errors="replace"))
took = time.perf_counter() - started
print(json.dumps({"seconds": took, "rss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
                  "codes": codes, "stderr": errs}))
"""


@dataclass
class Command:
    """One process to time: argv, working directory, environment (None: this one's), exit codes that mean
    "it ran" (a scanner exits non-zero on findings)."""

    argv: list[str]
    cwd: Path
    env: dict[str, str] | None = None
    ok: tuple[int, ...] = (0, 1)


@dataclass
class Case:
    """One check's file set, its repository and how to run prguard and the plain tool(s) on it."""

    check: str
    files: str
    repo: Path
    plain: dict[str, Callable[[int], list[Command]]]  # label -> commands of run n
    env: dict[str, str] = field(default_factory=dict)
    services: dict[str, str] = field(default_factory=dict)


def measure(commands: list[Command], scratch: Path) -> tuple[float, float]:
    """Wall seconds of the commands run one after the other, and the peak RSS (MB) of the largest."""
    spec = scratch / "spec.json"
    spec.write_text(json.dumps([{"argv": c.argv, "cwd": str(c.cwd), "env": c.env or dict(os.environ)}
                                for c in commands]))
    out = subprocess.run([sys.executable, "-c", _RUNNER, str(spec)], capture_output=True, text=True,
                         check=True)
    got = json.loads(out.stdout)
    for c, code, err in zip(commands, got["codes"], got["stderr"], strict=True):
        if code not in c.ok:
            raise SystemExit(f"{Path(c.argv[0]).name} exited {code}: {err}")
    return got["seconds"], got["rss_kb"] / 1024


# ------------------------------------------------------------------------------------------- file sets


def stdlib_sources(count: int, skip: int = 0) -> dict[str, str]:
    """`count` modules of this Python's standard library (4-60 KB, by name): real code, reproducible."""
    lib = Path(sysconfig.get_paths()["stdlib"])
    picked = sorted(p for p in lib.glob("*.py") if 4_000 <= p.stat().st_size <= 60_000)[skip: skip + count]
    return {f"src/{p.name}": p.read_text(encoding="utf-8", errors="replace") for p in picked}


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


def make_pr(root: Path, check: str, base: dict[str, str], head: dict[str, str]) -> Path:
    """`main`: the base files and a policy enabling only `check`; `feature` (checked out): the head."""
    policy = "checks:\n" + "".join(f"  {n}: {'true' if n == check else 'false'}\n" for n in registry.REGISTRY)
    repo = GitRepo.on_feature_branch(root, {**base, ".github/prguard.yml": policy})
    repo.commit(head, "the pull request")
    return repo.path


SETTINGS = '''

def _settings_{i}():
    """Connection settings for client {i}, from the environment."""
    timeout = float(os.environ.get("CLIENT_{i}_TIMEOUT", "30"))
    retries = int(os.environ.get("CLIENT_{i}_RETRIES", "3"))
    {key}
    return {{"timeout": timeout, "retries": retries, "region": "eu-west-{r}"}}
'''

LLM_CALL = '''

def answer_{i}(client, question, context):
    """Ask the model about `question`, grounded on `context`."""
    system = "You are a helpful assistant. Context: " + context
    reply = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{{"role": "system", "content": system + question}},
                  {{"role": "user", "content": question}}],
    )
    return eval(reply.choices[0].message.content)
'''


def secrets_case(tmp: Path) -> Case:
    """30 modules changed (a settings function appended) and 10 added; 8 of them carry a fresh key."""
    reseed("bench/per_check")
    src = stdlib_sources(40)
    names = sorted(src)
    head: dict[str, str] = {}
    for i, name in enumerate(names):
        key = CASES[i % len(CASES)].line()[1] if i % 5 == 0 else "pass"
        head[name] = src[name] + SETTINGS.format(i=i, r=i % 3, key=key)
    base = {n: src[n] for n in names[:30]}
    repo = make_pr(tmp / "secrets", "secrets", base, head)
    plain = write_tree(tmp / "secrets-head", head)
    exe = str(Path(sys.executable).parent / "detect-secrets")
    return Case("secrets", "40 Python (30 changed, 10 added)", repo,
                {"detect-secrets scan": lambda n: [Command([exe, "scan", *sorted(head)], plain)]})


def dependencies_case(tmp: Path) -> Case | None:
    """bench/dependencies.py's Python part: 2 requirements files, 800 pins, 10% bumped on the branch."""
    if not deps.PYPA.is_dir():
        return None
    pypi = deps.pypi_records()
    versions = deps.pypi_versions(pypi)
    names = sorted(versions)[: 2 * deps.PY_PER_FILE]
    names += [f"benchlib-{i}" for i in range(2 * deps.PY_PER_FILE - len(names))]
    rng = random.Random(7)
    rng.shuffle(names)
    paths = ["services/api/requirements.txt", "services/worker/requirements.txt"]
    pins = {p: deps.requirements(names[i * deps.PY_PER_FILE:(i + 1) * deps.PY_PER_FILE], versions, rng)
            for i, p in enumerate(paths)}
    base, head = deps.files(pins, {}, False, versions), deps.files(pins, {}, True, versions)
    deps.sync(str(deps.PYPA), directory=tmp / "index")
    endpoint = deps.OsvEndpoint(pypi)
    repo = make_pr(tmp / "deps", "dependencies", base, head)
    plain = write_tree(tmp / "deps-head", head)
    env = {**os.environ, "HOME": str(tmp)}

    def pip_audit(n: int) -> list[Command]:  # a fresh cache each run: nothing carried over
        return [Command(deps.pip_audit_command(endpoint.url, [plain / p for p in paths], tmp / f"pa{n}"),
                        plain, env)]

    return Case("dependencies", f"2 requirements.txt ({2 * deps.PY_PER_FILE} pins, 10% bumped)", repo,
                {"pip-audit (local OSV endpoint)": pip_audit},
                env={"PRGUARD_ADVISORY_DIR": str(tmp / "index")}, services={"advisories": str(tmp / "index")})


def iac_case(tmp: Path) -> Case:
    """bench/iac.py's branch: 10 IaC files and 3 workflows changed, 10 and 2 added."""
    base, head = iac.files(False), iac.files(True)
    repo = make_pr(tmp / "iac", "iac", base, head)
    head_dir, base_dir = write_tree(tmp / "iac-head", head), write_tree(tmp / "iac-base", base)
    home = tmp / "iac-home"
    home.mkdir()

    def engines(*roots: Path) -> list[Command]:
        return [Command(argv, r, env, ok) for r in roots for argv, env, ok in iac.plain_commands(r, home)]

    workflows = sum(p.startswith(".github/") for p in head)
    return Case("iac", f"{len(head) - workflows} IaC + {workflows} workflows (13 changed, 12 added)", repo,
                {"checkov -d + zizmor --offline, head": lambda n: engines(head_dir),
                 "the same on head + base": lambda n: engines(head_dir, base_dir)})


def prompt_safety_case(tmp: Path) -> Case:
    """40 modules that import openai: 30 changed (a model call appended) and 10 added."""
    src = {n: "import openai\n" + t for n, t in stdlib_sources(40, skip=40).items()}
    names = sorted(src)
    head = {n: src[n] + LLM_CALL.format(i=i) for i, n in enumerate(names)}
    repo = make_pr(tmp / "ps", "prompt-safety", {n: src[n] for n in names[:30]}, head)
    plain = write_tree(tmp / "ps-head", head)
    home = tmp / "ps-home"
    home.mkdir()
    argv, env = plain_semgrep_command(sorted(head), home)
    return Case("prompt-safety", "40 Python LLM code (30 changed, 10 added)", repo,
                {"semgrep scan, prguard's rules": lambda n: [Command(argv, plain, env)]})


# ------------------------------------------------------------------------------------------ measuring


def prguard_scan(case: Case, scratch: Path) -> tuple[float, float, dict[str, object]]:
    out = scratch / f"{case.check}.json"
    cmd = Command([*prguard_cmd(), "scan", ".", "--base", "main", "--head", "HEAD", "--format", "json",
                   "--output", str(out), "--fail-on", "critical"], case.repo, {**os.environ, **case.env})
    seconds, rss = measure([cmd], scratch)
    return seconds, rss, json.loads(out.read_text())


def engine_api(case: Case) -> float:
    started = time.perf_counter()
    result = run_check(registry.create(case.check), change_from_git(str(case.repo), "main", head="HEAD"),
                       services=case.services)
    if result.error:
        raise SystemExit(f"{case.check}: {result.error}")
    return time.perf_counter() - started


def engine_name(argv: list[str]) -> str:
    """The engine's program name, through the memory-limit wrapper (`python -c <limit> <MB> <program>`)."""
    at = 4 if len(argv) > 4 and argv[1] == "-c" else 0
    return Path(str(argv[at])).name


def engine_split(case: Case) -> str:
    """One more in-process run with every engine subprocess timed: engines' wall (their intervals merged,
    as the two sides of a baseline check overlap) against the whole check."""
    spans: list[tuple[float, float, str]] = []
    lock = threading.Lock()
    original = tools.run_tool

    def timed(argv: list[str], **kw: object) -> object:
        started = time.perf_counter()
        try:
            return original(argv, **kw)  # type: ignore[arg-type]
        finally:
            with lock:
                spans.append((started, time.perf_counter(), engine_name(argv)))

    tools.run_tool = timed  # type: ignore[assignment]
    try:
        whole = engine_api(case)
    finally:
        tools.run_tool = original
    merged, end = 0.0, 0.0
    for s, e, _ in sorted(spans):
        merged += max(0.0, e - max(s, end))
        end = max(end, e)
    each = ", ".join(f"{name} {e - s:.2f} s" for s, e, name in sorted(spans))
    return (f"{case.check}: in-process check {whole:.2f} s, of which engine subprocesses {merged:.2f} s "
            f"wall ({len(spans)} runs: {each}), everything else {whole - merged:.2f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/BENCHMARKS.md alone")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="prguard-per-check-"))
    try:
        built = (secrets_case(tmp), dependencies_case(tmp), iac_case(tmp), prompt_safety_case(tmp))
        cases = [c for c in built if c is not None]
        times: dict[tuple[str, str], list[float]] = {}
        rss: dict[tuple[str, str], float] = {}
        found: dict[str, int] = {}
        for n in range(args.runs):
            for case in cases:
                seconds, peak, report = prguard_scan(case, tmp)
                others = {f["check"] for f in report["findings"]} - {case.check}  # type: ignore[union-attr]
                if report["errors"] or others:
                    raise SystemExit(f"{case.check}: errors {report['errors']}, other checks ran: {others}")
                found[case.check] = len(report["findings"])  # type: ignore[arg-type]
                runs = {"prguard": (seconds, peak), "engine": (engine_api(case), 0.0)}
                for label, commands in case.plain.items():
                    runs[label] = measure(commands(n), tmp)
                for label, (s, p) in runs.items():
                    times.setdefault((case.check, label), []).append(s)
                    rss[(case.check, label)] = max(rss.get((case.check, label), 0.0), p)
                print(f"run {n + 1}/{args.runs} {case.check}: "
                      + ", ".join(f"{label} {s:.2f} s" for label, (s, _) in runs.items()),
                      file=sys.stderr, flush=True)
        med = {k: statistics.median(v) for k, v in times.items()}
        lines = [
            "| check | files | `prguard scan` median s (peak RSS) | of which the check (engine API) "
            "| plain tool(s) | plain median s (peak RSS) | ratio prguard / plain: median (best) |",
            "|---|---|---:|---:|---|---:|---:|"]
        bad = []
        for case in cases:
            ours = med[(case.check, "prguard")]
            for label in case.plain:
                ratio = ours / med[(case.check, label)]
                best = min(times[(case.check, "prguard")]) / min(times[(case.check, label)])
                if max(ratio, best) > BAD_RATIO:
                    bad.append(case.check)
                lines.append(
                    f"| {case.check} | {case.files}; {found[case.check]} findings | {ours:.2f} "
                    f"({rss[(case.check, 'prguard')]:.0f} MB) | {med[(case.check, 'engine')]:.2f} | {label} "
                    f"| {med[(case.check, label)]:.2f} ({rss[(case.check, label)]:.0f} MB) "
                    f"| {ratio:.2f}x ({best:.2f}x) |")
        splits = [f"{engine_split(c)}; the plain tool(s) on the head alone: "
                  f"{med[(c.check, next(iter(c.plain)))]:.2f} s median" for c in cases if c.check in bad]
        table = "\n".join(lines)
        print(table)
        for s in splits:
            print(f"\n{s}")
        if not args.no_write:
            write_section(table, splits, args.runs)
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_section(table: str, splits: list[str], runs: int) -> None:
    load = os.getloadavg()[0]
    notes = (
        f"`.venv/bin/python bench/per_check.py --runs {runs}` — {time.strftime('%Y-%m-%d')}, "
        f"{os.uname().machine}, {os.cpu_count()} cores (shared; load average {load:.1f} at the end), Python "
        f"{sys.version.split()[0]}. Each check on its own pull request in a temp git repository (base on "
        "`main` with a `.github/prguard.yml` that enables only that check, the changes on `feature`). "
        "prguard is measured as a user runs it, `prguard scan . --base main --head HEAD --format json` in "
        "its own process (other checks off by the base policy: the CLI has no per-check option); the engine "
        "API column is the same check in-process (`change_from_git` + `run_check`), i.e. without the CLI's "
        "start-up, policy and report. The plain tools run on a copy of the head's files. Medians of "
        f"{runs} interleaved runs; the ratio in brackets compares each side's fastest run (on "
        "shared cores both move with the load); peak RSS is the largest process of each command (the highest "
        "seen).\n")
    why = ("\nprguard scans only what the branch changed (the lines it added; for dependencies and IaC the "
           "packages or resources new against the base), the plain tools scan whole files. IaC and "
           "dependencies are baseline checks: they need the base side's findings too, so prguard's IaC "
           "check runs checkov and zizmor over a tree holding both sides (`checks/iac/sides.py`); the "
           "second IaC row is the plain engines doing that same work, once per side. For the secrets and "
           "dependencies checks most of `prguard scan`'s time is the CLI's start-up (imports), not the "
           "check.\n")
    extra = "".join(f"\nWhere the time goes (a ratio above {BAD_RATIO}x), one more run: {s}.\n"
                    for s in splits)
    text = f"{SECTION}\n\n{notes}\n{table}\n{why}{extra}"
    replace_section(text, SECTION)


if __name__ == "__main__":
    raise SystemExit(main())
