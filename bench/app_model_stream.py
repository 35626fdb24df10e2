"""The App's model streaming (`bot.github.blob_stream`): time and peak RSS of opening a large model blob of
a pull request through the opener checks use, side by side with a plain whole-body download (one `httpx`
GET of the same raw blob into memory), against the GitHub double on loopback.

    .venv/bin/python bench/app_model_stream.py [--mb 90] [--runs 3]

The double runs in its own process (it holds the blob); each measurement runs in a fresh process, and
"baseline" is the same process building the PR's `Change` without opening the model. Prints markdown.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MIB = 1024 * 1024


def serve(mb: int) -> None:
    """Child: a double with a PR adding an `mb` MiB model; prints what clients need, runs until stdin ends."""
    from tests.github_double.double import GitHubDouble

    blob = bytes(range(256)) * (mb * MIB // 256)
    with GitHubDouble() as d:
        inst = d.add_installation("octo")
        d.add_repo("octo/repo", installation_id=inst, files={"README.md": b"x\n"})
        pr = d.create_pull_request("octo/repo", changes={"models/big.pt": (None, blob)})
        print(json.dumps({"base_url": d.base_url, "app_id": d.app_id, "key": d.private_key_pem, "inst": inst,
                          "number": pr.number, "base": pr.base_sha, "head": pr.head_sha,
                          "token": d.mint_token(inst), "size": len(blob)}), flush=True)
        sys.stdin.read()


async def _measure(mode: str, info: dict) -> dict:  # type: ignore[type-arg]
    import httpx

    from bot.github.pull_change import FetchOptions, build_change
    from tests.github_double.testing import installation_client

    d = SimpleNamespace(base_url=info["base_url"], app_id=info["app_id"], private_key_pem=info["key"])
    # http_cache=False as prguard's own client (bot.github.client): hishel's cache buffers whole bodies
    async with installation_client(d, info["inst"], http_cache=False) as gh:  # type: ignore[arg-type]
        change = await build_change(gh, "octo", "repo", pr_number=info["number"], base_sha=info["base"],
                                    head_sha=info["head"], wants=lambda f: True,
                                    options=FetchOptions(max_file_bytes=MIB))
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.perf_counter()
        if mode == "opener":
            def run() -> None:
                with change.open("models/big.pt") as fh:
                    assert fh.seek(0, 2) == info["size"]
            await asyncio.to_thread(run)
        elif mode == "plain":
            sha = change.streamable[0].path and _blob_sha(change)
            def get() -> None:
                r = httpx.get(f"{info['base_url']}/repos/octo/repo/git/blobs/{sha}", timeout=120,
                              headers={"Authorization": f"token {info['token']}",
                                       "Accept": "application/vnd.github.raw+json"})
                assert len(r.content) == info["size"]
            await asyncio.to_thread(get)
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "rss_before_mb": before}


def _blob_sha(change) -> str:  # type: ignore[no-untyped-def]
    return change.reader.lookup("head", "models/big.pt").sha  # type: ignore[no-any-return]


def main(mb: int, runs: int) -> None:
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(mb)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        info = json.loads(server.stdout.readline())
        rows: dict[str, list[dict]] = {"baseline": [], "opener": [], "plain": []}  # type: ignore[type-arg]
        for _ in range(runs):
            for mode in rows:
                out = subprocess.run([sys.executable, __file__, "--measure", mode], input=json.dumps(info),
                                     capture_output=True, text=True, check=True)
                rows[mode].append(json.loads(out.stdout))
    finally:
        server.kill()
        server.wait()
    names = {"baseline": "baseline: the PR's Change built, model not opened",
             "opener": "prguard opener: raw blob streamed to an anonymous temp file",
             "plain": "plain httpx GET of the same raw blob (whole body in memory)"}
    print(f"| {mb} MiB model blob, median of {runs}, fresh process each | seconds | peak RSS MB |")
    print("|---|---|---|")
    for mode, values in rows.items():
        secs = statistics.median(v["seconds"] for v in values)
        rss = statistics.median(v["rss_mb"] for v in values)
        print(f"| {names[mode]} | {secs:.2f} | {rss:.0f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=90)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--serve", type=int)
    parser.add_argument("--measure")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
    elif args.measure:
        print(json.dumps(asyncio.run(_measure(args.measure, json.loads(sys.stdin.read())))))
    else:
        main(args.mb, args.runs)
