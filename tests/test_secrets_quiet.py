"""Quietness: adding a large tree of ordinary third-party source must produce almost no findings.

The change is built the way a PR that vendors libraries looks to the check: every line of every file is
added. The libraries are the ones installed in the virtualenv (real code with docstrings, test vectors,
URLs with example credentials, PEM handling code, hashes).
"""

from __future__ import annotations

import sysconfig
from pathlib import Path

from checks.change import Change, ChangedFile, FileStatus, LineSet, looks_binary
from checks.engine import run_check
from checks.finding import Severity
from checks.secrets import SecretsCheck

SITE = Path(sysconfig.get_paths()["purelib"])
LIBRARIES = [
    *("starlette", "httpx", "httpcore", "pydantic", "pydantic_core", "yaml", "cryptography", "jwt", "pip"),
    *("boltons", "urllib3", "requests", "detect_secrets", "certifi", "idna", "click", "rich", "pygments"),
    *("jsonschema", "markdown_it", "anyio", "redis", "uvicorn", "packaging", "pip_audit", "setuptools"),
    "opentelemetry",
]

#: Bounds the test enforces. Measured on this 25 MB tree: 0.0 findings/MB at >= medium, 0.44/MB overall
#: (all low: PEM header literals in parser code, two base64 test strings).
MAX_MEDIUM_PER_MB = 0.1
MAX_ANY_PER_MB = 1.0


def vendored_change() -> tuple[Change, int]:
    files: list[ChangedFile] = []
    total = 0
    for lib in LIBRARIES:
        root = SITE / lib
        assert root.is_dir(), f"{lib} is not installed in the virtualenv"
        for path in sorted(root.rglob("*")):
            if not path.is_file() or "__pycache__" in path.parts or path.stat().st_size > 1024 * 1024:
                continue
            data = path.read_bytes()
            if looks_binary(data):
                continue
            total += len(data)
            lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
            files.append(
                ChangedFile(
                    path=f"vendor/{path.relative_to(SITE).as_posix()}",
                    status=FileStatus.ADDED,
                    added_lines=LineSet.whole(lines),
                    size=len(data),
                    head_loader=lambda data=data: data,
                )
            )
    return Change("base", "head", files), total


def test_vendored_libraries_produce_almost_no_findings():
    change, total = vendored_change()
    mb = total / (1024 * 1024)
    assert mb > 20, "the corpus should be large enough to mean something"
    result = run_check(SecretsCheck(), change)
    assert result.error is None
    medium = [f for f in result.findings if f.severity.at_least(Severity.MEDIUM)]
    listing = "\n".join(f"{f.rule_id} {f.path}:{f.line} {f.metadata['redacted']}" for f in result.findings)
    assert len(medium) / mb <= MAX_MEDIUM_PER_MB, listing
    assert len(result.findings) / mb <= MAX_ANY_PER_MB, listing
