"""bot.github.render: what a check run shows for a result (conclusion, summary, annotations, batching)."""

from __future__ import annotations

import dataclasses
import json

from githubkit.compat import type_validate_python
from githubkit_schemas.v2026_03_10.models import (
    ReposOwnerRepoCheckRunsCheckRunIdPatchBodyAnyof0 as PatchBody0,
)
from githubkit_schemas.v2026_03_10.models import (
    ReposOwnerRepoCheckRunsCheckRunIdPatchBodyAnyof1 as PatchBody1,
)

from bot.github.render import (
    MAX_SUMMARY,
    report_cancelled,
    report_disabled,
    report_failed,
    report_for_result,
    report_policy_error,
    report_unavailable,
)
from checks.engine import CheckResult
from checks.finding import Finding, Severity, Skipped, make_fingerprint

SECRET = "ghp_" + "A1b2C3d4" * 5


def finding(line: int, severity: Severity = Severity.HIGH, path: str = "src/app.py") -> Finding:
    return Finding(
        check="secrets", rule_id="github-token", severity=severity, path=path, line=line,
        title="GitHub token", message="GitHub token ghp_…(44 chars) added", remediation="Revoke it.",
        fingerprint=make_fingerprint("github-token", path, str(line)), metadata={"secret": SECRET},
    )


def result(*findings: Finding, error: str | None = None, skipped: list[Skipped] | None = None) -> CheckResult:
    return CheckResult(check="secrets", title="Secrets", findings=list(findings), error=error,
                       skipped=skipped or [], duration_s=0.25, files_scanned=3)


BLOB = "https://github.com/octo/repo/blob/abc123"


def test_blocking_findings_fail_with_annotations_on_exact_lines() -> None:
    report = report_for_result(result(finding(12), finding(3, Severity.LOW)), fail_on=Severity.HIGH,
                               blob_base=BLOB)
    assert report.conclusion == "failure"
    assert report.title == "1 blocking finding, 1 below the threshold"
    by_line = {a["start_line"]: a for a in report.annotations}
    assert by_line[12]["annotation_level"] == "failure" and by_line[12]["end_line"] == 12
    assert by_line[3]["annotation_level"] == "warning"
    assert by_line[12]["path"] == "src/app.py"
    assert "rule: github-token" in by_line[12]["raw_details"]
    assert f"[`src/app.py:12`]({BLOB}/src/app.py#L12)" in report.summary
    assert "| high | 1 |" in report.summary and "| low | 1 |" in report.summary


def test_warnings_only_is_neutral_and_clean_is_success() -> None:
    warned = report_for_result(result(finding(1, Severity.MEDIUM)), fail_on=Severity.HIGH)
    assert warned.conclusion == "neutral"
    clean = report_for_result(result(), fail_on=Severity.HIGH)
    assert clean.conclusion == "success" and clean.annotations == []
    assert clean.requests() == [{"status": "completed", "conclusion": "success",
                                 "output": {"title": clean.title, "summary": clean.summary}}]


def test_an_errored_check_fails_and_says_how_to_retry() -> None:
    report = report_for_result(result(error="RuntimeError: engine crashed"), fail_on=Severity.HIGH)
    assert report.conclusion == "failure"
    assert "could not finish" in report.summary and "RuntimeError: engine crashed" in report.summary
    assert "Re-run" in report.summary and "push a new commit" in report.summary


def test_annotations_are_batched_by_50_and_each_request_resends_title_and_summary() -> None:
    report = report_for_result(result(*(finding(i) for i in range(1, 121))), fail_on=Severity.HIGH)
    bodies = report.requests()
    assert [len(b["output"].get("annotations", [])) for b in bodies] == [50, 50, 20]
    assert bodies[0]["status"] == "completed" and bodies[0]["conclusion"] == "failure"
    assert all("status" not in b for b in bodies[1:])
    assert all(b["output"]["title"] == report.title and b["output"]["summary"] == report.summary
               for b in bodies)
    # githubkit's own request model accepts every body (it rejects 51 annotations before sending)
    for body in bodies:
        type_validate_python(PatchBody0 | PatchBody1, body)


def test_annotation_cap_is_reported_in_the_summary() -> None:
    report = report_for_result(result(*(finding(i) for i in range(1, 131))), fail_on=Severity.HIGH,
                               annotation_cap=100)
    assert len(report.annotations) == 100
    assert "30 findings not annotated inline (at most 100 annotations per run)" in report.summary
    assert len(report.requests()) == 2


def test_huge_tables_are_truncated_under_githubs_limit_with_a_note() -> None:
    many = [finding(i, path=f"src/{'deep/' * 20}file_{i}.py") for i in range(1, 4001)]
    report = report_for_result(result(*many), fail_on=Severity.HIGH, blob_base=BLOB)
    assert len(report.summary) <= MAX_SUMMARY
    assert "Table truncated:" in report.summary
    assert report.summary.rstrip().endswith("s.")  # the footer (duration) survived the truncation


def test_skipped_files_are_listed_with_their_reason() -> None:
    report = report_for_result(result(skipped=[Skipped("big.bin", "larger than 1048576 bytes")]),
                               fail_on=Severity.HIGH)
    assert "### Not scanned (1)" in report.summary
    assert "`big.bin` — larger than 1048576 bytes" in report.summary


def test_no_secret_or_raw_content_reaches_any_output() -> None:
    report = report_for_result(result(*(finding(i) for i in range(1, 60))), fail_on=Severity.HIGH,
                               blob_base=BLOB)
    assert SECRET not in json.dumps(report.requests())


def test_special_reports() -> None:
    unavailable = report_unavailable("iac")
    assert (unavailable.conclusion, unavailable.title) == ("neutral", "Not yet available")
    disabled = report_disabled("secrets", "main")
    assert disabled.conclusion == "neutral"
    assert disabled.title == "Disabled by .github/prguard.yml on main"
    invalid = report_policy_error("secrets", "fail_on: 'urgent' is not one of critical, high", 3, "main")
    assert invalid.conclusion == "failure" and "line 3" in invalid.title and "line 3" in invalid.summary
    failed = report_failed("secrets", "gave up after 3 attempts; last error: RequestFailed 500")
    assert failed.conclusion == "failure" and "could not finish" in failed.summary
    assert "Re-run" in failed.summary
    cancelled = report_cancelled("secrets", "f" * 40)
    assert cancelled.conclusion == "cancelled" and "ffffffffffff" in cancelled.summary


def test_summary_says_how_to_fix_each_rule_once() -> None:
    report = report_for_result(result(finding(3), finding(9)), fail_on=Severity.HIGH, blob_base=BLOB)
    assert "### How to fix" in report.summary
    assert report.summary.count("- `github-token`: Revoke it.") == 1


def test_files_github_did_not_list_never_pass() -> None:
    """Padding a PR past GitHub's 3,000-file listing must not hide the rest behind a green check."""
    clean = report_for_result(result(), fail_on=Severity.HIGH, unlisted=2000)
    assert clean.conclusion == "failure"
    assert clean.title == "Not fully scanned: 2000 files not listed by GitHub"
    assert "2000 files were not scanned" in clean.summary
    blocking = report_for_result(result(finding(1)), fail_on=Severity.HIGH, unlisted=5)
    assert (blocking.conclusion, blocking.title) == ("failure", "1 blocking finding")
    assert report_for_result(result(), fail_on=Severity.HIGH).conclusion == "success"


def test_every_policy_problem_is_listed_with_its_line() -> None:
    problems = (".github/prguard.yml line 2: fail_on: 'urgent' is not one of critical, high",
                ".github/prguard.yml line 5: checks: unknown check 'secrts'")
    report = report_policy_error("secrets", "fail_on: 'urgent' is not one of critical, high", 2, "main",
                                 problems=problems)
    assert "line 2" in report.title
    assert all(f"- {p}" in report.summary for p in problems)


def test_a_finding_in_an_earlier_commit_links_to_the_file_at_that_commit() -> None:
    """A key committed and then deleted is gone from the head: the summary names the commit and links to the
    file where it still exists, at that commit, not to the head (a 404)."""
    commit = "c0ffee" + "1" * 34
    old = dataclasses.replace(finding(0, path="leak.py"), metadata={"commit": commit})
    report = report_for_result(result(old), fail_on=Severity.HIGH, blob_base=BLOB)
    assert (f"[`leak.py (whole file) in {commit[:12]}`](https://github.com/octo/repo/blob/{commit}/leak.py)"
            in report.summary)
