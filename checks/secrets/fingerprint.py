"""Fingerprints of secrets that do not give the secret away, and stay cheap for a PR full of them.

Fingerprints are published (JSON, SARIF uploaded to code scanning, check runs) next to the redacted value,
which shows the first characters and the length. For a long random key the rest is far beyond guessing, so
the documented fast hash (`checks.finding.make_fingerprint`) is used. For a short secret (a 10-character
password) the rest is ~40 bits: a fast public hash of it is brute-forced in minutes. Such values are hashed
first with a **keyed** HMAC-SHA256 under a secret of the installation (`set_key`): one HMAC per secret costs
microseconds, and without the key a guess cannot be checked at all. The App derives the key from its
configuration (`PRGUARD_FINGERPRINT_KEY`, else its webhook secret); `prguard scan` from
`PRGUARD_FINGERPRINT_KEY`, else a random per-user key file. With no key at all (a library caller that set
none) a deliberately slow PBKDF2 is the fallback, memoised so a re-scan does not pay twice.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import threading
from collections import OrderedDict

from checks.finding import make_fingerprint
from checks.secrets.filters import alphabet_of

#: Below this many bits of secret left after redaction, a plain SHA-256 fingerprint can be reversed.
WEAK_SECRET_BITS = 80
#: PBKDF2-SHA256 rounds of the keyless fallback: ~10 ms per weak secret.
FINGERPRINT_ROUNDS = 20_000

_key: bytes | None = None
_key_lock = threading.Lock()


def set_key(key: bytes | None) -> None:
    """Use `key` (at least 16 bytes) for weak-secret fingerprints from now on; None restores the fallback."""
    global _key
    if key is not None and len(key) < 16:
        raise ValueError("a fingerprint key needs at least 16 bytes")
    with _key_lock:
        _key = key
    _slow_digest.cache_clear()


def derive_key(secret: str | bytes) -> bytes:
    """A fingerprint key derived from another installation secret (the webhook secret), domain-separated."""
    raw = secret.encode("utf-8") if isinstance(secret, str) else secret
    return hmac.new(raw, b"prguard fingerprint key v1", hashlib.sha256).digest()


def has_key() -> bool:
    return _key is not None


def is_weak(value: str) -> bool:
    """Whether what redaction leaves hidden of `value` is few enough bits to brute-force."""
    return max(0, len(value) - 4) * math.log2(alphabet_of(value)) < WEAK_SECRET_BITS


def secret_fingerprint(rule_id: str, path: str, value: str) -> str:
    """The finding's fingerprint: stable (no line number, no random salt), never a way to check a guess."""
    if is_weak(value):
        value = _keyed(rule_id, path, value) if _key is not None else _slow_digest(rule_id, path, value)
    # a file name that is not UTF-8 arrives with surrogate escapes, which `make_fingerprint` cannot encode
    return make_fingerprint(rule_id, _encodable(path), value)


def _encodable(path: str) -> str:
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _parts(rule_id: str, path: str, value: str) -> bytes:
    out = bytearray()
    for part in (rule_id, path, value):
        data = part.encode("utf-8", "surrogatepass")  # injective, lone surrogates included
        out += len(data).to_bytes(8, "big") + data
    return bytes(out)


def _keyed(rule_id: str, path: str, value: str) -> str:
    key = _key
    assert key is not None
    return "hmac:" + hmac.new(key, _parts(rule_id, path, value), hashlib.sha256).hexdigest()


def _pbkdf2(rule_id: str, path: str, value: str) -> str:
    salt = f"prguard-fingerprint\0{rule_id}\0{_encodable(path)}".encode()
    digest = hashlib.pbkdf2_hmac("sha256", value.encode("utf-8", "surrogatepass"), salt, FINGERPRINT_ROUNDS)
    return "pbkdf2:" + digest.hex()


class _SlowDigests:
    """`_pbkdf2` with a bounded LRU memo that never holds a secret.

    A `functools.lru_cache` would keep the plaintext value as its key for the process's lifetime; here the
    key is a BLAKE2b of (rule, path, value) under a random key drawn per process, so the memo holds no
    secret, and its keys cannot be checked against guesses without that process's key.
    """

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._key = os.urandom(32)
        self._memo: OrderedDict[bytes, str] = OrderedDict()
        self._lock = threading.Lock()  # checks run in worker threads

    def __call__(self, rule_id: str, path: str, value: str) -> str:
        key = hashlib.blake2b(_parts(rule_id, path, value), key=self._key, digest_size=32).digest()
        with self._lock:
            digest = self._memo.get(key)
            if digest is not None:
                self._memo.move_to_end(key)
                return digest
        digest = _pbkdf2(rule_id, path, value)  # outside the lock: ~10 ms
        with self._lock:
            self._memo[key] = digest
            while len(self._memo) > self.maxsize:
                self._memo.popitem(last=False)
        return digest

    def cache_clear(self) -> None:
        with self._lock:
            self._memo.clear()


_slow_digest = _SlowDigests(maxsize=4096)
