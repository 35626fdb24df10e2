"""Is this config value an LLM provider key written in plain text?

Two signals, either is enough: the value has a provider's documented key shape (the secrets check's own
prefix detectors, so both checks agree on what a key is), or the setting's *name* says it holds a provider key
(`OPENAI_API_KEY`, `api_key` under a model entry…) and the value is a literal that looks like a credential
rather than a reference to a secret store (`${…}`, `{{ … }}`, `os.environ/…`, `{vault://…}`, `secretKeyRef`).
"""

from __future__ import annotations

import re

from checks.redact import redact
from checks.secrets.detectors import DETECTORS, find

#: The prefix detectors only: context-keyed formats (40 alnum near "cohere") are the secrets check's job.
_SHAPED = tuple(d for d in DETECTORS if d.context is None and d.line_must is None)

_PROVIDER = (
    r"openai|anthropic|claude|hugging_?face|hf|groq|mistral|cohere|gemini|google_ai|vertex|bedrock|azure_openai"
    r"|aoai|together|replicate|perplexity|xai|deepseek|cerebras|nvidia|nim|openrouter|fireworks|voyage|llm"
    r"|langsmith|langfuse|pinecone|wandb|litellm"
)
#: A setting name that holds a provider credential: OPENAI_API_KEY, hf_token, HUGGING_FACE_HUB_TOKEN.
KEY_NAME = re.compile(
    rf"(?:^|[_\-.])(?:{_PROVIDER})(?:[_\-.]?(?:hub|api|access|secret|master|admin))?[_\-.]?(?:key|token|secret)$",
    re.IGNORECASE,
)
_REFERENCE = re.compile(
    r"\$\{|\{\{|os\.environ/|\{vault://|vault:|secretKeyRef|arn:aws:secretsmanager|^<.*>$|^\$[A-Z_]+$"
    r"|^(?:changeme|change-me|replace[-_ ]?me|your[-_].*|xxx+|\*+|example|dummy|placeholder|none|null|todo)$",
    re.IGNORECASE,
)


def shaped_key(value: str) -> str | None:
    """The provider-shaped key inside `value`, if any."""
    for detector in _SHAPED:
        for _start, _end, secret in find(detector, value):
            return secret
    return None


def is_reference(value: str) -> bool:
    """A pointer to a secret store or an obvious placeholder, not a credential."""
    return bool(_REFERENCE.search(value.strip()))


def literal_key(name: str, value: object, *, key_setting: bool = False) -> str | None:
    """The plain-text key that `name: value` holds, or None.

    Provider-shaped values always count; other values count when the name is a provider key name and the
    value looks like a credential (16+ characters, letters and digits, no spaces, not a reference).
    `key_setting` says the caller already knows the setting holds a credential (LiteLLM's `api_key`).
    """
    if not isinstance(value, str) or not value.strip():
        return None
    if (secret := shaped_key(value)) is not None:
        return secret
    text = value.strip()
    if not (key_setting or KEY_NAME.search(name)) or is_reference(text):
        return None
    if len(text) >= 16 and " " not in text and re.search(r"\d", text) and re.search(r"[A-Za-z]", text):
        return text
    return None


def describe(secret: str) -> str:
    """How a message names a key: redacted, never whole."""
    return redact(secret)


_SETTING = re.compile(r"([A-Za-z_][\w.-]*)\"?\s*[=:]")


def might_hold_key(text: str, name: str = "") -> bool:
    """Cheap prefilter before parsing a block: a key-shaped value, or a setting named like a provider key."""
    if KEY_NAME.search(name) or shaped_key(text) is not None:
        return True
    return any(KEY_NAME.search(m.group(1)) for m in _SETTING.finditer(text))
