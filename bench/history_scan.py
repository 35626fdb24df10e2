"""History scan cost: `prguard scan --history` follows what the commits added, not commits × tree size.

Builds temporary repositories with `git fast-import` (a base commit, then --commits commits on a branch)
for four shapes of branch, and times, for each:

- `history_from_git` (the one `git log -m -p -U0 --raw` and its parsing),
- the secrets check over that history alone (`scanned` bytes, counted by `History.scanned_bytes`: with no
  head files to compare, it reads every added byte),
- the whole `prguard scan --history --head <tip> --base <base> --format json` in its own process (the head
  scan too; a file a commit left as the head has it is read once, by the head scan),

next to what rescanning every commit's full tree would cost (one full-tree scan of the largest tree,
measured in-process, times the number of commits). The table is printed; nothing is written.

    .venv/bin/python bench/history_scan.py                  # 200 commits, a 20 MB tree
    .venv/bin/python bench/history_scan.py --commits 50 --tree-mb 5
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from checks.change import Change, LineSet  # noqa: E402
from checks.diff import line_count  # noqa: E402
from checks.engine import run_check  # noqa: E402
from checks.git_history import history_from_git  # noqa: E402
from checks.secrets.check import SecretsCheck  # noqa: E402
from checks.secrets.scanner import scan_bytes  # noqa: E402

GIT_ENV = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C"}


@dataclass
class Row:
    name: str
    commits: int
    tree_bytes: int
    added_bytes: int
    scanned_bytes: int
    log_s: float
    scan_s: float
    cli_s: float
    cli_exit: int


def text_file(rng: random.Random, size: int) -> bytes:
    """Source-like lines, some of which wake the keyword and URL detectors, with no secret in any of them."""
    out = bytearray()
    while len(out) < size:
        n, kind = rng.randrange(10**6), rng.randrange(8)
        if kind == 0:
            out += f'password_{n} = os.environ.get("DB_PASSWORD_{n}")\n'.encode()
        elif kind == 1:
            out += f'url_{n} = "https://example.invalid/api/v1/items/{n}"\n'.encode()
        else:
            out += f"{rng.choice('abcdefgh')}_{n} = {rng.randrange(10**9)}  # note\n".encode()
    return bytes(out[:size].rsplit(b"\n", 1)[0] + b"\n")


def fast_import(root: Path, base: dict[str, bytes], commits: list[dict[str, bytes]]) -> tuple[str, str]:
    """A repository with `base` on main and `commits` on feature; returns (base sha, tip sha)."""
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True, env=GIT_ENV)
    out = bytearray()

    def commit(branch: str, n: int, files: dict[str, bytes], parent: str | None) -> None:
        nonlocal out
        out += f"commit refs/heads/{branch}\ncommitter b <b@b.invalid> {1_700_000_000 + n} +0000\n".encode()
        out += b"data 2\nc\n" + (f"from {parent}\n".encode() if parent else b"")
        for path, data in files.items():
            out += f"M 100644 inline {path}\ndata {len(data)}\n".encode() + data + b"\n"
        out += b"\n"

    commit("main", 0, base, None)
    for i, files in enumerate(commits):
        commit("feature", i + 1, files, "refs/heads/main" if i == 0 else None)
    subprocess.run(["git", "-C", str(root), "fast-import", "--quiet"], input=bytes(out), check=True,
                   env=GIT_ENV)

    def rev(ref: str) -> str:
        return subprocess.run(["git", "-C", str(root), "rev-parse", ref], capture_output=True, check=True,
                              env=GIT_ENV).stdout.decode().strip()

    subprocess.run(["git", "-C", str(root), "checkout", "-q", "feature"], check=True, env=GIT_ENV)
    return rev("main"), rev("feature")


def scenarios(rng: random.Random, commits: int, tree_mb: float) -> dict[str, tuple[dict, list[dict]]]:
    small_tree = {f"src/f{i}.py": text_file(rng, 1024) for i in range(10)}
    files = max(1, int(tree_mb * 1024 * 1024 / 10_240))
    large_tree = {f"src/{i // 100}/f{i}.py": text_file(rng, 10_240) for i in range(files)}
    big = text_file(rng, 512 * 1024).splitlines(keepends=True)
    rewrites = []
    for n in range(commits):
        big[n * 37 % len(big)] = f"changed_{n} = {n}\n".encode()
        rewrites.append({"data/big.py": b"".join(big)})
    return {
        "small tree, +1 KB file each": (small_tree, [{f"new/n{n}.py": text_file(rng, 1024)}
                                                      for n in range(commits)]),
        "large tree, +1 KB file each": (large_tree, [{f"new/n{n}.py": text_file(rng, 1024)}
                                                      for n in range(commits)]),
        "large tree, 1 line of a 512 KB file each": ({**large_tree, "data/big.py": b"".join(big)}, rewrites),
        "large tree, +64 KB file each": (large_tree, [{f"new/n{n}.py": text_file(rng, 65_536)}
                                                       for n in range(commits)]),
    }


def measure(name: str, base_tree: dict[str, bytes], commits: list[dict[str, bytes]]) -> Row:
    with tempfile.TemporaryDirectory(prefix="prguard-history-bench-") as tmp:
        root = Path(tmp) / "repo"
        base, tip = fast_import(root, base_tree, commits)
        started = time.perf_counter()
        history = history_from_git(str(root), base, tip)
        logged = time.perf_counter()
        run_check(SecretsCheck(), Change(base, tip, [], history=history))
        scanned = time.perf_counter()
        assert history.scanned_bytes == history.added_bytes, "bytes scanned must equal bytes added"
        cli = [str(Path(sys.executable).with_name("prguard")), "scan", str(root), "--history", "--head", tip,
               "--base", base, "--format", "json", "--max-commits", str(len(commits))]
        t0 = time.perf_counter()
        proc = subprocess.run(cli, capture_output=True, check=False)
        cli_s = time.perf_counter() - t0
        return Row(name, len(commits), sum(map(len, base_tree.values())), history.added_bytes,
                   history.scanned_bytes, logged - started, scanned - logged, cli_s, proc.returncode)


def full_tree_scan_seconds(tree: dict[str, bytes]) -> float:
    """One scan of every line of `tree` (what a per-commit full-tree rescan would pay each commit)."""
    started = time.perf_counter()
    for path, data in tree.items():
        scan_bytes(path, data, LineSet.whole(line_count(data)))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=200)
    parser.add_argument("--tree-mb", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    shapes = scenarios(rng, args.commits, args.tree_mb)
    rows = [measure(name, tree, commits) for name, (tree, commits) in shapes.items()]
    largest = max((tree for tree, _ in shapes.values()), key=lambda t: sum(map(len, t.values())))
    once = full_tree_scan_seconds(largest)

    head = (f"| branch ({args.commits} commits) | tree | added | scanned | git log + parse | secrets scan "
            f"| `prguard scan --history` | exit |")
    print(head)
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r.name} | {r.tree_bytes / 2**20:.1f} MiB | {r.added_bytes / 1024:.0f} KiB "
              f"| {r.scanned_bytes / 1024:.0f} KiB | {r.log_s:.2f} s | {r.scan_s:.2f} s | {r.cli_s:.2f} s "
              f"| {r.cli_exit} |")
    print(f"\nRescanning the full tree of every commit instead: {once:.2f} s per "
          f"{sum(map(len, largest.values())) / 2**20:.1f} MiB tree × {args.commits} commits ≈ "
          f"{once * args.commits:.0f} s.")


if __name__ == "__main__":
    main()
