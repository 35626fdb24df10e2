"""Synthetic credentials in each provider's real format, generated fresh: no real key is ever stored here.

Each generator draws from the provider's alphabet with `RNG`, and guarantees letters and digits mixed
(real keys of these lengths practically always are), so detectors that reject word-like values still see a
realistic key.

Every draw is seeded, so a failure can be replayed. The run's seed is `PRGUARD_TEST_SEED` (an integer;
`random` picks a fresh one; unset: `DEFAULT_SEED`). Before each test tests/conftest.py reseeds `RNG` from
that seed and the test's node id (`reseed`), so a test draws the same keys alone or in the whole suite;
the seed is printed in pytest's header and next to every failure, and `seed_note()` puts it in an
assertion message. Replay with `PRGUARD_TEST_SEED=<seed> .venv/bin/pytest '<node id>'`.
"""

from __future__ import annotations

import hashlib
import os
import random
import string
from collections.abc import Callable
from dataclasses import dataclass

ALNUM = string.ascii_letters + string.digits
TOKEN = ALNUM + "_-"
HEX = "0123456789abcdef"

DEFAULT_SEED = 20251202


def _run_seed() -> int:
    raw = os.environ.get("PRGUARD_TEST_SEED", "").strip()
    if not raw:
        return DEFAULT_SEED
    if raw.lower() == "random":
        return int.from_bytes(os.urandom(4), "big")
    try:
        return int(raw, 0)
    except ValueError:
        raise SystemExit(f"PRGUARD_TEST_SEED must be an integer or 'random', not {raw!r}") from None


#: The run's seed: every generated key derives from it.
SEED = _run_seed()
#: The generator of every key and random value the tests make (never `secrets`, never unseeded `random`).
RNG = random.Random(SEED)


def reseed(name: str) -> int:
    """Reseed `RNG` for one test (or one fixture) from the run's seed and `name`; returns the derived seed."""
    derived = int.from_bytes(hashlib.sha256(f"{SEED}:{name}".encode()).digest()[:8], "big")
    RNG.seed(derived)
    return derived


def seed_note() -> str:
    """How to draw the same keys again, for an assertion message."""
    return f"[PRGUARD_TEST_SEED={SEED} draws these keys again]"


def pick(n: int, alphabet: str) -> str:
    """n characters drawn uniformly from alphabet, with no guarantee of a digit or a letter: as keys are."""
    return "".join(RNG.choice(alphabet) for _ in range(n))


def rand(n: int, alphabet: str = ALNUM) -> str:
    """n random characters from alphabet, with at least one letter and one digit when both are possible."""
    need_digit = any(c.isdigit() for c in alphabet)
    need_alpha = any(c.isalpha() for c in alphabet)
    for _ in range(1000):
        value = pick(n, alphabet)
        if (any(c.isdigit() for c in value) or not need_digit) and (
            any(c.isalpha() for c in value) or not need_alpha
        ):
            return value
    raise ValueError(f"rand({n}, {alphabet!r}): no mixed value in 1000 draws {seed_note()}")


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


_SMALL_PRIMES = [p for p in range(3, 2000, 2) if all(p % d for d in range(3, int(p**0.5) + 1, 2))]


def _probable_prime(n: int) -> bool:
    """Miller-Rabin with 20 bases from RNG (error below 4**-20; OpenSSL checks p and q again when
    `cryptography` builds the key), after trial division by small primes."""
    if any(n % p == 0 for p in _SMALL_PRIMES):
        return n in _SMALL_PRIMES
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for _ in range(20):
        x = pow(RNG.randrange(2, n - 1), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(bits: int, e: int) -> int:
    """A random `bits`-bit prime p with gcd(e, p - 1) = 1, from RNG (top two bits set: p*q has 2*bits)."""
    for _ in range(100 * bits):  # primes this size are ~1 in 0.35*bits odd numbers: never reached
        n = RNG.getrandbits(bits) | (3 << (bits - 2)) | 1
        if (n - 1) % e and _probable_prime(n):
            return n
    raise AssertionError(f"no {bits}-bit prime found {seed_note()}")


def private_key_pem(bits: int = 1024, *, traditional: bool = False) -> str:
    """A fresh RSA key (never a stored key) from seeded primes: PKCS#8, or PKCS#1 ("BEGIN RSA …").

    `cryptography` checks the numbers and writes the PEM; its own key generation cannot be seeded.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    e = 65537
    p = _prime(bits // 2, e)
    q = _prime(bits - bits // 2, e)
    if q == p:
        raise AssertionError(f"drew the same prime twice {seed_note()}")
    d = pow(e, -1, (p - 1) * (q - 1))
    numbers = rsa.RSAPrivateNumbers(
        p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q), rsa.rsa_crt_iqmp(p, q),
        rsa.RSAPublicNumbers(e, p * q),
    )
    key = numbers.private_key()
    fmt = serialization.PrivateFormat.TraditionalOpenSSL if traditional else serialization.PrivateFormat.PKCS8
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()


def github_token() -> str:
    """A seeded `ghp_` token in GitHub's format (the secrets check finds it; the seed prints on failure)."""
    return "ghp_" + rand(36)
