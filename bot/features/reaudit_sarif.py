"""The re-audit's optional second channel: a SARIF 2.1.0 upload to GitHub code scanning, made only when the
operator granted the installation `security_events: write` (app.yml never asks for it: least privilege).

Whether the permission is there is read from the installation object the re-audit already holds
(`GET /app/installations` returns each installation's granted `permissions`, the same object as
`GET /app/installations/{id}`): no extra request, and no reaching into githubkit's token cache for the
permissions an access-token response carries. A permission granted later is seen on the next pass.

What is uploaded: every package the re-audit has reported on the default branch that is still affected, not
only this pass's new ones. Code scanning treats each upload as the complete analysis for its category on
that ref and closes as "fixed" any alert missing from it, so an upload of only the new matches would close
the alerts of the previous pass while the vulnerable package is still there. Alerts keep their identity
across uploads through `partialFingerprints` (prguard's line-independent fingerprint). The category is
`runs[].automationDetails.id` = "prguard/dependencies/" (the REST endpoint has no category field).

A failed upload is logged and changes nothing else: the check run is already posted and stays.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Sequence
from typing import Any

from bot.cli.formats import sarif
from bot.cli.formats.scan_report import ScanReport
from bot.log import get_logger, scrub
from checks.engine import CheckResult
from checks.finding import Finding, Severity

log = get_logger("prguard.reaudit")

CATEGORY = "prguard/dependencies"
TOOL_NAME = "prguard"


def can_upload(installation: Any) -> bool:
    """Whether the installation (a githubkit `Installation` from the App's listing) may upload SARIF."""
    return getattr(getattr(installation, "permissions", None), "security_events", None) == "write"


def document(findings: Sequence[Finding], head: str) -> dict[str, Any]:
    """prguard's own SARIF writer over the findings, with the category set and no local-path base URI."""
    result = CheckResult(check="dependencies", title="Dependencies", findings=list(findings), files_scanned=0)
    report = ScanReport(root="/", base="", head=head, results=[result],
                        fail_on={"dependencies": Severity.HIGH})
    doc = sarif.document(report)
    run = doc["runs"][0]
    run.pop("originalUriBaseIds", None)  # paths are relative to the repository root, as GitHub expects
    run["automationDetails"] = {"id": f"{CATEGORY}/"}
    return doc


def encode(doc: dict[str, Any]) -> str:
    """gzip then base64, as the upload endpoint requires (mtime 0: the same document gives the same bytes)."""
    raw = json.dumps(doc, separators=(",", ":"), default=str).encode()
    return base64.b64encode(gzip.compress(raw, mtime=0)).decode("ascii")


async def upload(inst: Any, owner: str, repo: str, branch: str, head: str, findings: Sequence[Finding]
                 ) -> str | None:
    """Upload; the receipt id, or None after logging why not (never raises)."""
    body = {"commit_sha": head, "ref": f"refs/heads/{branch}", "sarif": encode(document(findings, head)),
            "tool_name": TOOL_NAME}
    try:
        receipt = (await inst.rest.code_scanning.async_upload_sarif(owner, repo, data=body)).parsed_data
    except Exception as exc:  # a rejected or lost upload must not undo the run already posted
        log.warning("reaudit.sarif_failed", repo=f"{owner}/{repo}", head=head,
                    error=scrub(f"{type(exc).__name__}: {exc}")[:500])
        return None
    receipt_id = str(getattr(receipt, "id", "") or "")
    log.info("reaudit.sarif_uploaded", repo=f"{owner}/{repo}", head=head, id=receipt_id,
             packages=len(findings))
    return receipt_id
