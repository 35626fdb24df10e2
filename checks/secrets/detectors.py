"""prguard's own detectors: LLM / AI provider credentials, and a few formats detect-secrets lacks.

Each detector is a format-exact pattern (length and alphabet from the provider's documented key shape, see
`shared/notes/ai-security-facts.md`) plus the literal `gate` the candidate prefilter looks for. Formats too
generic to stand alone (Cohere's 40 alnum, Mistral's 32 alnum, Azure's 32 hex…) are *context-keyed*: the
value only counts when the provider's name appears within `CONTEXT_LINES` lines of it.

Order matters: several providers share `sk-`, so the most specific pattern gets the highest `priority`
and the scanner keeps one finding per span, highest priority first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Lines either side of a value in which a context keyword makes a context-keyed detector fire.
CONTEXT_LINES = 3

_B = r"A-Za-z0-9_\-"  # the token alphabet most providers use; also our boundary class
_START = rf"(?<![{_B}])"
_END = rf"(?![{_B}])"


@dataclass(frozen=True, slots=True)
class ProviderDetector:
    rule_id: str
    #: Finds the secret (group 1 if the pattern has a group, else the whole match) on one line.
    pattern: re.Pattern[str]
    #: RE2 source of a literal every matching line contains (or, when context-keyed, the context keyword).
    gate: str
    #: Specificity: on overlapping spans the highest wins.
    priority: int = 100
    #: Set for context-keyed detectors: this must match within CONTEXT_LINES lines of the value.
    context: re.Pattern[str] | None = None
    #: Size of the alphabet of the random part, to judge whether a value is random enough to be real.
    alphabet: int = 64
    #: Require letters and digits mixed (for short or prefix-less formats that identifiers could mimic).
    mixed: bool = False
    #: Reject values made only of hex digits (git SHAs and hashes near a provider's name).
    not_hex: bool = False
    #: When set, the value's own line must also match this (Azure: an `api-key`-like name).
    line_must: re.Pattern[str] | None = None


def _p(body: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(_START + body + _END, flags)


def _openai(kind: str) -> str:
    side = rf"(?:[{_B}]{{74}}|[{_B}]{{58}})"
    return rf"sk-{kind}-{side}T3BlbkFJ{side}"


def _ctx(words: str) -> re.Pattern[str]:
    return re.compile(words, re.IGNORECASE)


DETECTORS: tuple[ProviderDetector, ...] = (
    ProviderDetector("secrets/openai-project-key", _p(_openai("proj")), "sk-proj-", 300),
    ProviderDetector("secrets/openai-service-account-key", _p(_openai("svcacct")), "sk-svcacct-", 300),
    ProviderDetector("secrets/openai-admin-key", _p(_openai("admin")), "sk-admin-", 300),
    ProviderDetector(
        "secrets/openai-legacy-key", _p(r"sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}"), "T3BlbkFJ", 290
    ),
    ProviderDetector("secrets/anthropic-api-key", _p(rf"sk-ant-api03-[{_B}]{{93}}AA"), "sk-ant-api03-", 300),
    ProviderDetector(
        "secrets/anthropic-admin-key", _p(rf"sk-ant-admin01-[{_B}]{{93}}AA"), "sk-ant-admin01-", 300
    ),
    ProviderDetector(
        "secrets/openrouter-api-key", _p(r"sk-or-v1-[0-9a-f]{64}"), "sk-or-v1-", 300, alphabet=16
    ),
    ProviderDetector(
        "secrets/langfuse-secret-key",
        _p(r"sk-lf-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
        "sk-lf-",
        300,
        alphabet=16,
    ),
    ProviderDetector("secrets/huggingface-token", _p(r"hf_[A-Za-z]{34}"), "hf_", 280, alphabet=52),
    ProviderDetector(
        "secrets/huggingface-org-token", _p(r"api_org_[A-Za-z]{34}"), "api_org_", 280, alphabet=52
    ),
    ProviderDetector("secrets/google-api-key", _p(rf"AIza[{_B}]{{35}}"), "AIza", 280),
    ProviderDetector("secrets/groq-api-key", _p(r"gsk_[A-Za-z0-9]{52}"), "gsk_", 280, alphabet=62),
    ProviderDetector("secrets/replicate-api-token", _p(rf"r8_[{_B}]{{37}}"), "r8_", 280),
    ProviderDetector("secrets/xai-api-key", _p(r"xai-[A-Za-z0-9_]{80}"), "xai-", 280, alphabet=63),
    ProviderDetector("secrets/perplexity-api-key", _p(r"pplx-[A-Za-z0-9]{48}"), "pplx-", 280, alphabet=62),
    ProviderDetector(
        "secrets/langsmith-api-key",
        _p(r"lsv2_(?:pt|sk)_[0-9a-f]{32}_[0-9a-f]{10}"),
        "lsv2_",
        280,
        alphabet=16,
    ),
    ProviderDetector(
        "secrets/pinecone-api-key", _p(r"pcsk_[A-Za-z0-9]{5,6}_[A-Za-z0-9]{63}"), "pcsk_", 280, alphabet=62
    ),
    ProviderDetector("secrets/together-api-key", _p(rf"tgp_v1_[{_B}]{{43}}"), "tgp_v1_", 280),
    ProviderDetector(
        "secrets/wandb-api-key", _p(r"wandb_v1_[A-Za-z0-9_]{77}"), "wandb_v1_", 280, alphabet=63
    ),
    ProviderDetector("secrets/cerebras-api-key", _p(r"csk-[a-z0-9]{48}"), "csk-", 280, alphabet=36),
    ProviderDetector("secrets/nvidia-api-key", _p(rf"nvapi-[{_B}]{{60,70}}"), "nvapi-", 280),
    ProviderDetector(
        "secrets/fireworks-api-key", _p(r"fw_[A-Za-z0-9]{20,32}"), "fw_", 270, alphabet=62, mixed=True
    ),
    ProviderDetector(
        "secrets/github-fine-grained-token",
        _p(r"github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}"),
        "github_pat_",
        280,
        alphabet=62,
    ),
    ProviderDetector(
        "secrets/aws-secret-access-key",
        re.compile(
            r"aws.{0,20}?(?:secret|key|token|pass).{0,20}?(?:=|:|=>|,|\(|\s)\s*[\"'`]?([A-Za-z0-9/+]{40})"
            r"(?![A-Za-z0-9/+=])",
            re.IGNORECASE,
        ),
        r"(?i)aws.{0,20}(?:secret|key|token|pass)",
        260,
        alphabet=64,
        mixed=True,
    ),
    # --- context-keyed: the format alone is too generic --------------------------------------------------
    ProviderDetector(
        "secrets/cohere-api-key",
        re.compile(r"(?<![A-Za-z0-9_\-])([A-Za-z0-9]{40})(?![A-Za-z0-9_\-])"),
        r"(?i)cohere|co_api_key",
        200,
        context=_ctx(r"cohere|co_api_key"),
        alphabet=62,
        mixed=True,
        not_hex=True,
    ),
    ProviderDetector(
        "secrets/mistral-api-key",
        re.compile(r"(?<![A-Za-z0-9_\-])([A-Za-z0-9]{32})(?![A-Za-z0-9_\-])"),
        r"(?i)mistral",
        200,
        context=_ctx(r"mistral"),
        alphabet=62,
        mixed=True,
        not_hex=True,
    ),
    ProviderDetector(
        "secrets/deepseek-api-key",
        _p(r"sk-[0-9a-f]{32}"),
        r"(?i)deepseek",
        200,
        context=_ctx(r"deepseek"),
        alphabet=16,
    ),
    ProviderDetector(
        "secrets/wandb-api-key",
        re.compile(r"(?<![A-Za-z0-9_\-])([0-9a-f]{40})(?![A-Za-z0-9_\-])"),
        r"(?i)wandb",
        190,
        context=_ctx(r"wandb"),
        alphabet=16,
    ),
    ProviderDetector(
        "secrets/azure-openai-key",
        re.compile(r"(?<![A-Za-z0-9_\-])([0-9a-f]{32})(?![A-Za-z0-9_\-])"),
        r"(?i)openai\.azure\.com|azure.{0,40}openai|azure_openai",
        190,
        context=_ctx(r"openai\.azure\.com|azure.{0,40}openai|azure_openai"),
        alphabet=16,
        line_must=_ctx(r"key"),
    ),
)


def find(detector: ProviderDetector, line: str) -> list[tuple[int, int, str]]:
    """(start, end, value) of every match of `detector` on `line`."""
    out: list[tuple[int, int, str]] = []
    for m in detector.pattern.finditer(line):
        g = 1 if detector.pattern.groups else 0
        out.append((m.start(g), m.end(g), m.group(g)))
    return out
