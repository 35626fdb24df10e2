"""`prguard scan` run in-process on a test repository, as a user runs it, for tests that read its output."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.cli.main import main
from tests.gitrepo import GitRepo


def scan(capsys: pytest.CaptureFixture[str], repo: GitRepo, *args: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of `prguard scan REPO ARGS`."""
    code = main(["scan", str(repo.path), *args])
    out, err = capsys.readouterr()
    return code, out, err


def scan_json(capsys: pytest.CaptureFixture[str], repo: GitRepo, *args: str
              ) -> tuple[int, dict[str, Any], str]:
    """Exit code, the parsed JSON report ({} when nothing was written) and stderr."""
    code, out, err = scan(capsys, repo, "--format", "json", *args)
    return code, (json.loads(out) if out.strip() else {}), err
