"""Which files of a change are AI assets, and of what kind: the one classifier.

The prompt-safety check, the AI safety sign-off ("is this PR AI-impacting?") and the AI-BOM all ask the same
question, so it is answered here, once. Classification is from the path first (cheap, no contents), then,
for source code only, from the contents (does it call an LLM SDK or load a model?).

Globs are gitignore-style (`checks.paths.PathMatcher`), never regular expressions from users. The policy can
add globs per kind (`extra`), e.g. a repository whose RAG corpus lives under `knowledge/`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from enum import StrEnum

from checks.paths import PathMatcher


class AssetKind(StrEnum):
    PROMPT = "prompt"
    AGENT_RULES = "agent-rules"  # instructions, rules and skill files for coding agents
    AGENT_SETTINGS = "agent-settings"
    MCP_CONFIG = "mcp-config"
    DATASET = "dataset"  # RAG, context stores, evaluation data
    MODEL = "model"  # model artifacts (and Git LFS pointers to them)
    AI_BOM = "ai-bom"
    EVAL_RESULT = "eval-result"  # promptfoo / garak results, evaluation reports
    LLM_CODE = "llm-code"  # source code that calls an LLM SDK or loads a model


MODEL_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".pkl", ".pickle", ".joblib", ".dill", ".npy", ".npz",
                  ".h5", ".keras", ".onnx", ".safetensors", ".gguf", ".pb", ".tflite", ".mlmodel")

#: default globs per kind, checked in this order (the first kind that matches wins)
DEFAULT_GLOBS: dict[AssetKind, tuple[str, ...]] = {
    AssetKind.MCP_CONFIG: (
        ".mcp.json", "mcp.json", "**/.mcp.json", "**/mcp.json", ".vscode/mcp.json", ".cursor/mcp.json",
        "claude_desktop_config.json", "**/claude_desktop_config.json", ".windsurf/mcp_config.json",
        "**/mcp_config.json", ".gemini/settings.json", ".roo/mcp.json", ".kiro/settings/mcp.json",
        "**/cline_mcp_settings.json", "**/mcp_settings.json", ".continue/mcpServers/**",
    ),
    AssetKind.AGENT_SETTINGS: (
        ".claude/settings.json", ".claude/settings.local.json", "**/.claude/settings*.json",
        ".vscode/settings.json", ".cursor/settings.json", ".codex/config.toml",
    ),
    AssetKind.AGENT_RULES: (
        "AGENTS.md", "**/AGENTS.md", "CLAUDE.md", "**/CLAUDE.md", "CLAUDE.local.md", "GEMINI.md",
        "**/GEMINI.md", ".cursorrules", "**/.cursorrules", ".cursor/rules/**",
        ".github/copilot-instructions.md",
        ".github/instructions/**", ".github/prompts/**", ".github/chatmodes/**", ".windsurfrules",
        ".windsurf/rules/**", ".clinerules", ".clinerules/**", ".roo/rules/**", ".claude/commands/**",
        ".claude/agents/**", "**/SKILL.md", ".claude/skills/**", "skills/**/SKILL.md",
        "**/.cursor/rules/**", ".junie/guidelines.md", ".kiro/steering/**", ".augment-guidelines",
        ".continue/rules/**", ".amazonq/rules/**",
    ),
    AssetKind.AI_BOM: ("aibom.json", "**/aibom.json", "ai-bom.json", "**/ai-bom.json", "**/*.aibom.json",
                       "**/*.cdx.json", "bom.json", "**/bom.json"),
    AssetKind.EVAL_RESULT: ("evals/**", "**/evals/**", "eval/**", "**/eval/**", "**/*promptfoo*results*.json",
                            "**/garak*.jsonl", "**/*.report.jsonl", "redteam/**", "**/redteam/**"),
    AssetKind.PROMPT: (
        "*.prompt", "**/*.prompt", "*.prompty", "**/*.prompty", "prompts/**", "**/prompts/**",
        "**/prompt_templates/**", "**/*.prompt.md", "**/*.prompt.txt", "**/*.prompt.j2", "**/*.prompt.jinja",
        "**/*.prompt.jinja2", "**/*.prompt.mustache", "promptfooconfig.yaml", "promptfooconfig.yml",
        "**/promptfooconfig.yaml", "**/promptfooconfig.yml", "**/system_prompt*", "**/*_prompt.txt",
        "**/*_prompt.md",
    ),
    AssetKind.DATASET: (
        "data/**/*.jsonl", "data/**/*.json", "data/**/*.csv", "data/**/*.parquet", "data/**/*.md",
        "**/datasets/**/*.jsonl", "**/datasets/**/*.json", "**/datasets/**/*.csv", "**/datasets/**/*.parquet",
        "**/datasets/**/*.md", "**/rag/**/*.jsonl", "**/rag/**/*.json", "**/rag/**/*.csv",
        "**/rag/**/*.parquet", "**/rag/**/*.md", "**/corpus/**/*.jsonl", "**/corpus/**/*.md",
        "**/knowledge/**/*.jsonl", "**/knowledge/**/*.md", "**/*.jsonl", "**/*.parquet",
    ),
}

#: source files whose contents decide whether they are LLM code
CODE_SUFFIXES = (".py", ".ipynb", ".js", ".mjs", ".cjs", ".ts", ".tsx", ".jsx")

#: imports and calls that make a source file LLM code (checked on contents; plain substrings, our own)
_LLM_CODE = re.compile(
    rb"""(?x)
    \b(?:import|from)\s+(?:openai|anthropic|langchain\w*|llama_index|litellm|transformers|vllm|mistralai|
        cohere|groq|google\.generativeai|google\.genai|vertexai|huggingface_hub|sentence_transformers|
        ollama|together|replicate|dspy|autogen|crewai|semantic_kernel|haystack|instructor|guidance|
        onnxruntime|torch|tensorflow|keras|joblib|safetensors|llama_cpp|mcp|pydantic_ai|smolagents|agents|
        fastmcp|langgraph|openai_agents|google\.adk|boto3\.bedrock|bedrock_runtime)\b
    | from\s+['"](?:openai|@anthropic-ai/sdk|@langchain/[\w-]+|langchain|ai|@ai-sdk/[\w-]+|
        @google/generative-ai|@google/genai|@mistralai/mistralai|cohere-ai|groq-sdk|ollama|
        @modelcontextprotocol/sdk[\w/.-]*|@huggingface/inference|@xenova/transformers|llamaindex)['"]
    | require\(\s*['"](?:openai|@anthropic-ai/sdk|langchain|@langchain/[\w-]+|ollama|groq-sdk)['"]\s*\)
    | \b(?:from_pretrained|hf_hub_download|snapshot_download|torch\.load|joblib\.load|pipeline\()
    | \btrust_remote_code\b|\ballow_dangerous_(?:code|deserialization|requests)\b
    | /v1/(?:chat/)?completions\b|/v1/messages\b|\b(?:llm|chain)\.a?(?:invoke|predict)\s*\(
    | \bgenerativelanguage\.googleapis\.com|\.openai\.azure\.com|\bapi\.(?:openai|anthropic|mistral|groq)\.
    """
)


class AssetClassifier:
    """Classifies repository paths; `extra` adds policy globs per kind (tried before the defaults)."""

    def __init__(self, extra: Mapping[AssetKind | str, Iterable[str]] | None = None) -> None:
        extra = {AssetKind(k): tuple(v) for k, v in (extra or {}).items()}
        self._matchers = [
            (kind, PathMatcher((*extra.get(kind, ()), *DEFAULT_GLOBS.get(kind, ()))))
            for kind in DEFAULT_GLOBS
        ]
        self._extra_only = [(kind, PathMatcher(globs)) for kind, globs in extra.items()
                            if kind not in DEFAULT_GLOBS]

    def by_path(self, path: str) -> AssetKind | None:
        """The kind decided from the path alone (model files, prompts, rules, configs, datasets)."""
        lower = path.lower()
        if lower.endswith(MODEL_SUFFIXES):
            return AssetKind.MODEL
        code = lower.endswith(CODE_SUFFIXES)
        for kind, matcher in (*self._extra_only, *self._matchers):
            if code and kind is AssetKind.PROMPT:
                continue  # `prompts/build.py`, `system_prompt.py`: source code, judged by its contents
            if matcher(path):
                return kind
        return None

    def classify(self, path: str, data: bytes | None = None) -> AssetKind | None:
        """The file's kind; for source code `data` (its head contents) decides whether it is LLM code."""
        kind = self.by_path(path)
        if kind is not None:
            return kind
        if data is not None and path.lower().endswith(CODE_SUFFIXES) and _LLM_CODE.search(data):
            return AssetKind.LLM_CODE
        return None


_DEFAULT = AssetClassifier()


def classify(path: str, data: bytes | None = None) -> AssetKind | None:
    """`AssetClassifier().classify` with the default globs."""
    return _DEFAULT.classify(path, data)


def is_git_lfs_pointer(data: bytes) -> bool:
    """A Git LFS pointer file stands in for bytes that are not in the repository's diff."""
    return data.startswith(b"version https://git-lfs.github.com/spec/v1\n") and len(data) < 1024
