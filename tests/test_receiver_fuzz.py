"""Issue 11 part 2, bad input: property-based fuzzing (hypothesis) of the receiver's signatures, headers and
bodies, on the pure functions and over real HTTP.

Hypothesis runs derandomized (a fixed seed derived from each test), so a run is reproducible; the example
counts keep the whole file to a few seconds. The properties are what a GitHub App must guarantee: only the
exact HMAC of the exact bytes is accepted, nothing a client sends gives a 500, and a payload that is not a
JSON object is "malformed", never a crash.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.runtime.deliveries import payload as parse_payload
from bot.runtime.receiver import signature_ok
from tests.test_receiver_hardening import SECRET, start_receiver
from tests.webhooks import ServedApp, sign


def fuzz(examples: int) -> settings:
    """Derandomized (reproducible), no per-example deadline (the machine may be loaded), no database."""
    return settings(derandomize=True, deadline=None, database=None, max_examples=examples,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
KEY = SECRET.encode()


def _expected(body: bytes) -> str:
    return "sha256=" + hmac.new(KEY, body, hashlib.sha256).hexdigest()


@fuzz(200)
@given(body=st.binary(max_size=2048), header=st.one_of(st.none(), st.text(max_size=120)))
def test_only_the_exact_hmac_of_the_exact_bytes_is_accepted(body: bytes, header: str | None) -> None:
    assert signature_ok(KEY, body, header) is (header == _expected(body))
    assert signature_ok(KEY, body, _expected(body)) is True
    if body:
        assert signature_ok(KEY, body[:-1], _expected(body)) is False


@fuzz(300)
@given(header=st.text(alphabet="sha256=0123456789abcdefABCDEF", max_size=80))
def test_near_miss_signatures_are_refused(header: str) -> None:
    body = b'{"action": "opened"}'
    assert signature_ok(KEY, body, header) is (header == _expected(body))


# JSON as GitHub writes it: no NaN/Infinity (not JSON), integers within 64 bits (GitHub's ids are; orjson
# reads larger ones as floats)
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@fuzz(300)
@given(value=JSONISH, content_type=st.sampled_from(["application/json", "application/x-www-form-urlencoded",
                                                    "text/plain", ""]))
def test_a_body_is_a_json_object_or_malformed_never_an_exception(value: object, content_type: str) -> None:
    raw = json.dumps(value).encode()
    body = (b"payload=" + raw.replace(b"%", b"%25").replace(b"&", b"%26").replace(b"+", b"%2B")
            if content_type.startswith("application/x-www-form") else raw)
    parsed = _payload(body, content_type)
    assert parsed == (value if isinstance(value, dict) else None)


@fuzz(300)
@given(body=st.binary(max_size=512), content_type=st.text(max_size=60))
def test_arbitrary_bytes_never_raise(body: bytes, content_type: str) -> None:
    parsed = _payload(body, content_type)
    assert parsed is None or isinstance(parsed, dict)


def _payload(body: bytes, content_type: str) -> dict[str, object] | None:
    """What the worker routing a queued delivery reads from its body (the receiver queues UTF-8 only)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return parse_payload(text, content_type.startswith("application/x-www-form-urlencoded"))


CLIENT = httpx.Client(timeout=10)  # keep-alive: the fuzzing costs requests, not connections


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedApp]:
    import uuid

    from tests.redis_server import delete_prefix, reachable

    url = "redis://127.0.0.1:6379/0"
    if not reachable("127.0.0.1", 6379):
        pytest.fail("Redis on 127.0.0.1:6379 is needed (.ci/run starts one)")
    prefix = f"prguard-fuzz-{uuid.uuid4().hex[:8]}"
    server = start_receiver(url, prefix)
    yield server
    server.stop()
    delete_prefix(url, prefix)


# what an HTTP client can send as a header value (h11 refuses surrounding blanks on the client side)
PRINTABLE = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
HEADER_TEXT = st.text(alphabet=PRINTABLE, max_size=200).map(str.strip)


@fuzz(60)
@given(event=HEADER_TEXT, delivery=HEADER_TEXT, body=st.binary(max_size=4096),
       signed=st.booleans(), content_type=st.sampled_from(["application/json", "text/plain",
                                                           "application/x-www-form-urlencoded"]))
def test_no_request_gets_a_server_error(served: ServedApp, event: str, delivery: str, body: bytes,
                                        signed: bool, content_type: str) -> None:
    headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "Content-Type": content_type,
               "X-Hub-Signature-256": sign(body, SECRET) if signed else "sha256=" + "0" * 64}
    reply = CLIENT.post(f"{served.url}/webhook", content=body, headers=headers)
    assert reply.status_code < 500 or reply.status_code == 503, (reply.status_code, reply.text)
    if not signed:
        assert reply.status_code == 401
    assert reply.json()["status"]  # always GitHub-readable JSON saying what happened
