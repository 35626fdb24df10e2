"""Send real GitHub webhook payloads, signed as GitHub signs them, to a running receiver (for any test).

    from tests.webhooks import ServedApp, fixture_body, send

    with ServedApp(create_app(settings)) as server:          # uvicorn on a free loopback port, in a thread
        body = fixture_body("pull_request", "opened")        # the exact bytes of the fixture
        reply = send(server.url, "pull_request", body, secret="s3cret")   # 202 when queued

`fixture_payload(...)` returns the parsed payload to adapt (say, another head SHA or action) before
`json_body(payload)`; the adapted payload keeps GitHub's real shape. The payloads are kept in the repository,
in tests/fixtures/webhooks (`FIXTURES`; tests/fixtures/README.md names their source).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import threading
import time
import uuid
from functools import cache
from types import TracebackType
from typing import Any

import httpx
import uvicorn

from tests.conftest import FIXTURES
from tests.redis_server import free_port


def fixture_path_for(event: str, action: str | None = None) -> str:
    name = f"{action}.payload.json" if action else "payload.json"
    return str(FIXTURES / event / name)


@cache
def _fixture_bytes(event: str, action: str | None) -> bytes:
    with open(fixture_path_for(event, action), "rb") as handle:
        return handle.read()


def fixture_body(event: str, action: str | None = None) -> bytes:
    """The fixture's exact bytes (`fixture_body("ping")` for ping/payload.json)."""
    return _fixture_bytes(event, action)


def fixture_payload(event: str, action: str | None = None) -> dict[str, Any]:
    """A fresh parsed copy of the fixture, safe to modify."""
    return copy.deepcopy(json.loads(_fixture_bytes(event, action)))


def json_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


def pull_request_payload(action: str = "opened", head_sha: str | None = None, number: int | None = None,
                         updated_at: str | None = None) -> dict[str, Any]:
    """The real `pull_request.opened` payload with another action / head SHA / number / updated_at."""
    payload = fixture_payload("pull_request", "opened")
    payload["action"] = action
    pr = payload["pull_request"]
    if head_sha is not None:
        pr["head"]["sha"] = head_sha
    if number is not None:
        pr["number"] = number
        payload["number"] = number
    if updated_at is not None:
        pr["updated_at"] = updated_at
    return payload


def sign(body: bytes, secret: str) -> str:
    """The `X-Hub-Signature-256` value GitHub sends for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def headers_for(event: str, body: bytes, secret: str | None, delivery: str | None = None) -> dict[str, str]:
    """GitHub's delivery headers; `secret=None` sends no signature."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/prguard-tests",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "1",
    }
    if secret is not None:
        headers["X-Hub-Signature-256"] = sign(body, secret)
    return headers


def send(base_url: str, event: str, body: bytes, secret: str | None, delivery: str | None = None,
         client: httpx.Client | None = None, **extra_headers: str) -> httpx.Response:
    """POST one signed delivery to `{base_url}/webhook` (extra headers: underscores become dashes)."""
    headers = headers_for(event, body, secret, delivery)
    headers.update({k.replace("_", "-"): v for k, v in extra_headers.items()})
    if client is not None:
        return client.post(f"{base_url}/webhook", content=body, headers=headers)
    return httpx.post(f"{base_url}/webhook", content=body, headers=headers, timeout=15)


class ServedApp:
    """Run an ASGI app with uvicorn on a free loopback port in a background thread (real HTTP)."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", log_config=None,
                                access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name=f"uvicorn-{self.port}", daemon=True)

    def start(self) -> ServedApp:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"uvicorn did not start on port {self.port}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    def __enter__(self) -> ServedApp:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def wait_healthy(url: str, proc: Any, timeout: float = 15.0) -> None:
    """Until a `prguard serve` process (`proc`, a Popen) answers `GET {url}/healthz` with 200; fails the test
    if it exits or does not answer within `timeout` seconds (with its stderr, when it was piped)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            err = proc.stderr.read() if proc.stderr is not None and proc.poll() is not None else ""
            raise AssertionError(f"prguard serve did not start: {err!r}"[:2000])
        time.sleep(0.1)
