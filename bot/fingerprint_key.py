"""Where the key of weak-secret fingerprints comes from (see `checks.secrets.fingerprint`).

`PRGUARD_FINGERPRINT_KEY` wins everywhere (set the same value on the App and in CI to get the same
fingerprints for short secrets in both). Otherwise the App derives it from its webhook secret, which every
worker of one installation shares and which outlives private-key rotation, and `prguard scan` keeps a random
per-user key in `$XDG_CONFIG_HOME/prguard/fingerprint.key` (mode 0600), so a developer's fingerprints are
stable across runs. If no key can be had, the check falls back to its slow keyless hash: never a fast,
guessable one.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path

from checks.secrets.fingerprint import derive_key, set_key

ENV = "PRGUARD_FINGERPRINT_KEY"


def configure_for_app(webhook_secret: str | None, env: Mapping[str, str] = os.environ) -> None:
    """Workers: the operator's key, else one derived from the webhook secret (shared by every worker)."""
    explicit = env.get(ENV)
    if explicit:
        set_key(derive_key(explicit))
    elif webhook_secret:
        set_key(derive_key(webhook_secret))


def configure_for_cli(env: Mapping[str, str] = os.environ) -> None:
    """`prguard scan` and the language server: the operator's key, else the per-user key file."""
    explicit = env.get(ENV)
    if explicit:
        set_key(derive_key(explicit))
        return
    key = _user_key(env)
    if key is not None:
        set_key(key)


def _user_key(env: Mapping[str, str]) -> bytes | None:
    base = env.get("XDG_CONFIG_HOME") or (str(Path(env["HOME"]) / ".config") if env.get("HOME") else None)
    if not base:
        return None
    path = Path(base) / "prguard" / "fingerprint.key"
    with contextlib.suppress(OSError):
        data = path.read_bytes()
        if len(data) >= 32:
            return data[:32]
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:  # another process made it meanwhile: use theirs
        with contextlib.suppress(OSError):
            data = path.read_bytes()
            return data[:32] if len(data) >= 32 else None
        return None
    except OSError:
        return None
    key = os.urandom(32)
    with os.fdopen(fd, "wb") as out:
        out.write(key)
    return key
