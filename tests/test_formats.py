"""The scan report formats: text for people, JSON for scripts, SARIF for GitHub code scanning and viewers."""

from __future__ import annotations

import json
from typing import Any

import jsonschema

from bot.cli import formats
from bot.cli.formats.scan_report import ScanReport
from bot.log import add_sensitive
from checks.engine import CheckResult
from checks.finding import Finding, Severity, Skipped, make_fingerprint
from tests.conftest import SCHEMAS
from tests.secrets_keys import HEX, pick

SARIF_SCHEMA = SCHEMAS / "sarif-schema-2.1.0.json"  # OASIS, verbatim: tests/fixtures/README.md


def finding(path: str, line: int, severity: Severity, rule: str = "demo/rule", **extra: Any) -> Finding:
    return Finding(
        check="demo",
        rule_id=rule,
        severity=severity,
        path=path,
        line=line,
        title=f"Title of {rule}",
        message=f"Something on line {line}",
        fingerprint=make_fingerprint(rule, path, f"content {line}"),
        remediation=extra.pop("remediation", "Remove it and rotate."),
        metadata=extra.pop("metadata", {"cwe": ["CWE-798"], "owasp": ["LLM02:2025"]}),
        **extra,
    )


def make_report(*, error: str | None = None) -> ScanReport:
    demo = CheckResult(
        check="demo",
        title="Demo",
        findings=[
            finding("src/app.py", 3, Severity.CRITICAL, "demo/key", end_line=5),
            finding("src/app.py", 9, Severity.LOW, "demo/keyword"),
            finding("docs/read me.md", 1, Severity.HIGH, "demo/key"),
        ],
        skipped=[Skipped("data/big.csv", "larger than the 1 MiB size cap (3.2 MiB)")],
    )
    other = CheckResult(check="other", title="Other", error=error)
    return ScanReport(
        root="/tmp/some repo",
        base="a" * 40,
        head="worktree",
        results=[demo, other],
        fail_on={"demo": Severity.HIGH, "other": Severity.HIGH},
        files_scanned=3,
        skipped_by_change=[Skipped("data/big.csv", "larger than the 1 MiB size cap (3.2 MiB)")],
        unavailable=["iac"],
    )


def test_registry_lists_the_three_formats() -> None:
    assert formats.names() == ["text", "json", "sarif"]


def test_text_is_grouped_by_file_with_a_summary_and_plain_without_colour() -> None:
    out = formats.render("text", make_report(), color=False)

    assert "\x1b[" not in out
    lines = out.splitlines()
    assert lines[0] == "docs/read me.md"
    assert lines[1].split() == ["docs/read", "me.md:1", "high", "demo/key", "Title", "of", "demo/key"]
    assert lines.index("src/app.py") > 1
    assert any(line.startswith("  src/app.py:3  ") and "critical" in line for line in lines)
    assert "      Something on line 3" in lines
    assert lines.count("      fix: Remove it and rotate.") == 2  # once per rule (demo/key, demo/keyword)
    summary = next(line for line in lines if line.startswith("3 findings"))
    assert "1 critical, 1 high, 1 low" in summary and "2 blocking" in summary and "3 files scanned" in summary
    assert "skipped data/big.csv: larger than the 1 MiB size cap (3.2 MiB)" in lines
    assert out.count("skipped data/big.csv") == 1  # reported by the change and the check: shown once
    assert "not available yet: iac" in out


def test_text_colour_only_when_asked() -> None:
    out = formats.render("text", make_report(), color=True)

    assert "\x1b[1;31mcritical" in out and "\x1b[0m" in out


def test_text_shows_errors_and_no_findings() -> None:
    report = make_report(error="RuntimeError: boom")
    report.results[0].findings.clear()

    out = formats.render("text", report)

    assert "No findings" in out and "1 check error" in out
    assert "error: check other did not finish: RuntimeError: boom" in out


def test_json_shape() -> None:
    report = make_report(error="RuntimeError: boom")

    doc = json.loads(formats.render("json", report))

    assert list(doc) == ["version", "base", "head", "findings", "skipped", "errors"]
    assert (doc["version"], doc["base"], doc["head"]) == (1, "a" * 40, "worktree")
    assert doc["findings"] == [f.to_dict() for f in report.findings()]
    assert doc["findings"][0]["path"] == "docs/read me.md"
    assert set(doc["findings"][0]) >= {
        "check", "rule_id", "severity", "path", "line", "end_line", "title", "message", "remediation",
        "fingerprint", "metadata",
    }  # fmt: skip
    assert doc["skipped"] == [{"path": "data/big.csv", "reason": "larger than the 1 MiB size cap (3.2 MiB)"}]
    assert doc["errors"] == [{"check": "other", "message": "RuntimeError: boom"}]


def test_errors_are_scrubbed_of_registered_secrets() -> None:
    value = "tok_" + pick(32, HEX)
    add_sensitive(value)
    report = make_report(error=f"ValueError: could not parse {value}")

    for name in formats.names():
        out = formats.render(name, report)
        assert value not in out
        assert "tok_" in out and "(36 chars)" in out  # redacted: first 4 characters and the length


def validate_sarif(doc: dict[str, Any]) -> None:
    schema = json.loads(SARIF_SCHEMA.read_text())
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]


def test_sarif_validates_and_meets_github_expectations() -> None:
    report = make_report()
    doc = json.loads(formats.render("sarif", report))

    validate_sarif(doc)
    assert doc["version"] == "2.1.0"
    run = doc["runs"][0]
    driver = run["tool"]["driver"]
    assert (
        driver["name"] == "prguard" and driver["version"] and driver["informationUri"].startswith("https://")
    )
    assert [r["id"] for r in driver["rules"]] == ["demo/key", "demo/keyword"]  # one rule per id
    key_rule = driver["rules"][0]
    assert key_rule["name"] == "Key"
    assert key_rule["shortDescription"]["text"] == "Title of demo/key"
    assert key_rule["fullDescription"]["text"]
    assert key_rule["help"]["text"] == "Remove it and rotate."
    assert "**Title of demo/key**" in key_rule["help"]["markdown"]
    assert key_rule["defaultConfiguration"]["level"] == "error"
    assert key_rule["properties"]["security-severity"] == "8.0"  # the first finding of the rule is high
    assert {"security", "external/cwe/cwe-798", "owasp/LLM02:2025"} <= set(key_rule["properties"]["tags"])
    assert driver["rules"][1]["properties"]["security-severity"] == "3.0"

    results = run["results"]
    assert [(r["ruleId"], r["ruleIndex"], r["level"]) for r in results] == [
        ("demo/key", 0, "error"),
        ("demo/key", 0, "error"),
        ("demo/keyword", 1, "note"),
    ]
    first = results[0]["locations"][0]["physicalLocation"]
    assert first["artifactLocation"] == {"uri": "docs/read%20me.md", "uriBaseId": "%SRCROOT%"}
    assert first["region"] == {"startLine": 1, "endLine": 1}
    assert results[1]["locations"][0]["physicalLocation"]["region"] == {"startLine": 3, "endLine": 5}
    fingerprints = [f.fingerprint for f in report.findings()]
    expected = [{"prguardFingerprint/v1": fp} for fp in fingerprints]
    assert [r["partialFingerprints"] for r in results] == expected
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == "file:///tmp/some%20repo/"

    invocation = run["invocations"][0]
    assert invocation["executionSuccessful"] is True
    notes = invocation["toolExecutionNotifications"]
    skipped = [n for n in notes if n["descriptor"]["id"] == "prguard/skipped-file"]
    assert [n["message"]["text"] for n in skipped] == [
        "data/big.csv was not scanned: larger than the 1 MiB size cap (3.2 MiB)"
    ]


def test_sarif_marks_a_failed_check_as_unsuccessful() -> None:
    doc = json.loads(formats.render("sarif", make_report(error="RuntimeError: boom")))

    validate_sarif(doc)
    invocation = doc["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    errors = [n for n in invocation["toolExecutionNotifications"] if n["level"] == "error"]
    assert [n["message"]["text"] for n in errors] == ["check other did not finish: RuntimeError: boom"]


def test_sarif_with_no_findings_is_valid() -> None:
    report = make_report()
    report.results[0].findings.clear()

    doc = json.loads(formats.render("sarif", report))

    validate_sarif(doc)
    assert doc["runs"][0]["results"] == [] and doc["runs"][0]["tool"]["driver"]["rules"] == []
