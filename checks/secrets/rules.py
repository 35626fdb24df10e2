"""The rules the secrets check reports under: id, title, severity, and where to revoke the credential.

Severity follows one principle: how sure we are that the match is a live credential, times how much it
opens. A provider-prefixed, length-exact format (OpenAI `sk-proj-…`, AWS `AKIA…`, GitHub `ghp_…`) is almost
never anything else, so it is `high`. A private key is `critical`: it carries an identity (TLS server,
SSH host or user, code signing) rather than one API's quota, it is usually long-lived and not scoped, and
there is no provider dashboard with a one-click revoke; replacing it means re-issuing certificates or
re-distributing public keys. A secret found only through a keyword (`password = "…"`) or through entropy is
a guess, so it is `medium` or `low`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from checks.finding import Severity

CWE_HARDCODED = "CWE-798"
OWASP_WEB = "A07:2021"  # Identification and Authentication Failures: where CWE-798 sits
OWASP_LLM = "LLM02:2025"  # Sensitive Information Disclosure (OWASP Top 10 for LLM Applications)


@dataclass(frozen=True, slots=True)
class Rule:
    rule_id: str
    title: str
    severity: Severity
    provider: str
    revoke_at: str = ""
    llm: bool = False
    extra_cwe: tuple[str, ...] = field(default=())

    def metadata(self) -> dict[str, object]:
        owasp = [OWASP_WEB, OWASP_LLM] if self.llm else [OWASP_WEB]
        return {"cwe": [CWE_HARDCODED, *self.extra_cwe], "owasp": list(owasp), "provider": self.provider}

    def remediation(self) -> str:
        where = f" ({self.revoke_at})" if self.revoke_at else ""
        return (
            f"Revoke or rotate this credential at {self.provider}{where} now: it stays in the repository "
            "history "
            "even if the line is removed. Load it at runtime from an environment variable or a secret store "
            "(GitHub Actions secrets, Vault, AWS/GCP/Azure secret managers) instead. If this is not a real "
            "secret, append the comment `pragma: allowlist secret` to the line (or put "
            "`# pragma: allowlist nextline secret` on the line above)."
        )


def _r(
    rule_id: str,
    title: str,
    severity: Severity,
    provider: str,
    revoke_at: str = "",
    *,
    llm: bool = False,
) -> Rule:
    return Rule(f"secrets/{rule_id}", title, severity, provider, revoke_at, llm)


H, C, M, L, INFO = Severity.HIGH, Severity.CRITICAL, Severity.MEDIUM, Severity.LOW, Severity.INFO

# --- prguard's own detectors (LLM / AI providers first) ---------------------------------------------------
OPENAI_URL = "https://platform.openai.com/api-keys"
RULES: dict[str, Rule] = {
    r.rule_id: r
    for r in (
        _r("openai-project-key", "OpenAI project API key", H, "OpenAI", OPENAI_URL, llm=True),
        _r("openai-service-account-key", "OpenAI service account key", H, "OpenAI", OPENAI_URL, llm=True),
        _r(
            "openai-admin-key",
            "OpenAI admin key",
            H,
            "OpenAI",
            "https://platform.openai.com/settings/organization/admin-keys",
            llm=True,
        ),
        _r("openai-legacy-key", "OpenAI API key (legacy format)", H, "OpenAI", OPENAI_URL, llm=True),
        _r(
            "anthropic-api-key",
            "Anthropic API key",
            H,
            "Anthropic",
            "https://console.anthropic.com/settings/keys",
            llm=True,
        ),
        _r(
            "anthropic-admin-key",
            "Anthropic admin key",
            H,
            "Anthropic",
            "https://console.anthropic.com/settings/admin-keys",
            llm=True,
        ),
        _r(
            "huggingface-token",
            "Hugging Face access token",
            H,
            "Hugging Face",
            "https://huggingface.co/settings/tokens",
            llm=True,
        ),
        _r(
            "huggingface-org-token",
            "Hugging Face organization API token",
            H,
            "Hugging Face",
            "https://huggingface.co/settings/tokens",
            llm=True,
        ),
        _r(
            "google-api-key",
            "Google API key (Gemini / Google Cloud)",
            H,
            "Google Cloud",
            "https://console.cloud.google.com/apis/credentials",
            llm=True,
        ),
        _r("groq-api-key", "Groq API key", H, "Groq", "https://console.groq.com/keys", llm=True),
        _r(
            "replicate-api-token",
            "Replicate API token",
            H,
            "Replicate",
            "https://replicate.com/account/api-tokens",
            llm=True,
        ),
        _r("xai-api-key", "xAI API key", H, "xAI", "https://console.x.ai", llm=True),
        _r(
            "perplexity-api-key",
            "Perplexity API key",
            H,
            "Perplexity",
            "https://www.perplexity.ai/settings/api",
            llm=True,
        ),
        _r(
            "langsmith-api-key",
            "LangSmith API key",
            H,
            "LangSmith",
            "https://smith.langchain.com/settings",
            llm=True,
        ),
        _r("pinecone-api-key", "Pinecone API key", H, "Pinecone", "https://app.pinecone.io", llm=True),
        _r(
            "together-api-key",
            "Together AI API key",
            H,
            "Together AI",
            "https://api.together.ai/settings/api-keys",
            llm=True,
        ),
        _r(
            "fireworks-api-key",
            "Fireworks AI API key",
            H,
            "Fireworks AI",
            "https://fireworks.ai/account/api-keys",
            llm=True,
        ),
        _r(
            "wandb-api-key",
            "Weights & Biases API key",
            H,
            "Weights & Biases",
            "https://wandb.ai/authorize",
            llm=True,
        ),
        _r(
            "openrouter-api-key",
            "OpenRouter API key",
            H,
            "OpenRouter",
            "https://openrouter.ai/keys",
            llm=True,
        ),
        _r(
            "langfuse-secret-key",
            "Langfuse secret key",
            H,
            "Langfuse",
            "the Langfuse project settings",
            llm=True,
        ),
        _r("cerebras-api-key", "Cerebras API key", H, "Cerebras", "https://cloud.cerebras.ai", llm=True),
        _r("nvidia-api-key", "NVIDIA API key", H, "NVIDIA", "https://build.nvidia.com", llm=True),
        _r(
            "cohere-api-key", "Cohere API key", H, "Cohere", "https://dashboard.cohere.com/api-keys", llm=True
        ),
        _r(
            "mistral-api-key",
            "Mistral AI API key",
            H,
            "Mistral AI",
            "https://console.mistral.ai/api-keys",
            llm=True,
        ),
        _r(
            "deepseek-api-key",
            "DeepSeek API key",
            H,
            "DeepSeek",
            "https://platform.deepseek.com/api_keys",
            llm=True,
        ),
        _r(
            "azure-openai-key",
            "Azure OpenAI API key",
            H,
            "Azure OpenAI",
            "the Azure portal: the resource's Keys and Endpoint page",
            llm=True,
        ),
        _r(
            "aws-secret-access-key",
            "AWS secret access key",
            H,
            "AWS IAM",
            "https://console.aws.amazon.com/iam/",
        ),
        _r(
            "github-fine-grained-token",
            "GitHub fine-grained personal access token",
            H,
            "GitHub",
            "https://github.com/settings/tokens",
        ),
        _r(
            "private-key",
            "Private key",
            C,
            "the key's owner (re-issue certificates, replace authorized keys)",
        ),
        # --- detect-secrets' plugins ------------------------------------------------------------------------
        _r("aws-access-key-id", "AWS access key id", H, "AWS IAM", "https://console.aws.amazon.com/iam/"),
        _r("artifactory-token", "Artifactory credential", M, "JFrog Artifactory"),
        _r(
            "azure-storage-account-key",
            "Azure Storage account key",
            H,
            "Azure Storage",
            "the storage account's Access keys page",
        ),
        _r("basic-auth-credentials", "Credentials in a URL", M, "the service in the URL"),
        _r("cloudant-credentials", "IBM Cloudant credential", M, "IBM Cloud"),
        _r(
            "discord-bot-token",
            "Discord bot token",
            H,
            "Discord",
            "https://discord.com/developers/applications",
        ),
        _r("github-token", "GitHub token", H, "GitHub", "https://github.com/settings/tokens"),
        _r("gitlab-token", "GitLab token", H, "GitLab", "the GitLab access tokens page"),
        _r("ibm-cloud-iam-key", "IBM Cloud IAM key", M, "IBM Cloud"),
        _r("ibm-cos-hmac-credentials", "IBM COS HMAC secret", M, "IBM Cloud"),
        _r("jwt", "JSON Web Token", M, "the token's issuer"),
        _r("mailchimp-api-key", "Mailchimp API key", H, "Mailchimp"),
        _r("npm-token", "npm token", H, "npm", "https://www.npmjs.com/settings/~/tokens"),
        _r("pypi-token", "PyPI API token", H, "PyPI", "https://pypi.org/manage/account/token/"),
        _r(
            "sendgrid-api-key",
            "SendGrid API key",
            H,
            "SendGrid",
            "https://app.sendgrid.com/settings/api_keys",
        ),
        _r("slack-token", "Slack token or webhook", H, "Slack", "https://api.slack.com/apps"),
        _r("softlayer-credentials", "SoftLayer credential", M, "IBM SoftLayer"),
        _r("square-oauth-secret", "Square OAuth secret", H, "Square", "the Square developer dashboard"),
        _r(
            "stripe-secret-key", "Stripe live secret key", H, "Stripe", "https://dashboard.stripe.com/apikeys"
        ),
        _r("telegram-bot-token", "Telegram bot token", H, "Telegram", "@BotFather (/revoke)"),
        _r("twilio-key", "Twilio account or key SID", M, "Twilio", "https://console.twilio.com"),
        _r(
            "private-key-marker",
            "Private key header without a key body",
            L,
            "the key's owner, if this is a real key",
        ),
        _r("secret-keyword", "Hard-coded password or secret", M, "the service it belongs to"),
        _r(
            "base64-high-entropy-string",
            "High-entropy string (possible secret)",
            L,
            "the service it belongs to, if it is a credential",
        ),
        _r(
            "hex-high-entropy-string",
            "High-entropy hex string (possible secret)",
            L,
            "the service it belongs to, if it is a credential",
        ),
        _r("public-ip", "Public IPv4 address", INFO, "the owner of the address, if it exposes a service"),
    )
}

#: detect-secrets `secret_type` -> prguard rule id. AWS is split by value shape in the scanner.
DS_TYPE_TO_RULE: dict[str, str] = {
    "AWS Access Key": "secrets/aws-access-key-id",
    "Artifactory Credentials": "secrets/artifactory-token",
    "Azure Storage Account access key": "secrets/azure-storage-account-key",
    "Basic Auth Credentials": "secrets/basic-auth-credentials",
    "Cloudant Credentials": "secrets/cloudant-credentials",
    "Discord Bot Token": "secrets/discord-bot-token",
    "GitHub Token": "secrets/github-token",
    "GitLab Token": "secrets/gitlab-token",
    "Base64 High Entropy String": "secrets/base64-high-entropy-string",
    "Hex High Entropy String": "secrets/hex-high-entropy-string",
    "IBM Cloud IAM Key": "secrets/ibm-cloud-iam-key",
    "IBM COS HMAC Credentials": "secrets/ibm-cos-hmac-credentials",
    "Public IP (ipv4)": "secrets/public-ip",
    "JSON Web Token": "secrets/jwt",
    "Secret Keyword": "secrets/secret-keyword",
    "Mailchimp Access Key": "secrets/mailchimp-api-key",
    "NPM tokens": "secrets/npm-token",
    "OpenAI Token": "secrets/openai-legacy-key",
    "Private Key": "secrets/private-key-marker",
    "PyPI Token": "secrets/pypi-token",
    "SendGrid API Key": "secrets/sendgrid-api-key",
    "Slack Token": "secrets/slack-token",
    "SoftLayer Credentials": "secrets/softlayer-credentials",
    "Square OAuth Secret": "secrets/square-oauth-secret",
    "Stripe Access Key": "secrets/stripe-secret-key",
    "Telegram Bot Token": "secrets/telegram-bot-token",
    "Twilio API Key": "secrets/twilio-key",
}
