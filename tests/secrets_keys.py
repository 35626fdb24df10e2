"""Synthetic credentials in each provider's real format, generated fresh: no real key is ever stored here.

Each generator draws from the provider's alphabet with `secrets`, and guarantees letters and digits mixed
(real keys of these lengths practically always are), so detectors that reject word-like values still see a
realistic key.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass

ALNUM = string.ascii_letters + string.digits
TOKEN = ALNUM + "_-"
HEX = "0123456789abcdef"


def rand(n: int, alphabet: str = ALNUM) -> str:
    """n random characters from alphabet, with at least one letter and one digit when both are possible."""
    while True:
        value = "".join(secrets.choice(alphabet) for _ in range(n))
        has_digit = any(c.isdigit() for c in value) or not any(c.isdigit() for c in alphabet)
        has_alpha = any(c.isalpha() for c in value) or not any(c.isalpha() for c in alphabet)
        if has_digit and has_alpha:
            return value


def _uuid() -> str:
    return f"{rand(8, HEX)}-{rand(4, HEX)}-{rand(4, HEX)}-{rand(4, HEX)}-{rand(12, HEX)}"


@dataclass(frozen=True)
class KeyCase:
    rule_id: str
    make: Callable[[], str]
    #: How the key appears in a source line; `{key}` is replaced.
    template: str = 'API_KEY = "{key}"'

    def line(self) -> tuple[str, str]:
        key = self.make()
        return key, self.template.format(key=key)


CASES: list[KeyCase] = [
    KeyCase(
        "secrets/openai-project-key",
        lambda: f"sk-proj-{rand(74, TOKEN)}T3BlbkFJ{rand(74, TOKEN)}",
        'client = OpenAI(api_key="{key}")',
    ),
    KeyCase("secrets/openai-project-key", lambda: f"sk-proj-{rand(58, TOKEN)}T3BlbkFJ{rand(58, TOKEN)}"),
    KeyCase(
        "secrets/openai-service-account-key", lambda: f"sk-svcacct-{rand(74, TOKEN)}T3BlbkFJ{rand(74, TOKEN)}"
    ),
    KeyCase(
        "secrets/openai-admin-key",
        lambda: f"sk-admin-{rand(58, TOKEN)}T3BlbkFJ{rand(58, TOKEN)}",
        "OPENAI_ADMIN_KEY={key}",
    ),
    KeyCase("secrets/openai-legacy-key", lambda: f"sk-{rand(20)}T3BlbkFJ{rand(20)}"),
    KeyCase(
        "secrets/anthropic-api-key",
        lambda: f"sk-ant-api03-{rand(93, TOKEN)}AA",
        'client = anthropic.Anthropic(api_key="{key}")',
    ),
    KeyCase("secrets/anthropic-admin-key", lambda: f"sk-ant-admin01-{rand(93, TOKEN)}AA"),
    KeyCase(
        "secrets/huggingface-token", lambda: f"hf_{rand(34, string.ascii_letters)}", "login(token='{key}')"
    ),
    KeyCase("secrets/huggingface-org-token", lambda: f"api_org_{rand(34, string.ascii_letters)}"),
    KeyCase("secrets/google-api-key", lambda: f"AIza{rand(35, TOKEN)}", "genai.configure(api_key='{key}')"),
    KeyCase("secrets/groq-api-key", lambda: f"gsk_{rand(52)}", "GROQ_API_KEY: {key}"),
    KeyCase("secrets/replicate-api-token", lambda: f"r8_{rand(37, TOKEN)}"),
    KeyCase("secrets/xai-api-key", lambda: f"xai-{rand(80, ALNUM + '_')}"),
    KeyCase("secrets/perplexity-api-key", lambda: f"pplx-{rand(48)}"),
    KeyCase(
        "secrets/langsmith-api-key",
        lambda: f"lsv2_pt_{rand(32, HEX)}_{rand(10, HEX)}",
        'os.environ["LANGCHAIN_API_KEY"] = "{key}"',
    ),
    KeyCase("secrets/langsmith-api-key", lambda: f"lsv2_sk_{rand(32, HEX)}_{rand(10, HEX)}"),
    KeyCase(
        "secrets/pinecone-api-key", lambda: f"pcsk_{rand(6)}_{rand(63)}", "pc = Pinecone(api_key='{key}')"
    ),
    KeyCase("secrets/together-api-key", lambda: f"tgp_v1_{rand(43, TOKEN)}"),
    KeyCase("secrets/fireworks-api-key", lambda: f"fw_{rand(24)}"),
    KeyCase("secrets/wandb-api-key", lambda: f"wandb_v1_{rand(77, ALNUM + '_')}"),
    KeyCase("secrets/wandb-api-key", lambda: rand(40, HEX), 'wandb.login(key="{key}")'),
    KeyCase("secrets/openrouter-api-key", lambda: f"sk-or-v1-{rand(64, HEX)}"),
    KeyCase("secrets/langfuse-secret-key", lambda: f"sk-lf-{_uuid()}", 'LANGFUSE_SECRET_KEY = "{key}"'),
    KeyCase("secrets/cerebras-api-key", lambda: f"csk-{rand(48, string.ascii_lowercase + string.digits)}"),
    KeyCase("secrets/nvidia-api-key", lambda: f"nvapi-{rand(64, TOKEN)}"),
    KeyCase("secrets/cohere-api-key", lambda: rand(40), 'co = cohere.Client("{key}")'),
    KeyCase("secrets/cohere-api-key", lambda: rand(40), "CO_API_KEY={key}"),
    KeyCase("secrets/mistral-api-key", lambda: rand(32), 'client = Mistral(api_key="{key}")'),
    KeyCase(
        "secrets/deepseek-api-key",
        lambda: f"sk-{rand(32, HEX)}",
        'client = OpenAI(api_key="{key}", base_url="https://api.deepseek.com")',
    ),
    KeyCase(
        "secrets/azure-openai-key",
        lambda: rand(32, HEX),
        'AzureOpenAI(api_key="{key}", azure_endpoint="https://acme.openai.azure.com/")',
    ),
    KeyCase(
        "secrets/aws-access-key-id",
        lambda: f"AKIA{rand(16, string.ascii_uppercase + string.digits)}",
        'aws_access_key_id = "{key}"',
    ),
    KeyCase("secrets/aws-secret-access-key", lambda: rand(40, ALNUM + "/+"), "AWS_SECRET_ACCESS_KEY={key}"),
    KeyCase("secrets/github-token", lambda: f"ghp_{rand(36)}", 'GITHUB_TOKEN = "{key}"'),
    KeyCase("secrets/github-fine-grained-token", lambda: f"github_pat_{rand(22)}_{rand(59)}"),
    KeyCase(
        "secrets/slack-token",
        lambda: (
            f"xoxb-{rand(11, string.digits)}-{rand(12, string.digits)}-"
            f"{rand(24, string.ascii_lowercase + string.digits)}"
        ),
    ),
    KeyCase("secrets/stripe-secret-key", lambda: f"sk_live_{rand(24)}", 'stripe.api_key = "{key}"'),
    KeyCase("secrets/sendgrid-api-key", lambda: f"SG.{rand(22, TOKEN)}.{rand(43, TOKEN)}"),
    KeyCase("secrets/pypi-token", lambda: f"pypi-AgEIcHlwaS5vcmc{rand(80, TOKEN)}", "password = {key}"),
    KeyCase("secrets/gitlab-token", lambda: f"glpat-{rand(20, TOKEN)}"),
]

#: Look-alikes that must produce nothing: placeholders, documentation examples, truncated keys.
NEGATIVES: list[str] = [
    'OPENAI_API_KEY = "sk-xxxx"',
    'OPENAI_API_KEY = "sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"',
    'api_key = "YOUR_API_KEY"',
    'api_key = "<OPENAI_API_KEY>"',
    'client = OpenAI(api_key="sk-proj-...")',
    'client = OpenAI(api_key="sk-proj-abc123...xyz")',
    "export OPENAI_API_KEY=sk-proj-XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    'ANTHROPIC_API_KEY = "sk-ant-api03-..."',
    'ANTHROPIC_API_KEY = "sk-ant-api03-' + "a" * 93 + 'AA"',
    'HF_TOKEN = "hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"',
    'HF_TOKEN = "hf_abcdefghijklmnopqrstuvwxyzabcdefgh"',
    'token = "hf_..."',
    'GOOGLE_API_KEY = "AIzaSy..."',
    'GROQ_API_KEY = "gsk_your_key_here"',
    'aws_access_key_id = "AKIAIOSFODNN7EXAMPLE"',
    'aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"',
    'password = "${DB_PASSWORD}"',
    'password = "changeme"',
    "secret = os.environ['SECRET']",
    'api_key = settings.get("api_key")',
    'REPLICATE_API_TOKEN = "r8_******"',
    'PINECONE_API_KEY = "pcsk_..."',
    'XAI_API_KEY = "xai-' + "0" * 80 + '"',
    'key = "sk-proj-' + "A" * 74 + "T3BlbkFJ" + "A" * 74 + '"',
]


def truncated(case: KeyCase) -> str:
    """The case's key cut short, as in a log line or a blog post."""
    key = case.make()
    return case.template.format(key=key[: max(8, len(key) // 2)])


def private_key_pem(bits: int = 1024, *, traditional: bool = False) -> str:
    """A fresh RSA key made with `cryptography` (never a stored key): PKCS#8, or PKCS#1 ("BEGIN RSA …")."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    fmt = serialization.PrivateFormat.TraditionalOpenSSL if traditional else serialization.PrivateFormat.PKCS8
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()
