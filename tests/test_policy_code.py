"""Policy as code: Rego from the base branch (regopy, time-limited), the example policies of docs/policies,
`prguard policy eval`, `prguard scan --explain`, and the red-team result parsers."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from bot.cli.main import main
from checks.policy import PolicyError, parse_policy
from checks.signoff.config import RepoWaiver, SignoffConfig
from checks.signoff.evidence import parse_garak, parse_promptfoo
from tests.github_double.double import GitHubDouble
from tests.gitrepo import GitRepo
from tests.scanning import scan
from tests.signoff_stack import SignoffStack
from tests.test_signoff import checks_off

POLICIES = Path(__file__).resolve().parents[1] / "docs" / "policies"
ENDPOINTS = (POLICIES / "ai_endpoint_controls.rego").read_bytes()
CHAT = b"from openai import OpenAI\n\nclient = OpenAI()\n"
CHAT_FIXED = (
    CHAT + b"import logging\nlogger = logging.getLogger(__name__)\nlimiter = Limiter(per_minute=60)\n"
)


def _pr(d: GitHubDouble, rego: dict[str, bytes]) -> tuple[int, object]:
    inst = d.add_installation("octo")
    files = {"README.md": b"hi\n", ".github/prguard.yml": checks_off(), **rego}
    d.add_repo("octo/repo", installation_id=inst, files=files)
    pr = d.create_pull_request("octo/repo", changes={"app/chat.py": (None, CHAT)}, user="dave")
    return inst, pr


async def test_rego_deny_blocks_the_signoff_and_the_fix_unblocks(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    d = github_double
    inst, pr = _pr(d, {".github/prguard/endpoints.rego": ENDPOINTS})
    async with SignoffStack(d, redis_url, prefix=redis_prefix) as stack:
        stack.social.set_permission("octo/repo", "mia", "maintain")
        await stack.opened(pr, inst)
        run = stack.run(pr)
        assert run.conclusion == "action_required"
        assert "deny: app/chat.py calls an LLM without a rate limit" in run.summary
        assert "deny: app/chat.py calls an LLM without logging" in run.summary
        await stack.comment(pr, inst, "mia", "/prguard signoff ok")
        refusal = stack.social.app_comments("octo/repo", pr.number)[-1].body
        assert "denied by policy" in refusal and "without a rate limit" in refusal
        assert stack.run(pr).conclusion == "action_required"
        d.push("octo/repo", pr.number, {"app/chat.py": CHAT_FIXED})
        await stack.opened(pr, inst, action="synchronize")
        assert "calls an LLM without" not in stack.run(pr).summary
        await stack.comment(pr, inst, "mia", "/prguard signoff rate limited and logged now")
        assert stack.run(pr).conclusion == "success"


async def test_invalid_rego_file_fails_the_run_with_file_and_line(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    d = github_double
    broken = b"package prguard\n\nimport rego.v1\n\ndeny contains msg if {\n"
    inst, pr = _pr(d, {".github/prguard/broken.rego": broken})
    async with SignoffStack(d, redis_url, prefix=redis_prefix) as stack:
        await stack.opened(pr, inst)
        run = stack.run(pr)
        assert run.conclusion == "failure"
        assert run.title == "Invalid Rego policy (`.github/prguard/broken.rego` line 5)"
        assert "could not be compiled" in run.summary


def _facts(tmp_path: Path, facts: dict[str, object]) -> str:
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(facts))
    return str(path)


def test_policy_eval_with_the_example_policies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    risky = {
        "ai_paths": {"models/m.onnx": "model"},
        "files": [{"path": "models/m.onnx"}, {"path": "deploy/production/values.yaml"}],
        "evidence": {"files": ["evals/bias.json"], "redteam": []},
        "provenance": {"model_refs": [], "signatures": [], "commits": [{"sha": "a" * 40, "verified": True}]},
        "endpoints": [],
    }
    code = main(["policy", "eval", "--input", _facts(tmp_path, risky), "--policy", str(POLICIES)])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert out == [
        "deny: model change without a toxicity evaluation (add one under evals/, e.g. "
        "evals/toxicity-results.json)",
        "deny: models/m.onnx is promoted to production without a signature (add models/m.onnx.sig or "
        "models/m.onnx.sigstore.json)",
    ]
    fixed = {
        **risky,
        "evidence": {"files": ["evals/bias.json", "evals/toxicity.json"], "redteam": []},
        "provenance": {**risky["provenance"], "signatures": ["models/m.onnx.sig"]},
    }  # type: ignore[dict-item]
    assert main(["policy", "eval", "--input", _facts(tmp_path, fixed), "--policy", str(POLICIES)]) == 0
    assert capsys.readouterr().out == "no deny, no warn\n"


def test_policy_eval_invalid_and_slow_policies_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.rego"
    bad.write_text("package prguard\nimport rego.v1\ndeny contains m if {\n")
    facts = _facts(tmp_path, {})
    assert main(["policy", "eval", "--input", facts, "--policy", str(bad)]) == 2
    assert f"{bad} line 3" in capsys.readouterr().err
    slow = tmp_path / "slow.rego"
    slow.write_text(
        "package prguard\nimport rego.v1\n"
        "deny contains m if { n := count([x | some x in numbers.range(1, 100000000)]); "
        'm := sprintf("%v", [n]) }\n'
    )
    assert main(["policy", "eval", "--input", facts, "--policy", str(slow), "--timeout", "0.5"]) == 2
    assert "time limit (0.5 s)" in capsys.readouterr().err


def test_scan_explain_prints_the_facts_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # only the secrets check: the facts document is the subject here, not the other engines
    policy = "checks:\n  dependencies: false\n  iac: false\n  prompt-safety: false\n"
    repo = GitRepo.on_feature_branch(tmp_path / "r", {"README.md": "hi\n", ".github/prguard.yml": policy})
    repo.commit({"app/chat.py": CHAT_FIXED.decode(), "prompts/system.txt": "Be brief.\n"})
    code, out, _ = scan(capsys, repo, "--explain")
    assert code == 0
    doc = json.loads(out)
    assert doc["ai_paths"] == {"app/chat.py": "llm-code", "prompts/system.txt": "prompt"}
    assert doc["endpoints"] == [{"path": "app/chat.py", "rate_limit": True, "logging": True}]
    assert {f["path"] for f in doc["files"]} == {"app/chat.py", "prompts/system.txt"}


def test_promptfoo_and_garak_results_parse() -> None:
    promptfoo = json.dumps(
        {
            "evalId": "x",
            "results": {
                "version": 3,
                "results": [
                    {"success": True},
                    {"success": False, "metadata": {"pluginId": "pii:direct"}},
                    {"success": False, "testCase": {"metadata": {"pluginId": "harmful:hate"}}},
                    {"success": True},
                ],
            },
        }
    )
    r = parse_promptfoo("evals/results.json", promptfoo.encode())
    assert r is not None
    assert (r.passed, r.total, r.failed_categories) == (2, 4, ("harmful:hate", "pii:direct"))
    garak = b"\n".join(
        [
            b'{"entry_type": "start_run setup"}',
            b'{"entry_type": "eval", "probe": "dan.Dan_11_0", "detector": "dan.DAN", "passed": 9, '
            b'"total": 10}',
            b'{"entry_type": "eval", "probe": "encoding.InjectBase64", "detector": "x", "passed": 10, '
            b'"total": 10}',
        ]
    )
    g = parse_garak("redteam/garak.report.jsonl", garak)
    assert g is not None and (g.passed, g.total, g.failed_categories) == (19, 20, ("dan.Dan_11_0",))
    assert g.pass_rate == pytest.approx(0.95)
    assert parse_promptfoo("x.json", b"not json") is None and parse_garak("x.jsonl", b"{}") is None


def test_repo_waiver_expiry() -> None:
    w = RepoWaiver("0123456789abcdef", "accepted risk", "2026-01-31")
    assert not w.expired(date(2026, 1, 31)) and w.expired(date(2026, 2, 1))
    assert not RepoWaiver("0123456789abcdef", "forever").expired(date(2999, 1, 1))
    # YAML reads an unquoted 2026-01-31 as a date; the policy accepts both forms and names a bad one
    policy = parse_policy("waivers:\n  - {fingerprint: 0123456789abcdef, reason: r, expires: 2026-01-31}\n")
    assert SignoffConfig.from_extra(policy.extra).waivers[0].expires == "2026-01-31"
    bad = parse_policy("waivers:\n  - {fingerprint: 0123456789abcdef, reason: r, expires: soon}\n")
    with pytest.raises(PolicyError, match=r"waivers\[0\]\.expires: expected a date"):
        SignoffConfig.from_extra(bad.extra)
