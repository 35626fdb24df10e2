"""`POST /repos/{owner}/{repo}/code-scanning/sarifs`: a SARIF upload, checked the way GitHub checks it.

GitHub refuses the upload (403 "Resource not accessible by integration") unless the installation was granted
`security_events: write`; the body needs a 40-hex `commit_sha` of the repository, a `refs/heads/…` or
`refs/pull/…` `ref`, and `sarif` as gzip then base64. The decoded document is validated against the OASIS
SARIF 2.1.0 schema (tests/fixtures/schemas), so a malformed upload is a 400 here as it is on GitHub, and
each accepted upload is recorded (`uploads(double)`) with its decoded SARIF for tests to read.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import re
import weakref
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.github_double import api
from tests.github_double.auth import AuthError, bearer
from tests.github_double.shapes import PERMISSIONS

if TYPE_CHECKING:
    from tests.github_double.double import GitHubDouble

SCHEMA = Path(__file__).resolve().parents[1] / "fixtures" / "schemas" / "sarif-schema-2.1.0.json"
_REF = re.compile(r"refs/(heads|tags)/.+|refs/pull/\d+/(head|merge)")
_SHA = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True)
class SarifUpload:
    id: str
    repo: str
    commit_sha: str
    ref: str
    tool_name: str | None
    sarif: dict[str, Any]


_UPLOADS: weakref.WeakKeyDictionary[Any, list[SarifUpload]] = weakref.WeakKeyDictionary()


def uploads(double: GitHubDouble) -> list[SarifUpload]:
    """Every upload the double accepted, oldest first."""
    return _UPLOADS.setdefault(double, [])


@cache
def _validator() -> Any:
    schema = json.loads(SCHEMA.read_text())
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def _permission(request: Request) -> str | None:
    double = api.double_of(request)
    token = bearer(request.headers.get("authorization"))
    try:
        installation_id = double.tokens.check(token or "").installation_id
    except AuthError as exc:
        raise api.ApiError(401, str(exc)) from None
    inst = double.state.installations[installation_id]
    return (inst.permissions or PERMISSIONS).get("security_events")


def _decode(text: Any) -> dict[str, Any]:
    if not isinstance(text, str):
        raise api.ApiError(422, "Invalid request.\n\n\"sarif\" is not a string.")
    try:
        document = json.loads(gzip.decompress(base64.b64decode(text, validate=True)))
    except (binascii.Error, OSError, EOFError, ValueError) as exc:
        raise api.ApiError(400, f"Invalid SARIF: not gzip+base64 JSON ({type(exc).__name__})") from None
    errors = sorted(_validator().iter_errors(document), key=lambda e: list(e.path))
    if errors:
        where = "/".join(str(p) for p in errors[0].path)
        raise api.ApiError(400, f"Invalid SARIF: {where}: {errors[0].message}"[:500])
    return document


async def upload_sarif(request: Request) -> Response:
    double = api.double_of(request)
    body = json.loads(await request.body() or b"null")
    with double.state.lock:
        repo = api.require_repo(request)
        if _permission(request) != "write":
            raise api.ApiError(403, "Resource not accessible by integration")
        if not isinstance(body, dict):
            raise api.ApiError(400, "Problems parsing JSON")
        sha, ref = body.get("commit_sha"), body.get("ref")
        if not isinstance(sha, str) or not _SHA.fullmatch(sha) or repo.resolve(sha) != sha:
            raise api.ApiError(422, "Invalid request.\n\n\"commit_sha\" is not a commit of this repository.")
        if not isinstance(ref, str) or not _REF.fullmatch(ref):
            raise api.ApiError(422, f"Invalid request.\n\n\"{ref}\" is not a valid ref.")
        document = _decode(body.get("sarif"))
        found = uploads(double)
        upload = SarifUpload(f"sarif-{len(found) + 1}", repo.full_name, sha, ref, body.get("tool_name"),
                             document)
        found.append(upload)
    url = f"{double.base_url}/repos/{repo.full_name}/code-scanning/sarifs/{upload.id}"
    return JSONResponse({"id": upload.id, "url": url}, 202)


ROUTES = [
    Route("/repos/{owner}/{repo}/code-scanning/sarifs", upload_sarif, methods=["POST"]),
]
