"""No secret leaks (issue 11, part 2): a full scan of a PR full of secrets, with logging at DEBUG.

The whole App runs on loopback (receiver, worker with the scan, sign-off and commands handlers, real Redis,
the GitHub double) with the root logger at DEBUG through `bot.log.configure`, its JSON lines captured. The PR
adds LLM keys, GitHub tokens, AWS keys, a private key block, a key used as a file name and one in the PR's
description, and edits a prompt, so the sign-off runs too; then users post slash-commands (`signoff`, which
is refused while findings block, `waive`, `help`). None of these may appear anywhere prguard writes: the
logs, any check run (title, summary, text, annotations), any comment or review it posted, any request body
it sent to GitHub, or `GET /metrics` of the receiver and the worker. Nor may the installation tokens the
double issued, the App's private key (any line of its PEM body) or the webhook secret.

The scan does not read commit messages (the double does not model them): there is no such case here.
"""

from __future__ import annotations

import io
import json
import logging
import re
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bot import log as bot_log
from bot import metrics
from tests.e2e_stack import CHECKS, pr_payload
from tests.github_double.double import GitHubDouble
from tests.redis_server import free_port
from tests.secrets_keys import CASES, github_token, private_key_pem
from tests.signoff_stack import RUN, SignoffStack
from tests.test_signoff import POLICY, PROMPT_NEW, PROMPT_OLD

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def debug_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """The process's structured logs at DEBUG, as `prguard worker` configures them, written to a buffer.

    `configure` binds its handler to `sys.stderr` when called, so stderr is the buffer for that call only;
    the root logger's handlers and levels are put back afterwards (other tests share the process)."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logging.getLogger("httpx").level)
    buffer = io.StringIO()
    with monkeypatch.context() as patch:
        patch.setattr(sys, "stderr", buffer)
        bot_log.configure("DEBUG")
    try:
        yield buffer
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.getLogger("httpx").setLevel(saved[2])


def leaky_files() -> tuple[dict[str, tuple[bytes | None, bytes | None]], list[str]]:
    """The PR's added files and every secret value in them (one of each kind the secrets check knows)."""
    secrets: list[str] = []
    lines = []
    for case in CASES:
        key, line = case.line()
        secrets.append(key)
        lines.append(line)
    pem = private_key_pem()
    secrets += [line for line in pem.splitlines() if len(line) >= 16 and "PRIVATE KEY" not in line]
    named = github_token()  # a key used as a file name: its contents are harmless
    secrets.append(named)
    files: dict[str, tuple[bytes | None, bytes | None]] = {
        "app/llm.py": (None, ("\n".join(lines) + "\n").encode()),
        "deploy/key.py": (None, b"DEPLOY_KEY = '''%s'''\n" % pem.encode()),
        f"config/{named}.txt": (None, b"nothing here\n"),
        "prompts/system.txt": (PROMPT_OLD, PROMPT_NEW),
    }
    return files, secrets


def everything_written(d: GitHubDouble, stack: SignoffStack, pr: Any) -> dict[str, str]:
    """All prguard wrote to GitHub, by where it went: every run on the head, every comment and review, and
    every request body it sent (which also covers runs it completed and later replaced)."""
    runs = d.check_runs("octo/repo", pr.head_sha)
    out = {
        f"run {r.name} #{r.id}": json.dumps([r.title, r.summary, r.text, r.annotations, r.actions])
        for r in runs
    }
    out["comments"] = json.dumps([c.body for c in stack.social.app_comments("octo/repo", pr.number)])
    out["reviews"] = json.dumps([repr(r) for r in stack.social.reviews_on("octo/repo", pr.number)])
    # what it sent; not the paths it read (a contents URL names the file, which GitHub already has)
    out["request bodies"] = json.dumps([r.body for r in d.requests() if r.body is not None], default=str)
    return out


def metrics_pages(stack: SignoffStack) -> dict[str, str]:
    """`GET /metrics` of the receiver, and of a worker's own metrics server on a free port."""
    pages = {"receiver": httpx.get(f"{stack.receiver.url}/metrics", timeout=10).text}
    server = metrics.serve(free_port())
    try:
        pages["worker"] = httpx.get(f"http://127.0.0.1:{server.server_port}/metrics", timeout=10).text
    finally:
        server.shutdown()
        server.server_close()
    return pages


async def test_a_pr_full_of_secrets_leaks_none_at_debug_logging(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str, debug_logs: io.StringIO
) -> None:
    d = github_double
    files, secrets = leaky_files()
    described = github_token()  # in the PR's description: never scanned, so never known as a secret
    inst = d.add_installation("octo")
    d.add_repo("octo/repo", installation_id=inst,
               files={"README.md": b"hi\n", ".github/prguard.yml": POLICY, "prompts/system.txt": PROMPT_OLD})
    pr = d.create_pull_request("octo/repo", changes=files, user="dave")
    async with SignoffStack(d, redis_url, prefix=redis_prefix) as stack:
        stack.social.set_permission("octo/repo", "alice", "write")
        payload = pr_payload(pr, inst)
        payload["pull_request"]["body"] = f"rotating the deploy token {described} next week"
        assert (await stack.deliver("pull_request", payload)).status_code == 202
        await stack.drained()
        runs = await stack.completed(pr.head_sha, timeout=60, names=(*CHECKS, RUN))
        secrets_run = runs["prguard/secrets"]
        fingerprint = re.search(r"fingerprint: (\w+)", secrets_run.annotations[0]["raw_details"]).group(1)
        await stack.comment(pr, inst, "alice", "/prguard signoff prompt reviewed")
        await stack.comment(pr, inst, "alice", f"/prguard waive {fingerprint} revoked already")
        await stack.comment(pr, inst, "alice", "/prguard help")
        await stack.drained()
        pages = metrics_pages(stack)
        written = everything_written(d, stack, pr)

    # the scan really saw them: a blocking finding on each secret-bearing file, the refusal names findings
    assert secrets_run.conclusion == "failure"
    flagged = {a["path"] for a in secrets_run.annotations}
    assert {"app/llm.py", "deploy/key.py"} <= flagged
    assert any(p.startswith("config/") for p in flagged), flagged
    assert len([a for a in secrets_run.annotations if a["path"] == "app/llm.py"]) >= len(CASES) - 2
    bodies = [c.body for c in stack.social.app_comments("octo/repo", pr.number)]
    assert any("unwaived blocking findings remain" in b for b in bodies)
    assert any("/prguard signoff <reason>" in b for b in bodies)  # help answered

    logs = debug_logs.getvalue()
    assert '"level": "debug"' in logs and "scan.done" in logs, "logs were captured at DEBUG"
    tokens = list(d.tokens._tokens)  # every installation token the double issued
    assert tokens
    pem_lines = [line for line in d.private_key_pem.splitlines() if line and "PRIVATE KEY" not in line]
    forbidden = {
        **{f"secret #{i} ({s[:4]}…)": s for i, s in enumerate(secrets)},
        "the PR description's token": described,
        **{f"installation token #{i}": t for i, t in enumerate(tokens)},
        **{f"private key line {i}": line for i, line in enumerate(pem_lines)},
        "the webhook secret": d.webhook_secret,
    }
    places = {"logs": logs, **{f"metrics of the {k}": v for k, v in pages.items()}, **written}
    leaks = [(what, where) for where, text in places.items() for what, value in forbidden.items()
             if value in text or json.dumps(value)[1:-1] in text]
    assert leaks == [], leaks
