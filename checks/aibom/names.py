"""Model names and SDK packages: which provider they belong to and whether a name is pinned.

Plain tables, one place. A provider's model *alias* (`gpt-4o`, `claude-sonnet-4-5`, `llama3`) moves to a
new snapshot when the provider says so; a dated snapshot (`gpt-4o-2024-08-06`, `claude-3-5-sonnet-20241022`)
or a content digest (`llama3@sha256:...`, a 40-hex Hub commit) does not.
"""

from __future__ import annotations

import re

#: (regex on a model name, provider); first match wins
_MODEL_PROVIDERS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p, re.I), v)
    for p, v in (
        (
            r"^(?:openai/)?(?:gpt-|o1\b|o1-|o3\b|o3-|o4-|chatgpt-|text-embedding-|dall-e-|whisper-|tts-|gpt-image|"
            r"omni-moderation|text-moderation|davinci|babbage|codex-|computer-use)",
            "openai",
        ),
        (r"^(?:anthropic/)?claude-", "anthropic"),
        (r"^(?:anthropic|amazon|meta|cohere|mistral|ai21)\.[\w.-]+-v\d", "aws-bedrock"),
        (
            r"^(?:google/|gemini/|vertex_ai/)?(?:gemini-|text-bison|chat-bison|textembedding-gecko|text-embedding-00)",
            "google",
        ),
        (
            r"^(?:mistral/)?(?:mistral-|mixtral-|codestral|open-mistral|open-mixtral|ministral|pixtral|magistral)",
            "mistral",
        ),
        (r"^(?:cohere/)?(?:command-|command$|embed-english|embed-multilingual|rerank-)", "cohere"),
        (r"^(?:groq/)", "groq"),
        (r"^(?:ollama/|ollama_chat/)", "ollama"),
        (r"^(?:deepseek-chat|deepseek-reasoner|deepseek/)", "deepseek"),
        (r"^(?:grok-|xai/)", "xai"),
    )
)

#: display names
PROVIDER_NAMES: dict[str, str] = {
    "openai": "OpenAI",
    "anthropic": "Anthropic",
    "google": "Google (Gemini/Vertex AI)",
    "mistral": "Mistral AI",
    "cohere": "Cohere",
    "groq": "Groq",
    "ollama": "Ollama",
    "deepseek": "DeepSeek",
    "xai": "xAI",
    "aws-bedrock": "AWS Bedrock",
    "huggingface": "Hugging Face",
    "together": "Together AI",
    "replicate": "Replicate",
    "azure-openai": "Azure OpenAI",
    "openrouter": "OpenRouter",
}

#: call names (the last dotted part) that fix the provider of their `model=` argument
CALL_PROVIDERS: dict[str, str] = {
    "ChatOpenAI": "openai",
    "OpenAIEmbeddings": "openai",
    "OpenAI": "openai",
    "AzureChatOpenAI": "azure-openai",
    "ChatAnthropic": "anthropic",
    "ChatGoogleGenerativeAI": "google",
    "GenerativeModel": "google",
    "ChatVertexAI": "google",
    "ChatMistralAI": "mistral",
    "ChatCohere": "cohere",
    "ChatGroq": "groq",
    "ChatOllama": "ollama",
    "Ollama": "ollama",
    "OllamaLLM": "ollama",
    "OllamaEmbeddings": "ollama",
    "ChatBedrock": "aws-bedrock",
    "ChatBedrockConverse": "aws-bedrock",
}
#: receivers (the first dotted part) that fix the provider: `ollama.chat(model=...)`
RECEIVER_PROVIDERS: dict[str, str] = {
    "ollama": "ollama",
    "openai": "openai",
    "anthropic": "anthropic",
    "genai": "google",
    "groq": "groq",
    "cohere": "cohere",
}

#: Python import roots -> (PyPI package, provider or "")
PY_SDKS: dict[str, tuple[str, str]] = {
    "openai": ("openai", "openai"),
    "anthropic": ("anthropic", "anthropic"),
    "google.generativeai": ("google-generativeai", "google"),
    "google.genai": ("google-genai", "google"),
    "vertexai": ("google-cloud-aiplatform", "google"),
    "mistralai": ("mistralai", "mistral"),
    "cohere": ("cohere", "cohere"),
    "groq": ("groq", "groq"),
    "ollama": ("ollama", "ollama"),
    "together": ("together", "together"),
    "replicate": ("replicate", "replicate"),
    "huggingface_hub": ("huggingface-hub", "huggingface"),
    "transformers": ("transformers", "huggingface"),
    "sentence_transformers": ("sentence-transformers", "huggingface"),
    "datasets": ("datasets", "huggingface"),
    "diffusers": ("diffusers", "huggingface"),
    "langchain": ("langchain", ""),
    "langchain_core": ("langchain-core", ""),
    "langchain_community": ("langchain-community", ""),
    "langchain_openai": ("langchain-openai", "openai"),
    "langchain_anthropic": ("langchain-anthropic", "anthropic"),
    "langchain_ollama": ("langchain-ollama", "ollama"),
    "langchain_experimental": ("langchain-experimental", ""),
    "langgraph": ("langgraph", ""),
    "llama_index": ("llama-index", ""),
    "litellm": ("litellm", ""),
    "vllm": ("vllm", ""),
    "dspy": ("dspy", ""),
    "crewai": ("crewai", ""),
    "semantic_kernel": ("semantic-kernel", ""),
    "haystack": ("haystack-ai", ""),
    "instructor": ("instructor", ""),
    "mcp": ("mcp", ""),
    "pydantic_ai": ("pydantic-ai", ""),
    "smolagents": ("smolagents", "huggingface"),
    "llama_cpp": ("llama-cpp-python", ""),
    "onnxruntime": ("onnxruntime", ""),
    "torch": ("torch", ""),
    "tensorflow": ("tensorflow", ""),
    "keras": ("keras", ""),
    "safetensors": ("safetensors", ""),
    "tiktoken": ("tiktoken", "openai"),
    "chromadb": ("chromadb", ""),
    "pinecone": ("pinecone", ""),
    "qdrant_client": ("qdrant-client", ""),
    "autogen": ("autogen-agentchat", ""),
    "guidance": ("guidance", ""),
}
#: PyPI packages (normalised) that are AI SDKs: the import table's packages plus a few extras
PYPI_SDKS: dict[str, str] = {pkg: prov for pkg, prov in PY_SDKS.values()} | {
    "llama-index-core": "",
    "pyautogen": "",
    "faiss-cpu": "",
    "faiss-gpu": "",
    "peft": "huggingface",
    "accelerate": "huggingface",
    "openai-agents": "openai",
    "google-cloud-aiplatform": "google",
    "langchain-google-genai": "google",
    "langchain-mistralai": "mistral",
    "langchain-groq": "groq",
}
#: npm packages that are AI SDKs -> provider
NPM_SDKS: dict[str, str] = {
    "openai": "openai",
    "@anthropic-ai/sdk": "anthropic",
    "@google/generative-ai": "google",
    "@google/genai": "google",
    "@mistralai/mistralai": "mistral",
    "cohere-ai": "cohere",
    "groq-sdk": "groq",
    "ollama": "ollama",
    "ai": "",
    "@ai-sdk/openai": "openai",
    "@ai-sdk/anthropic": "anthropic",
    "@ai-sdk/google": "google",
    "@ai-sdk/mistral": "mistral",
    "langchain": "",
    "@langchain/core": "",
    "@langchain/openai": "openai",
    "@langchain/anthropic": "anthropic",
    "@langchain/community": "",
    "@langchain/langgraph": "",
    "@modelcontextprotocol/sdk": "",
    "@huggingface/inference": "huggingface",
    "@huggingface/transformers": "huggingface",
    "@xenova/transformers": "huggingface",
    "llamaindex": "",
    "@openai/agents": "openai",
}


def provider_of(model: str) -> str | None:
    """The provider a model name belongs to, from the name alone (None when the name does not say)."""
    for pattern, provider in _MODEL_PROVIDERS:
        if pattern.search(model):
            return provider
    return None


def model_pinned(provider: str, model: str) -> bool | None:
    """Whether an API model name is a fixed snapshot; None when we cannot tell."""
    name = model.rsplit("/", 1)[-1]
    if provider == "ollama":
        return "@sha256:" in model
    if name.endswith("-latest") or name.endswith(":latest"):
        return False
    if provider in ("openai", "azure-openai"):
        return bool(re.search(r"-\d{4}-\d{2}-\d{2}$|-\d{4}$", name))
    if provider == "anthropic":
        return bool(re.search(r"-\d{8}$", name))
    if provider == "google":
        return bool(re.search(r"-\d{3}$", name))
    if provider == "mistral":
        return bool(re.search(r"-\d{4}$", name))
    if provider == "aws-bedrock":
        return bool(re.search(r"-\d{8}-v\d+(:\d+)?$", name))
    return None


def is_hub_commit(revision: str | None) -> bool:
    return bool(revision) and re.fullmatch(r"[0-9a-f]{40}", revision or "") is not None


def looks_like_model(value: str) -> bool:
    """A string constant that is plausibly a model id (for `MODEL = "..."` style constants)."""
    if provider_of(value) is not None:
        return True
    return (
        re.fullmatch(r"[\w.-]+/[\w.-]+", value) is not None
        and not value.startswith(".")
        and "." not in value.split("/")[-1][-4:]
    )
