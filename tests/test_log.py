"""Structured logs: one JSON object per line, and registered secrets never written in any form."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot import log as botlog
from bot.log import JsonFormatter, add_sensitive, get_logger, scrub
from tests.secrets_keys import HEX, pick


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """What a `prguard.test.*` logger writes, through prguard's JSON formatter."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("prguard.test")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield buffer
    logger.removeHandler(handler)


def records(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_a_secret_with_quotes_backslashes_or_non_ascii_is_scrubbed_from_json(lines: io.StringIO) -> None:
    """json.dumps escapes `"`, `\\` and non-ASCII, so matching the raw value after serialising missed them."""
    secret = f'hook"se\\cr\u00e9t-{pick(8, HEX)}'
    add_sensitive(secret, pinned=True)
    get_logger("prguard.test").info("webhook.oops", error=f"bad signature with {secret}", delivery="d1")
    written = lines.getvalue()
    assert secret not in written and json.dumps(secret)[1:-1] not in written
    [record] = records(lines)  # still valid JSON, redacted the usual way
    assert record["error"] == f"bad signature with {botlog.redact(secret)}" and record["delivery"] == "d1"


def test_a_pem_in_a_traceback_is_scrubbed_line_by_line_and_whole(lines: io.StringIO) -> None:
    body = "\n".join(pick(32, HEX) * 2 for _ in range(3))
    pem = f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----\n"
    add_sensitive(pem, pinned=True)
    try:
        raise ValueError(pem)
    except ValueError:
        get_logger("prguard.test").error("job.crashed", exc_info=True, repr_of_key=repr(pem))
    written = lines.getvalue()
    assert all(line not in written for line in body.splitlines())
    assert records(lines)[0]["event"] == "job.crashed"


def test_job_context_fields_are_kept_beside_the_line_name(lines: io.StringIO) -> None:
    get_logger("prguard.test").info("job.start", event="pull_request.opened", delivery="d", repo="o/r", pr=3,
                                    head_sha="a" * 40)
    [record] = records(lines)
    assert (record["event"], record["github_event"], record["repo"], record["pr"]) == (
        "job.start", "pull_request.opened", "o/r", 3)


def test_pinned_values_outlive_any_number_of_short_lived_ones() -> None:
    pinned = f"pinned-config-secret-{pick(32, HEX)}"
    add_sensitive(pinned, pinned=True)
    tokens = [f"ghs_{pick(32, HEX)}{i}" for i in range(botlog.MAX_SENSITIVE + 20)]
    for token in tokens:
        add_sensitive(token)
    assert pinned not in scrub(f"x {pinned} y")
    assert tokens[-1] not in scrub(tokens[-1])       # the newest token is still scrubbed
    assert tokens[0] in scrub(tokens[0])              # the oldest, long expired, was forgotten
    assert sum(1 for v in botlog._sensitive if v not in botlog._pinned) == botlog.MAX_SENSITIVE


def test_a_field_named_like_a_logrecord_attribute_does_not_raise(lines: io.StringIO) -> None:
    get_logger("prguard.test").info("check.done", name="prguard/secrets", message="ok", args="x")
    [record] = records(lines)
    assert (record["name_"], record["message_"], record["args_"]) == ("prguard/secrets", "ok", "x")
