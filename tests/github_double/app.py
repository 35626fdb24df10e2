"""The double's ASGI app: a gateway (the /api/v3 prefix, API versions, faults, the request log, GitHub's
response headers) in front of a starlette router whose handlers live in `routes.py` and `routes_checks.py`."""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import time
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tests.github_double import (
    routes,
    routes_checks,
    routes_code_scanning,
    routes_commits,
    routes_fleet,
    routes_social,
)
from tests.github_double.api import DEFAULT_API_VERSION, PREFIX, ApiError, error_response
from tests.github_double.state import RequestRecord

if TYPE_CHECKING:
    from tests.github_double.double import GitHubDouble


# What GitHub sends with an authenticated GET: a private cache may keep the reply for 60 s.
CACHE_HEADERS = [
    (b"cache-control", b"private, max-age=60, s-maxage=60"),
    (b"vary", b"Accept, Authorization, Cookie, X-GitHub-OTP, Accept-Encoding"),
]


class Gateway:
    """Strips /api/v3, refuses API versions the double does not know (`GitHubDouble.api_versions`; no header
    means GitHub's default, 2022-11-28), applies faults, logs every request and adds GitHub's headers."""

    def __init__(self, app: ASGIApp, double: GitHubDouble) -> None:
        self.app, self.double = app, double
        # `x-github-request-id`: 20 hex digits, unique per reply (a random prefix and a counter: uuid4 per
        # reply cost a syscall for randomness on every one of a 3,000-file PR's requests)
        self._request_prefix = secrets.token_hex(4)
        self._request_ids = itertools.count(1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        body = await _read_body(receive)
        record = RequestRecord(
            method,
            path.removeprefix(PREFIX) or "/",
            scope.get("query_string", b"").decode(),
            0,
            time.time(),
            _parse(body),
            None,
        )
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            await self._send(send, record, error_response(404, "Not Found"))
            return
        record.api_version = _header(scope, b"x-github-api-version")
        selected = record.api_version or DEFAULT_API_VERSION
        if selected not in self.double.api_versions:
            await self._send(send, record, self._unsupported_version(selected))
            return
        fault = self.double.faults.take(method, record.path)
        if fault is not None:
            record.fault = fault.describe()
            if fault.delay:
                await asyncio.sleep(fault.delay)
        inner = dict(scope, path=record.path, raw_path=record.path.encode(), root_path="")
        fault_response = None
        if fault is not None and fault.status is not None:
            fault_response = JSONResponse(fault.response_body(), fault.status, headers=fault.headers)
            if not fault.after_success:
                await self._send(send, record, fault_response)
                return

        async def replay() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        async def forward(message: Message) -> None:
            if fault_response is not None:
                return  # the handler's reply is swallowed: the fault answers instead
            if message["type"] == "http.response.start":
                record.status = message["status"]
                message["headers"] = [*message.get("headers", []), *self._github_headers()]
                message["headers"].append((b"x-github-api-version-selected", selected.encode()))
                if method == "GET" and record.status == 200:
                    message["headers"] += CACHE_HEADERS
                # Logged before the client can see the reply, so a test reading the log never misses it.
                self.double.state.log(record)
            await send(message)

        await self.app(inner, replay, forward)
        if fault_response is not None:
            await self._send(send, record, fault_response)

    async def _send(self, send: Send, record: RequestRecord, response: Response) -> None:
        record.status = response.status_code
        for key, value in self._github_headers():
            if key.decode() not in response.headers:
                response.raw_headers.append((key, value))
        self.double.state.log(record)
        await response({"type": "http"}, _no_receive, send)

    def _unsupported_version(self, version: str) -> Response:
        """GitHub's 400 for a version it does not know (its `errors` is a string here, not a list)."""
        known = [f'"{v}"' for v in sorted(self.double.api_versions, reverse=True)]
        supported = " and ".join([f"{known[0]} (most recent)", *known[1:]]) if known else "none"
        return error_response(400, "Bad Request", errors=(
            f'The version you specified in the "X-GitHub-API-Version" request header, "{version}", is not a '
            f"supported version. The following versions are currently supported: {supported}."
        ))

    def _github_headers(self) -> list[tuple[bytes, bytes]]:
        reset = str(int(time.time()) + 3600)
        return [
            (b"x-ratelimit-limit", b"5000"),
            (b"x-ratelimit-remaining", b"4999"),
            (b"x-ratelimit-reset", reset.encode()),
            (b"x-ratelimit-used", b"1"),
            (b"x-ratelimit-resource", b"core"),
            (b"x-github-request-id", f"{self._request_prefix}{next(self._request_ids):012x}".encode()),
        ]


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.message, **exc.extra)


async def _not_found(request: Request, exc: Exception) -> Response:
    return error_response(404, "Not Found")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


def _parse(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def build_app(double: GitHubDouble) -> ASGIApp:
    app = Starlette(
        routes=[*routes.ROUTES, *routes_checks.ROUTES, *routes_commits.ROUTES, *routes_social.ROUTES,
                *routes_fleet.ROUTES, *routes_code_scanning.ROUTES],
        exception_handlers={ApiError: _api_error, 404: _not_found, 405: _not_found},
    )
    app.state.double = double
    return Gateway(app, double)
