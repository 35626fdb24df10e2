"""Which false-positive filters apply to which detector, and prguard's own placeholder filters.

detect-secrets' heuristic filters were written for its generic detectors (keyword and entropy), where a
value is a guess. Applied to a format-exact provider key they cause misses — `is_indirect_reference`
drops `client = OpenAI(api_key="sk-proj-…")`, the most common way LLM keys appear. So:

- every detector: the inline allowlist pragma, sequential strings, strings without a letter, and strict
  placeholders (`EXAMPLE`, `xxxxx`, one repeated character, ascending runs like `abcdefgh`);
- format-exact detectors also: "is it random enough?" (Shannon entropy against the alphabet), because
  documentation fillers such as `sk-proj-aaaa…` or `hf_abcabcabc…` have the right shape but no entropy;
- generic detectors (keyword, entropy, keyword-keyed IBM/SoftLayer/Cloudant, URL credentials) also get
  detect-secrets' heuristics and a wider placeholder word list, plus noise filters for hashes,
  Subresource Integrity values, UUIDs, lock files and test fixtures.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import math
import os
import re
from collections import Counter

from detect_secrets.filters import heuristic
from detect_secrets.filters.allowlist import is_line_allowlisted
from detect_secrets.plugins.base import BasePlugin

_DIGIT = re.compile(r"[0-9]")
_LETTER = re.compile(r"[A-Za-z]")
#: A short unit repeated four times or more in a row (`abc123abc123abc123abc123`): a filler, not a key.
_REPEATED_UNIT = re.compile(r"(.{2,8}?)\1{3,}")
_STRICT_PLACEHOLDER = re.compile(r"example|x{5}|placeholder|(.)\1{5}", re.IGNORECASE)
_GENERIC_PLACEHOLDER = re.compile(
    r"example|sample|dummy|placeholder|changeme|change_me|your|redacted|replace|insert|fake|mock|test|"
    r"xxx|\*\*\*|\.\.\.|…|<|>|\{|\}|\$|%s|%\(|password|secret|passwd|token|apikey|api_key|foobar|"
    r"(.)\1{3}",
    re.IGNORECASE,
)
#: Whole values that are stock examples (`postgres://user:pass@…`), never worth a finding.
_WEAK_PLACEHOLDERS = {
    "pass",
    "pwd",
    "passwd",
    "user",
    "admin",
    "root",
    "guest",
    "foo",
    "bar",
    "baz",
    "qux",
    "secret",
    "hunter2",
    "letmein",
    "qwerty",
    "1234",
    "12345",
    "123456",
    "12345678",
    "abc123",
    "s3cr3t",
    "p4ssw0rd",
    "p@ssw0rd",
}
_WORD = re.compile(r"[A-Z]?[a-z]{2,}")
_NOT_WORDY = re.compile(r"[A-Z]{4,}|[0-9]{5,}|[^A-Za-z0-9_\-./]")
_NAME_LIKE = re.compile(r"[A-Za-z_][A-Za-z_\-.]*")
#: Digest lengths: md5, sha1, sha224, sha256, sha384, sha512 in hex. A hex string of exactly these lengths
#: is a checksum far more often than a credential (a keyword next to it still finds a real one).
_HASH_HEX_LENGTHS = {32, 40, 56, 64, 96, 128}
_SRI = re.compile(r"^(?:sha256|sha384|sha512)-")
_TEST_PATH = re.compile(r"(?:^|/)(?:tests?|testing|fixtures?|testdata|__tests__|spec)(?:/|$)|_test\.|test_")


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    n = len(value)
    if not n:
        return 0.0
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def plugin_entropy(value: str, secret_type: str) -> float:
    """detect-secrets' `calculate_shannon_entropy`, computed in one pass instead of one per charset
    character (values only hold charset characters, so the result is the same). The hex plugin lowers the
    score of all-digit values, as detect-secrets does."""
    score = entropy(value)
    if secret_type == "Hex High Entropy String" and len(value) > 1 and value.isdigit():
        score -= 1.2 / math.log2(len(value))
    return score


def _camel_words(value: str) -> bool:
    """An identifier made of words and short numbers (`WebhookIssueCommentCreatedPropIssueMergedAllOf2`).
    Written without nested quantifiers: it runs on untrusted input."""
    rest = _WORD.sub("", value)
    return len(rest) <= 0.25 * len(value) and not _NOT_WORDY.search(rest)


def longest_ascending_run(value: str) -> int:
    best = run = 1
    for a, b in itertools.pairwise(value):
        run = run + 1 if ord(b) == ord(a) + 1 else 1
        best = max(best, run)
    return best


def is_allowlisted(path: str, line: str, previous_line: str) -> bool:
    """detect-secrets' own pragma logic: `pragma: allowlist secret` inline, or `allowlist nextline` above."""
    return is_line_allowlisted(path, line, _Context(previous_line))


class _Context:
    """The one attribute of detect-secrets' CodeSnippet that its allowlist filter reads."""

    __slots__ = ("previous_line",)

    def __init__(self, previous_line: str) -> None:
        self.previous_line = previous_line


def rejected_by_common(value: str) -> bool:
    """Filters every detector gets."""
    return (
        heuristic.is_sequential_string(value)
        or heuristic.is_not_alphanumeric_string(value)
        or bool(_STRICT_PLACEHOLDER.search(value))
        or longest_ascending_run(value) >= 6
        or bool(_REPEATED_UNIT.search(value))
    )


def looks_random(value: str, alphabet: int, mixed: bool, not_hex: bool) -> bool:
    """Format-exact values must look random: documentation fillers have the shape but not the entropy.

    `mixed` rejects identifier-like values, not every value without a digit: a random 24-40 character
    alphanumeric key has no digit 0.1-1.5 % of the time, and dropping those would miss real keys. A value
    without a digit passes when it mixes upper and lower case and is not made of words.
    """
    if not_hex and all(c in "0123456789abcdefABCDEF" for c in value):
        return False
    if mixed and not _LETTER.search(value):
        return False
    if mixed and not _DIGIT.search(value) and (value.isupper() or value.islower() or _camel_words(value)):
        return False
    return entropy(value) >= 0.7 * math.log2(max(2, min(len(value), alphabet)))


def alphabet_of(value: str) -> int:
    """The size of the alphabet a value seems drawn from, judged by the character classes it uses.

    For formats whose alphabet is not known up front (detect-secrets' own detectors): a hex token (Twilio,
    Mailchimp) must be judged against 16 symbols, not 64, or one real key in twenty looks "not random";
    a Slack token, mostly digits, against the classes it actually uses.
    """
    lower_hex = sum(c in "0123456789abcdef" for c in value)
    upper_hex = sum(c in "0123456789ABCDEF" for c in value)
    if max(lower_hex, upper_hex) >= 0.8 * len(value):  # hex behind a short prefix: `SK` + 32 hex
        return 16
    size = sum(
        n
        for n, present in (
            (10, any(c.isdigit() for c in value)),
            (26, any(c.islower() for c in value)),
            (26, any(c.isupper() for c in value)),
        )
        if present
    )
    return max(2, min(64, size + len({c for c in value if not c.isalnum()})))


def rejected_by_generic(value: str, line: str, path: str, plugin: BasePlugin, secret_type: str) -> bool:
    """detect-secrets' heuristics and prguard's noise filters, for keyword and entropy findings.

    Cheapest first: detect-secrets' `is_indirect_reference` backtracks over the whole line and would
    otherwise dominate the scan of a large change.
    """
    if secret_type in ("Base64 High Entropy String", "Hex High Entropy String"):
        # Entropy alone on a word-like value (identifiers, paths, CamelCase class names) is noise.
        if not _DIGIT.search(value) or _camel_words(value):
            return True
        if secret_type == "Hex High Entropy String" and len(value) in _HASH_HEX_LENGTHS:
            return True
        # Test fixtures are full of random-looking strings; a real key in them still has a keyword
        # or a provider format that other detectors report.
        if _TEST_PATH.search(path.lower()):
            return True
    elif secret_type == "Secret Keyword" and (
        # Names, not secrets: `PRIVATE_KEY = 'private-key'`, `"password": "privateKeyUsagePeriod"`,
        # environment variable names. Real secrets of this kind almost always carry a digit.
        len(value) < 6 or " " in value.strip() or _NAME_LIKE.fullmatch(value)
    ):
        return True
    return bool(
        value.lower() in _WEAK_PLACEHOLDERS
        or _GENERIC_PLACEHOLDER.search(value)
        or _SRI.search(value)
        or heuristic.is_templated_secret(value)
        or heuristic.is_prefixed_with_dollar_sign(value)
        or heuristic.is_lock_file(path)
        or heuristic.is_swagger_file(path)
        or heuristic.is_non_text_file(path)
        or heuristic.is_potential_uuid(value)
        or heuristic.is_likely_id_string(value, line, plugin)
        or heuristic.is_indirect_reference(line)
    )


#: Claims of the JWTs documentation copies everywhere (jwt.io's default token, PyJWT's README example).
_DOC_JWT_CLAIMS = {("sub", "1234567890"), ("name", "John Doe"), ("iat", 1516239022), ("some", "payload")}
#: A character next to an AWS access key id that shows it is a slice of a longer base64/base32 run.
_B64_NEIGHBOUR = re.compile(r"[A-Za-z0-9+/]")


def is_documentation_jwt(token: str) -> bool:
    """jwt.io's example token (`{"sub": "1234567890", "name": "John Doe", "iat": 1516239022}`) and its
    variants are pasted into READMEs and API docs by the thousand; they sign nothing real."""
    parts = token.split(".")
    if len(parts) < 2:
        return False
    body = parts[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (binascii.Error, ValueError):
        # a body that does not decode is not jwt.io's token: the finding stays (the safe direction)
        return False
    if not isinstance(claims, dict):
        return False
    return any(isinstance(v, str | int) and (k, v) in _DOC_JWT_CLAIMS for k, v in claims.items())


def inside_encoded_run(text: str, start: int, end: int) -> bool:
    """The span continues a longer base64 run on either side (`…yABIARHBEADQCABLQAAQ…` in a wasm blob)."""
    before = text[start - 1] if start > 0 else ""
    after = text[end] if end < len(text) else ""
    return bool(_B64_NEIGHBOUR.fullmatch(before) or _B64_NEIGHBOUR.fullmatch(after))


def is_non_text_path(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in heuristic.IGNORED_FILE_EXTENSIONS
