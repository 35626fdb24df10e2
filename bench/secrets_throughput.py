"""Secrets throughput: `prguard scan` against `detect-secrets scan` on the same synthetic pull request.

Builds a temporary git repository whose base commit holds a README and whose head commit adds --mb MB of
realistic source (Python, JavaScript, YAML, JSON and text copied and varied from the installed packages in
the virtualenv) with freshly generated keys planted at known lines. Then it times, in the same run:

- `prguard scan --format json --base <base>` (the CLI a developer runs), and
- `detect-secrets scan` (its CLI) over the same files,

each in its own process, and reports MB, seconds, MB/s, the ratio, peak RSS and the planted keys each found.
The table is printed and written to the "## Secrets throughput" section of docs/BENCHMARKS.md.

    .venv/bin/python bench/secrets_throughput.py            # 50 MB (detect-secrets needs ~4 minutes)
    .venv/bin/python bench/secrets_throughput.py --mb 5     # quick look
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.secrets_keys import CASES, private_key_pem  # noqa: E402

SOURCE_SUFFIXES = {".py": "py", ".js": "js", ".json": "json", ".yaml": "yaml", ".yml": "yaml", ".txt": "txt"}
FILE_TARGET = 256 * 1024  # under prguard's default 1 MiB cap, like real source files
SECTION = "## Secrets throughput"


@dataclass
class Planted:
    path: str
    line: int
    rule_id: str


@dataclass
class Run:
    name: str
    seconds: float
    peak_rss_mb: float
    found: set[tuple[str, int]]
    findings: int
    returncode: int


def _corpus_sources() -> list[Path]:
    site = Path(sysconfig.get_paths()["purelib"])
    files = [p for p in site.rglob("*") if p.suffix in SOURCE_SUFFIXES and p.is_file()]
    files = [p for p in files if 200 < p.stat().st_size < 400_000]
    random.Random(7).shuffle(files)
    return files


def build_repo(root: Path, mb: float, seed: int = 1) -> tuple[str, list[Planted], int]:
    """Create the repo; return the base sha, the planted keys and the bytes added."""
    rng = random.Random(seed)
    git = ["git", "-C", str(root), "-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    (root / "README.md").write_text("# bench\n")
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "base"], check=True)
    base = subprocess.run(
        [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()

    target = int(mb * 1024 * 1024)
    sources = _corpus_sources()
    written = 0
    index = 0
    files: list[Path] = []
    buf: list[str] = []
    size = 0
    kind = "py"
    for src in sources * 50:
        if written + size >= target:
            break
        try:
            text = src.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        kind = SOURCE_SUFFIXES[src.suffix]
        # vary the copy so no two files are identical
        buf.append(f"# copy {index} of {src.name}\n" if kind in ("py", "yaml", "txt") else "")
        buf.append(text if text.endswith("\n") else text + "\n")
        size += len(text.encode()) + 24
        if size >= FILE_TARGET:
            path = root / "src" / f"pkg{index // 100:03d}" / f"mod_{index:05d}.{kind}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(buf), encoding="utf-8")
            files.append(path)
            written += path.stat().st_size
            index += 1
            buf, size = [], 0

    planted: list[Planted] = []
    pem = private_key_pem()
    chosen = rng.sample(files, min(len(files), len(CASES) + 1))
    for n, path in enumerate(chosen):
        lines = path.read_text(encoding="utf-8").split("\n")
        at = rng.randrange(1, max(2, len(lines) - 1))
        if n < len(CASES):
            case = CASES[n]
            _key, line = case.line()
            lines.insert(at, line)
            rule = case.rule_id
        else:
            lines.insert(at, 'PRIVATE_KEY = """' + pem.split("\n", 1)[0])
            lines[at + 1 : at + 1] = [*pem.split("\n", 1)[1].rstrip("\n").split("\n"), '"""']
            rule = "secrets/private-key"
        new = root / path.relative_to(root).with_suffix(".py")
        path.unlink()
        new.write_text("\n".join(lines), encoding="utf-8")
        written += new.stat().st_size - 0
        planted.append(Planted(str(new.relative_to(root)), at + 1, rule))
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "head: add sources"], check=True)
    total = sum(p.stat().st_size for p in (root / "src").rglob("*") if p.is_file())
    return base, planted, total


_WRAPPER = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "p = subprocess.run(sys.argv[2:], stdout=open(sys.argv[1], 'wb'), stderr=subprocess.DEVNULL)\n"
    "dt = time.perf_counter() - t\n"
    "print(dt, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, p.returncode)\n"
)


def measure(cmd: list[str], cwd: Path, out: Path) -> tuple[float, float, int]:
    """Wall time, peak RSS (MB, largest process of the command) and exit code, in a fresh wrapper."""
    res = subprocess.run(
        [sys.executable, "-c", _WRAPPER, str(out), *cmd], cwd=cwd, capture_output=True, text=True, check=True
    )
    seconds, rss_kb, code = res.stdout.split()
    return float(seconds), int(rss_kb) / 1024, int(code)


def prguard_cmd() -> list[str]:
    exe = Path(sys.executable).parent / "prguard"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "bot.cli.main"]


def run_prguard(root: Path, base: str, tmp: Path) -> Run:
    out = tmp / "prguard.json"
    env_cmd = [*prguard_cmd(), "scan", str(root), "--format", "json", "--base", base, "--fail-on", "critical"]
    seconds, rss, code = measure(env_cmd, REPO, out)
    data = json.loads(out.read_text())
    found = {(f["path"], f["line"]) for f in data["findings"]}
    return Run("prguard scan", seconds, rss, found, len(data["findings"]), code)


def run_detect_secrets(root: Path, tmp: Path) -> Run:
    out = tmp / "ds.json"
    exe = Path(sys.executable).parent / "detect-secrets"
    seconds, rss, code = measure([str(exe), "scan", "src"], root, out)
    data = json.loads(out.read_text())
    found = {(path, r["line_number"]) for path, results in data["results"].items() for r in results}
    return Run("detect-secrets scan", seconds, rss, found, len(found), code)


def table(mb: float, runs: list[Run], planted: list[Planted]) -> str:
    rows = [
        "| tool | MB | seconds | MB/s | peak RSS (MB) | planted keys found |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        got = sum((p.path, p.line) in r.found for p in planted)
        rows.append(
            f"| {r.name} | {mb:.1f} | {r.seconds:.2f} | {mb / r.seconds:.2f} | {r.peak_rss_mb:.0f} | "
            f"{got}/{len(planted)} |"
        )
    if len(runs) == 2:
        rows.append("")
        rows.append(
            f"prguard is **{runs[1].seconds / runs[0].seconds:.0f}×** faster than detect-secrets' CLI."
        )
    return "\n".join(rows)


def notes_text(arg_mb: float, mb: float, planted: list[Planted], cpu: int | None) -> str:
    kinds = len({p.rule_id for p in planted})
    return (
        f"Measured {time.strftime('%Y-%m-%d')} on {cpu} cores shared with other work, with "
        f"`.venv/bin/python bench/secrets_throughput.py --mb {arg_mb:g}`: {len(planted)} freshly generated "
        f"keys of {kinds} kinds (OpenAI, Anthropic, Hugging Face, Google, Groq, … AWS, GitHub, Slack, Stripe "
        f"and a PEM private key) planted in {mb:.1f} MB of Python/JS/JSON/YAML copied from the virtualenv's "
        "packages, committed as one change (base = a commit without them). Both tools run as their CLIs, "
        "in separate processes, in the same run: `prguard scan --format json --base <base>` and "
        "`detect-secrets scan` over the same files. Seconds are wall-clock; peak RSS is that of the largest "
        "process of each command. A planted key counts as found when the tool reports its file and "
        "line.\n\n"
        "Why the difference: detect-secrets dispatches ~27 plugins and ~10 filters on every line. prguard "
        "runs three RE2 passes (a union of per-detector *gates*: literal prefixes, keywords, quoted runs "
        "long enough to pass the entropy limit) over each file's added bytes, and only candidate lines reach "
        "detect-secrets' plugins and prguard's own detectors (`checks/secrets/prefilter.py`; "
        "`tests/test_secrets_prefilter.py` checks that the gates are a superset of every plugin). "
        "detect-secrets finds fewer planted keys because it has no detector for most LLM providers."
    )


def write_section(text: str, path: Path = REPO / "docs" / "BENCHMARKS.md") -> None:
    """Replace (or append) the secrets section, leaving other sections alone."""
    path.parent.mkdir(parents=True, exist_ok=True)
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    section = f"{SECTION}\n\n{text}\n"
    if SECTION in old:
        head, _, rest = old.partition(SECTION)
        nxt = rest.find("\n## ")
        tail = rest[nxt + 1 :] if nxt != -1 else ""
        new = head + section + ("\n" + tail if tail else "")
    else:
        new = old.rstrip("\n") + "\n\n" + section
    path.write_text(new)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=50.0, help="size of the added source (default 50)")
    parser.add_argument("--no-detect-secrets", action="store_true", help="time prguard only")
    parser.add_argument("--no-write", action="store_true", help="do not update docs/BENCHMARKS.md")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="prguard-bench-"))
    try:
        root = tmp / "repo"
        t = time.perf_counter()
        base, planted, total = build_repo(root, args.mb)
        mb = total / (1024 * 1024)
        print(f"built {mb:.1f} MB in {time.perf_counter() - t:.0f}s, {len(planted)} planted keys", flush=True)
        runs = [run_prguard(root, base, tmp)]
        if not args.no_detect_secrets:
            runs.append(run_detect_secrets(root, tmp))
        missed = [p for p in planted if (p.path, p.line) not in runs[0].found]
        result = table(mb, runs, planted)
        notes = notes_text(args.mb, mb, planted, os.cpu_count())
        print(result)
        if missed:
            print("prguard missed:", ", ".join(f"{p.rule_id} at {p.path}:{p.line}" for p in missed))
        if not args.no_write:
            write_section(result + "\n\n" + notes)
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
