"""Turn check results into GitHub check-run payloads: conclusion, Markdown summary and annotations.

Pure functions, no network: `bot.features.scan` posts what these return. GitHub's limits shape them: a
summary of at most 65,535 characters (the findings table is truncated with a note), at most 50 annotations
per request (`RunReport.requests` batches them: the completing update carries the first 50, further updates
the rest, each resending title and summary), and a cap on annotations per run (`annotation_cap`, default
500) beyond which the summary says how many findings were not annotated.

A file-level finding (`line == 0`) is annotated on line 1, since GitHub needs a line, with "(whole file)"
in its title; its table link has no line anchor.

Findings arrive already redacted by the checks; nothing here reads file contents.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import quote

from bot.log import scrub
from checks.change import could_hold_text
from checks.engine import CheckResult
from checks.finding import SEVERITY_ORDER, Finding, Severity
from checks.redact import visible
from checks.registry import TITLES
from checks.signoff.findings import findings_block
from checks.waivers import Waived, Waiver, apply, today_utc

MAX_SUMMARY = 65_535
ANNOTATIONS_PER_REQUEST = 50
DEFAULT_ANNOTATION_CAP = 500
RETRY_HINT = "re-run it from the Checks tab (**Re-run**) or push a new commit"


@dataclass
class RunReport:
    """What one check run shows once completed."""

    check: str
    conclusion: str
    title: str
    summary: str
    annotations: list[dict[str, Any]] = field(default_factory=list)
    #: the run's output `text` (the findings block the AI safety sign-off reads back), "" for none
    text: str = ""

    def requests(self) -> list[dict[str, Any]]:
        """PATCH bodies in order: the completing one with the first 50 annotations, then the rest by 50."""
        output = {"title": self.title, "summary": self.summary, **({"text": self.text} if self.text else {})}
        batches = [
            self.annotations[i : i + ANNOTATIONS_PER_REQUEST]
            for i in range(0, len(self.annotations), ANNOTATIONS_PER_REQUEST)
        ] or [[]]
        bodies: list[dict[str, Any]] = []
        for i, batch in enumerate(batches):
            body: dict[str, Any] = {"output": dict(output)}
            if batch:
                body["output"]["annotations"] = batch
            if i == 0:
                body["status"] = "completed"
                body["conclusion"] = self.conclusion
            bodies.append(body)
        return bodies


def check_title(check: str) -> str:
    return TITLES.get(check, check)


def _cell(text: str, limit: int = 200) -> str:
    """Table-safe text: one line, pipes escaped, control characters made visible, length bounded,
    registered secrets scrubbed."""
    flat = visible(" ".join(scrub(str(text)).split())).replace("|", "\\|")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _path_cell(path: str) -> str:
    """A path as a cell: every control character visible, even whitespace (`a\\u000ab.py`, not `a b.py`)."""
    return _cell(visible(scrub(path)))


def blob_link(blob_base: str, finding: Finding) -> str:
    """A link to the finding's lines at the head, or, for a finding in what an earlier commit added (its
    `metadata["commit"]`), to the file at that commit, where it still exists."""
    end = finding.end_line if finding.end_line and finding.end_line > finding.line else None
    anchor = "" if finding.file_level else f"#L{finding.line}" + (f"-L{end}" if end else "")
    shown = visible(finding.path)
    location = f"{shown} (whole file)" if finding.file_level else f"{shown}:{finding.line}"
    if scrub(finding.path) != finding.path:  # a secret is part of the path: no link may carry it
        blob_base = ""
    commit = str(finding.metadata.get("commit") or "")
    if commit:
        location += f" in {commit[:12]}"
        blob_base = f"{blob_base.rsplit('/', 1)[0]}/{commit}" if blob_base else ""
    if not blob_base:
        return f"`{_cell(location)}`"
    return f"[`{_cell(location)}`]({blob_base}/{quote(finding.path)}{anchor})"


def annotation_level(finding: Finding, fail_on: Severity) -> str:
    if finding.severity.at_least(fail_on):
        return "failure"
    return "notice" if finding.severity is Severity.INFO else "warning"


def annotation(finding: Finding, fail_on: Severity) -> dict[str, Any]:
    """One annotation; a file-level finding sits on line 1 (GitHub needs a line) and says "(whole file)"."""
    start = 1 if finding.file_level else finding.line
    end = finding.end_line if finding.end_line and finding.end_line >= start else start
    whole = " (whole file)" if finding.file_level else ""
    details = [f"rule: {finding.rule_id}", f"severity: {finding.severity.value}",
               f"fingerprint: {finding.fingerprint}"]
    if finding.remediation:
        details.append(f"remediation: {finding.remediation}")
    return {
        "path": scrub(finding.path),  # a key used as a file name is redacted here too (`bot.log`)
        "start_line": start,
        "end_line": end,
        "annotation_level": annotation_level(finding, fail_on),
        "title": f"[{finding.severity.value}] {finding.title}"[: 255 - len(whole)] + whole,
        "message": (finding.message or finding.title)[:4000],
        "raw_details": "\n".join(details)[:4000],
    }


def _counts_line(findings: list[Finding]) -> str:
    counts = Counter(f.severity for f in findings)
    parts = [f"{counts[s]} {s.value}" for s in SEVERITY_ORDER if counts[s]]
    return ", ".join(parts) if parts else "none"


def report_for_result(
    result: CheckResult,
    *,
    fail_on: Severity,
    blob_base: str = "",
    policy_source: str = "defaults",
    annotation_cap: int = DEFAULT_ANNOTATION_CAP,
    max_summary: int = MAX_SUMMARY,
    unlisted: int = 0,
    fail_on_unscanned: bool = False,
    waivers: Sequence[Waiver] = (),
    today: date | None = None,
) -> RunReport:
    """The completed run for one check's result.

    `blob_base` is `https://<host>/<owner>/<repo>/blob/<head_sha>` so each finding links to its exact line.
    `unlisted` is how many of the PR's files GitHub's files API did not list (it stops at 3,000): a scan
    that never saw them cannot pass, since padding a PR with 3,000 harmless files would otherwise hide
    anything in the rest. With the policy's `fail_on_unscanned`, a file that could hold text but was not
    scanned (over the size cap, binary that may be text, unreadable) fails the run too.

    `waivers` (the PR's own waiver records and the base policy's waivers, `checks.waivers`): a waived finding
    neither blocks nor is annotated; the summary lists it under *Waived* with who, when and why, and lists a
    finding whose policy waiver expired as not waived. The findings block keeps every finding, so the
    sign-off (which applies the same waivers itself) and `waive`/`unwaive` still see it.
    """
    today = today or today_utc()
    applied = apply(result.findings, waivers, today)
    findings = applied.kept
    blocking = [f for f in findings if f.severity.at_least(fail_on)]
    unscanned = ([s for s in result.skipped if could_hold_text(s.reason)] if fail_on_unscanned else [])
    if result.error:
        conclusion, title = "failure", "The check errored"
    elif unscanned and not blocking:
        conclusion = "failure"
        title = f"Not fully scanned: {len(unscanned)} file{'s' * (len(unscanned) != 1)} that could hold text"
    elif unlisted and not blocking:
        conclusion = "failure"
        title = f"Not fully scanned: {unlisted} file{'s' * (unlisted != 1)} not listed by GitHub"
    elif blocking:
        conclusion = "failure"
        title = f"{len(blocking)} blocking finding{'s' * (len(blocking) != 1)}"
        if len(findings) > len(blocking):
            title += f", {len(findings) - len(blocking)} below the threshold"
    elif findings:
        conclusion = "neutral"
        title = f"{len(findings)} warning{'s' * (len(findings) != 1)} (below {fail_on.value})"
    elif applied.waived:
        conclusion = "success"
        title = f"No unwaived findings ({len(applied.waived)} waived)"
    else:
        conclusion, title = "success", "No findings in the lines this PR adds"
    if applied.waived and findings:
        title += f" ({len(applied.waived)} waived)"

    ordered = sorted(findings, key=lambda f: (-f.severity.rank, f.path, f.line))
    annotations = [annotation(f, fail_on) for f in ordered[:annotation_cap]]
    not_annotated = len(ordered) - len(annotations)

    head: list[str] = []
    if result.error:
        head += [
            f"**The {check_title(result.check)} check could not finish**, so this PR was not fully scanned "
            f"for it. Error: `{_cell(result.error)}`",
            "",
            f"To retry, {RETRY_HINT}.",
            "",
        ]
    if unlisted:
        head += [
            f"**This PR changes more files than GitHub lists (3,000): {unlisted} "
            f"{'files were' if unlisted != 1 else 'file was'} not scanned**, "
            "so prguard cannot pass it. Split the pull request, or have it reviewed and merged by an admin.",
            "",
        ]
    if unscanned:
        head += [
            f"**{len(unscanned)} file{'s' * (len(unscanned) != 1)} that could hold text "
            f"{'were' if len(unscanned) != 1 else 'was'} not scanned** (see *Not scanned* below), and the "
            "policy's `fail_on_unscanned` makes that blocking.",
            "",
        ]
    head += [
        f"**Findings in lines this PR adds:** {_counts_line(findings)} "
        f"(blocking at **{fail_on.value}** or above, from {policy_source})"
        + (f"; {len(applied.waived)} waived (see *Waived*)." if applied.waived else "."),
        "",
    ]
    if findings:
        head += ["| Severity | Count |", "|---|---|"]
        counts = Counter(f.severity for f in findings)
        head += [f"| {s.value} | {counts[s]} |" for s in SEVERITY_ORDER if counts[s]]
        head.append("")
    tail: list[str] = _waived_lines(blob_base, applied.waived, applied.expired, today)
    fixes = list(dict.fromkeys((f.rule_id, f.remediation) for f in ordered if f.remediation))
    if fixes:
        tail += ["### How to fix", ""]
        tail += [f"- `{_cell(rule)}`: {_cell(fix, 600)}" for rule, fix in fixes[:10]]
        if len(fixes) > 10:
            tail.append(f"- … {len(fixes) - 10} more rules: see each annotation's raw details")
        tail.append("")
    if not_annotated:
        tail += [f"{not_annotated} finding{'s' * (not_annotated != 1)} not annotated inline "
                 f"(at most {annotation_cap} annotations per run); all are listed in the table above "
                 "unless it was truncated.", ""]
    skipped = result.skipped
    if skipped:
        tail.append(f"### Not scanned ({len(skipped)})")
        for item in skipped[:100]:
            tail.append(f"- `{_path_cell(item.path)}` — {_cell(item.reason)}")
        if len(skipped) > 100:
            tail.append(f"- … and {len(skipped) - 100} more")
        tail.append("")
    tail.append(f"Scanned {result.files_scanned} file{'s' * (result.files_scanned != 1)} "
                f"in {result.duration_s:.2f} s.")
    if result.check == "dependencies":  # the advisory data's source and date: a stale index shows
        from checks.dependencies.index_access import data_line

        tail += [line for line in (data_line(),) if line]

    table: list[str] = []
    if ordered:
        table = ["### Findings", "", "| Severity | Location | Rule | Title |", "|---|---|---|---|"]
    by_file = result.check == "iac"  # engine findings on resources: grouped by file, with engine and fix
    if table and by_file:
        table[2:] = ["| Location | Severity | Rule | Engine | Resource | Fix |", "|---|---|---|---|---|---|"]
    budget = max_summary - len("\n".join(head + tail)) - 400
    shown = 0
    rows: list[str] = []
    for finding in sorted(ordered, key=lambda f: (f.path, f.line)) if by_file else ordered:
        row = (_engine_row(blob_base, finding) if by_file else
               f"| {finding.severity.value} | {blob_link(blob_base, finding)} | `{_cell(finding.rule_id)}` "
               f"| {_cell(finding.title)} |")
        if budget - len(row) - 1 < 0:
            break
        budget -= len(row) + 1
        rows.append(row)
        shown += 1
    if table:
        table += rows
        if shown < len(ordered):
            table.append("")
            table.append(f"_Table truncated: {len(ordered) - shown} more findings not shown "
                         "(GitHub limits a summary to 65,535 characters); see the annotations._")
        table.append("")
    summary = "\n".join(head + table + tail)
    # scrubbed like the table: a key used as a file name never reaches the run's text
    block = scrub(findings_block(result.check, fail_on.value, result.findings)) if result.findings else ""
    return RunReport(result.check, conclusion, title, summary[:max_summary], annotations, text=block)


def _waived_lines(blob_base: str, waived: list[Waived], expired: list[Waived], today: date) -> list[str]:
    """The *Waived* section: each waived finding with who, when and why (or the policy waiver's expiry),
    then each finding whose policy waiver expired, which still counts."""
    lines: list[str] = []
    for heading, items in ((f"### Waived ({len(waived)})", waived),
                           (f"### Expired waivers ({len(expired)})", expired)):
        if not items:
            continue
        lines += [heading, ""]
        for item in items[:50]:
            f = item.finding
            lines.append(f"- `{f.fingerprint}` {f.severity.value} `{_cell(f.rule_id)}` in "
                         f"{blob_link(blob_base, f)}: {_cell(item.waiver.describe(today), 300)}")
        if len(items) > 50:
            lines.append(f"- … and {len(items) - 50} more")
        lines.append("")
    return lines


def _engine_row(blob_base: str, finding: Finding) -> str:
    """A row of the by-file table: the rule links to its documentation (the finding's first https link)."""
    links = [str(x) for x in finding.metadata.get("links") or [] if str(x).startswith("https://")]
    rule = f"[`{_cell(finding.rule_id)}`]({links[0]})" if links else f"`{_cell(finding.rule_id)}`"
    resource = str(finding.metadata.get("resource") or "")
    shown = f"`{_cell(resource)}`" if resource else ""
    return (f"| {blob_link(blob_base, finding)} | {finding.severity.value} | {rule} "
            f"| {_cell(str(finding.metadata.get('engine', '')))} | {shown} "
            f"| {_cell(finding.remediation or finding.title, 300)} |")


def annotations_refused_note(summary: str, error: str, *, max_summary: int = MAX_SUMMARY) -> str:
    """`summary` with a note that GitHub refused the inline annotations (the table above still lists all)."""
    note = (f"\n\n> **Note:** GitHub refused this run's inline annotations (`{_cell(error)}`); the findings "
            "are listed in the table above instead.")
    return summary[: max_summary - len(note)] + note


def report_unavailable(check: str) -> RunReport:
    return RunReport(
        check, "neutral", "Not yet available",
        f"The **{check_title(check)}** check is announced but not built yet, so nothing was scanned for it. "
        "It reports `neutral`, never `success`, so it cannot be mistaken for a pass. Nothing to do on "
        "this pull request: `neutral` does not block merging, even when the check is required.",
    )


def report_disabled(check: str, base_ref: str) -> RunReport:
    return RunReport(
        check, "neutral", f"Disabled by .github/prguard.yml on {base_ref}",
        f"The **{check_title(check)}** check is turned off by `.github/prguard.yml` on the base branch "
        f"`{_cell(base_ref)}`, so nothing was scanned for it. (The policy is always read from the base "
        "branch, so a pull request cannot switch its own checks off.)",
    )


def report_policy_error(check: str, error: str, line: int | None, base_ref: str,
                        problems: tuple[str, ...] = ()) -> RunReport:
    """Every problem is listed (each with its line), so an admin can fix the file in one go."""
    where = f" (line {line})" if line else ""
    listed = [f"> {_cell(error)}"]
    if len(problems) > 1:
        listed = [f"- {_cell(problem, 300)}" for problem in problems[:20]]
        if len(problems) > 20:
            listed.append(f"- … and {len(problems) - 20} more")
    return RunReport(
        check, "failure", f"Invalid .github/prguard.yml{where}",
        f"`.github/prguard.yml` on the base branch `{_cell(base_ref)}` is invalid{where}:\n\n"
        + "\n".join(listed)
        + f"\n\nNo check ran, so this PR is not approved by prguard. Fix the policy on "
        f"`{_cell(base_ref)}`, then {RETRY_HINT}.",
    )


def report_failed(check: str, reason: str) -> RunReport:
    """The scan could not finish (dead letter): a visible failure, never a silent pass."""
    return RunReport(
        check, "failure", "The scan could not finish",
        f"prguard could not finish scanning this commit for **{check_title(check)}** after several "
        f"attempts. Last error: `{_cell(reason)}`\n\nTo retry, {RETRY_HINT}.",
    )


def report_cancelled(check: str, newer_sha: str = "", *, closed: bool = False) -> RunReport:
    if closed:
        return RunReport(check, "cancelled", "Pull request closed",
                         "The pull request was closed before prguard finished scanning this commit.")
    by = f" {newer_sha[:12]}" if newer_sha else ""
    return RunReport(
        check, "cancelled", "Superseded by a newer push",
        f"This commit was superseded by a newer push{by}; prguard scans the pull request's newest head only.",
    )


def in_progress_body(check: str) -> dict[str, Any]:
    from bot.github.checkruns import now

    return {
        "status": "in_progress",
        "started_at": now(),
        "output": {"title": "Scanning…",
                   "summary": f"prguard is scanning the lines this PR adds for {check_title(check)}."},
    }
