"""The model-artifact rules: ids, severities, OWASP ids and remedies, in one table."""

from __future__ import annotations

from checks.finding import Severity
from checks.prompt_safety.owasp import Rule

_SAFETENSORS = ("Publish the weights as safetensors (tensors only, no code); load with "
                "`safetensors.torch.load_file` or `torch.load(..., weights_only=True)`.")

PICKLE_DANGEROUS = Rule(
    "model-pickle-dangerous-global", "Pickle imports a callable that runs code", Severity.CRITICAL, "LLM03",
    "Do not load this file. Loading a pickle calls what it imports; remove the artifact and rebuild it from "
    "a trusted source in a safe format. " + _SAFETENSORS)
PICKLE_DYNAMIC = Rule(
    "model-pickle-dynamic-import", "Pickle computes the name it imports", Severity.CRITICAL, "LLM03",
    "A STACK_GLOBAL or extension code whose target is not a literal is an obfuscation no serializer writes: "
    "do not load the file.")
PICKLE_UNKNOWN = Rule(
    "model-pickle-unknown-global", "Pickle imports a callable that is not on the allowlist", Severity.HIGH,
    "LLM03",
    "Unknown callable: needs a human to look. If it is your own class, convert the artifact to a safe "
    "format, or allow it by name in `checks.prompt-safety.pickle_allow` after review.")
PICKLE_FORMAT = Rule(
    "model-pickle-format", "Model stored in a pickle format", Severity.MEDIUM, "LLM03", _SAFETENSORS)
PICKLE_MALFORMED = Rule(
    "model-pickle-unreadable", "Pickle could not be fully analysed", Severity.HIGH, "LLM03",
    "The file is truncated, corrupt or too complex to read statically; a loader may still run what it holds "
    "up to the break. Re-export it, in a safe format.")
ARCHIVE_BOMB = Rule(
    "model-archive-bomb", "Archive exceeds the extraction bounds (zip bomb)", Severity.HIGH, "LLM10",
    "The archive expands far beyond its size or holds too many entries; do not extract or load it.")
ARCHIVE_BAD = Rule(
    "model-archive-unreadable", "Model archive could not be read", Severity.HIGH, "LLM03",
    "The zip structure is corrupt or uses paths outside the archive; re-export the model.")
KERAS_LAMBDA = Rule(
    "model-keras-lambda", "Keras model with a Lambda layer (serialized code)", Severity.HIGH, "LLM03",
    "A Lambda layer carries Python code that runs on load (with safe_mode off) and on call; replace it with "
    "a registered layer class and re-save.")
KERAS_CUSTOM = Rule(
    "model-keras-custom-object", "Keras model needs a custom object", Severity.MEDIUM, "LLM03",
    "Loading needs code outside Keras (custom_objects / a registered module): review that code and pin it.")
ONNX_EXTERNAL = Rule(
    "model-onnx-external-path", "ONNX external data outside the model directory", Severity.CRITICAL, "LLM03",
    "External tensor data must sit beside the model: a `..` or absolute location makes the runtime read any "
    "file of the machine. Re-export with relative, in-directory locations.")
ONNX_BAD = Rule(
    "model-onnx-unreadable", "ONNX model could not be parsed", Severity.HIGH, "LLM03",
    "The protobuf is corrupt or not an ONNX model; re-export it.")
GGUF_TEMPLATE_CODE = Rule(
    "model-gguf-template-code", "GGUF chat template reaches Python internals", Severity.CRITICAL, "LLM03",
    "A chat template that reaches attributes such as __class__, __globals__ or cycler/joiner escapes a Jinja "
    "sandbox (server-side template injection); replace the template with the upstream model's.")
GGUF_TEMPLATE_INJECTION = Rule(
    "model-gguf-template-injection", "GGUF chat template carries injected instructions", Severity.HIGH,
    "LLM01", "The template is prepended to every conversation: remove the instruction or use the upstream "
             "model's template.")
GGUF_BAD = Rule(
    "model-gguf-unreadable", "GGUF metadata could not be read", Severity.HIGH, "LLM03",
    "The header is corrupt or absurdly large; re-export the model.")
SAFETENSORS_BAD = Rule(
    "model-safetensors-malformed", "safetensors header malformed or absurdly large", Severity.HIGH, "LLM03",
    "A header length beyond the file, or above 100 MB, or a header that is not JSON is a parser bomb or a "
    "corrupt file; re-export it.")
DIGEST_MISMATCH = Rule(
    "model-digest-mismatch", "Model bytes do not match the digest the repository states", Severity.CRITICAL,
    "LLM03", "The artifact is not the one its digest (a .sha256 file or the AI-BOM) describes: find out who "
             "changed it, and update the digest only for bytes you trust.")
DIGEST_STALE = Rule(
    "model-digest-stale", "Model changed but its digest or signature was not updated", Severity.HIGH, "LLM03",
    "Re-sign the model (OpenSSF model-signing) or update its .sha256 / AI-BOM hash in the same change, after "
    "checking where the new bytes came from.")
SIGNATURE_FAILED = Rule(
    "model-signature-invalid", "Model signature does not verify", Severity.CRITICAL, "LLM03",
    "The model-signing bundle does not verify against the repository's key or certificate for these bytes: "
    "treat the artifact as tampered.")
