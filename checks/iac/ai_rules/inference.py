"""Recognising inference servers (vLLM, TGI, Triton, Ollama, llama.cpp, KServe, Ray Serve…) and auth layers.

Recognition is by container image first, then by the server's launch command, then by ports only the
inference servers use (Ollama's 11434, Triton's 8001/8002 gRPC/metrics pair). Names are the fallback when a
Service or route points at pods defined in another file: `vllm-svc`, `ollama`, `tgi-backend`.
"""

from __future__ import annotations

import re
from typing import Any

from checks.iac.ai_rules.yamldoc import scalar, seq

_IMAGE = re.compile(
    r"vllm|text-generation-inference|/tgi\b|tritonserver|ollama|llama\.cpp|llama-cpp|llamacpp|ggml-org|kserve"
    r"|rayproject/ray|sglang|text-embeddings-inference|nvcr\.io/nim/|localai|openllm|xinference|lmdeploy"
    r"|tensorrt-llm|triton-inference|huggingface/.*inference|mlc-llm|aphrodite|infinity-emb",
    re.IGNORECASE,
)
_COMMAND = re.compile(
    r"vllm\s+serve|vllm\.entrypoints|text-generation-launcher|tritonserver|ollama\s+serve|llama-server"
    r"|llama_cpp\.server|serve\s+run|sglang\.launch_server|lmdeploy\s+serve|text-embeddings-router",
    re.IGNORECASE,
)
#: Ports used by inference servers and little else.
INFERENCE_PORTS = frozenset({11434, 8001, 8002})
_NAME = re.compile(
    r"vllm|tgi|text-generation|triton|ollama|llama|kserve|ray-?serve|inference|\bllm|llm-|-llm|sglang|model-?serv"
    r"|predictor|localai|\bnim\b",
    re.IGNORECASE,
)
_AUTH_IMAGE = re.compile(
    r"oauth2-proxy|oauth-proxy|pomerium|keycloak-gatekeeper|louketo|authelia|kube-rbac-proxy", re.IGNORECASE
)


def _text(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value or "")


def is_inference_container(container: dict[str, Any]) -> bool:
    if _IMAGE.search(_text(container.get("image"))):
        return True
    if _COMMAND.search(_text(container.get("command")) + " " + _text(container.get("args"))):
        return True
    return any(
        isinstance(p, dict) and scalar(p.get("containerPort")) in INFERENCE_PORTS
        for p in seq(container.get("ports"))
    )


def is_auth_container(container: dict[str, Any]) -> bool:
    return bool(_AUTH_IMAGE.search(_text(container.get("image"))))


def inference_name(name: Any) -> bool:
    """A Service, account or route name that says it fronts an inference server."""
    return bool(_NAME.search(str(name or "")))


def is_inference_image(image: Any) -> bool:
    return bool(_IMAGE.search(_text(image)))


def is_inference_command(command: Any) -> bool:
    return bool(_COMMAND.search(_text(command)))
