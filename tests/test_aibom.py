"""The AI-BOM: `prguard bom` on a real git repository the test builds, validated against the CycloneDX 1.6
JSON schema shipped in tests/fixtures/cyclonedx/, and the AI-BOM difference of a change as a PR shows it."""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource

from bot.cli.main import main
from checks.aibom import summary_lines
from checks.change import Change, ChangedFile, FileStatus, LineSet
from checks.git_change import change_from_git
from tests.gitrepo import GitRepo

SCHEMAS = Path(__file__).parent / "fixtures" / "cyclonedx"
SHA = "0123456789abcdef0123456789abcdef01234567"
LLM_PY = f'''import anthropic
from openai import OpenAI
from transformers import AutoModel
ENCODER = "acme/encoder"
SHA = "{SHA}"
FALLBACK_MODEL = "gpt-4o-mini"
encoder = AutoModel.from_pretrained(ENCODER, revision=SHA)
tagger = AutoModel.from_pretrained("acme/tagger")
reply = OpenAI().chat.completions.create(model="gpt-4o-2024-08-06", messages=[])
note = anthropic.Anthropic().messages.create(model="claude-sonnet-4-5", max_tokens=5, messages=[])
'''
CHAT_TS = ('import OpenAI from "openai";\n'
           'const r = await new OpenAI().chat.completions.create({ model: "gpt-4o" });\n')
MCP = """{
  "mcpServers": {
    "fs": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem@latest", "."]},
    "git": {"command": "uvx", "args": ["mcp-server-git==0.6.2"]},
    "remote": {"url": "https://mcp.example.com/sse"}
  }
}
"""
CARD = """---
license: apache-2.0
pipeline_tag: text-classification
datasets: [acme/reviews]
model-index:
- name: clf
  results:
  - task: {type: text-classification}
    dataset: {name: reviews, type: acme/reviews}
    metrics:
    - {type: accuracy, value: 0.91}
---
# Review classifier
## Limitations
English reviews only.
"""
SAFETENSORS = b"\x10\x00\x00\x00\x00\x00\x00\x00" + b'{"__metadata__":{}}'[:16] + b"\x00" * 32
PICKLE = pickle.dumps({"weights": [1, 2, 3]})  # built, never loaded
LFS_OID = "ab" * 32
LFS = f"version https://git-lfs.github.com/spec/v1\noid sha256:{LFS_OID}\nsize 734003200\n"


def registry() -> Registry:
    resources = [(f"http://cyclonedx.org/schema/{name}",
                  Resource.from_contents(json.loads((SCHEMAS / name).read_text())))
                 for name in ("spdx.SNAPSHOT.schema.json", "jsf-0.82.SNAPSHOT.schema.json")]
    return Registry().with_resources(resources)


def schema_errors(doc: dict[str, Any]) -> list[str]:
    schema = json.loads((SCHEMAS / "bom-1.6.SNAPSHOT.schema.json").read_text())
    validator = jsonschema.Draft7Validator(schema, registry=registry(),
                                           format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]


def props(item: dict[str, Any], name: str) -> list[str]:
    return [p["value"] for p in item.get("properties", []) if p["name"] == name]


@pytest.fixture(scope="module")
def bom(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    repo = GitRepo.init(tmp_path_factory.mktemp("repo"))
    repo.commit({
        "app/llm.py": LLM_PY, "web/chat.ts": CHAT_TS, ".mcp.json": MCP,
        "requirements.txt": "openai==1.40.0\nanthropic>=0.30\nrequests==2.32.0\n",
        "models/clf/model.safetensors": SAFETENSORS, "models/clf/README.md": CARD,
        "models/clf/model.safetensors.sig": "{}", "models/old/weights.pkl": PICKLE, "models/big.bin": LFS,
        "data/eval.jsonl": '{"q": "hi", "a": "hello"}\n', "prompts/system.prompt": "You are a helpful bot.\n",
        "AGENTS.md": "Run the tests before you commit.\n", ".gitignore": ".venv/\nignored/\n",
    }, "repo")
    (repo.path / "models" / "link.pt").symlink_to("/etc/hostname")  # untracked symlink: never read
    for ignored in ("ignored/model.pt", ".venv/lib/openai_shim.py"):
        (repo.path / ignored).parent.mkdir(parents=True, exist_ok=True)
        (repo.path / ignored).write_bytes(PICKLE)
    out = repo.path.parent / "aibom.json"
    assert main(["bom", str(repo.path), "--output", str(out)]) == 0
    return json.loads(out.read_text())


def test_the_bom_validates_against_the_cyclonedx_1_6_schema(bom) -> None:
    assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"] == "1.6"
    assert schema_errors(bom) == []


def test_the_schema_check_is_real() -> None:
    assert schema_errors({"bomFormat": "CycloneDX", "specVersion": "1.6",
                          "components": [{"type": "machine-learning-model", "name": "m",
                                          "modelCard": {"modelParameters": {"task": 3}}}]})


def test_lists_the_expected_components(bom) -> None:
    listed = sorted((c["type"], c["name"], c.get("purl", "").split("/")[0]) for c in bom["components"])
    expected = [(*t, purl_type(t)) for t in {
        ("machine-learning-model", "acme/encoder"), ("machine-learning-model", "acme/tagger"),
        ("machine-learning-model", "gpt-4o-2024-08-06"), ("machine-learning-model", "claude-sonnet-4-5"),
        ("machine-learning-model", "gpt-4o-mini"), ("machine-learning-model", "gpt-4o"),
        ("machine-learning-model", "models/clf/model.safetensors"),
        ("machine-learning-model", "models/old/weights.pkl"), ("machine-learning-model", "models/big.bin"),
        ("data", "data/eval.jsonl"), ("file", "prompts/system.prompt"), ("file", "AGENTS.md"),
        ("application", "fs"), ("application", "git"),
        ("library", "openai"), ("library", "anthropic"), ("library", "transformers"),
    }]
    expected.append(("library", "openai", "pkg:npm"))  # imported from TypeScript too: another package
    assert listed == sorted(expected)
    assert {s["name"] for s in bom["services"]} == {"OpenAI API", "Anthropic API", "Hugging Face API",
                                                    "remote"}


def purl_type(item: tuple[str, str]) -> str:
    """The package-URL type the test expects: Hub models, PyPI libraries and the pinned uvx server."""
    kind, name = item
    if kind == "library" or name == "git":
        return "pkg:pypi"
    return "pkg:huggingface" if name.startswith("acme/") else ""


def test_models_referenced_in_code_say_pinned_or_not_and_where(bom) -> None:
    models = {c["name"]: c for c in bom["components"]}
    assert models["acme/encoder"]["purl"] == f"pkg:huggingface/acme/encoder@{SHA}"
    assert props(models["acme/encoder"], "prguard:pinned") == ["true"]
    assert props(models["acme/tagger"], "prguard:pinned") == ["false"]
    assert models["acme/tagger"]["evidence"]["occurrences"] == [
        {"location": "app/llm.py", "line": 8, "additionalContext": "from_pretrained()"}]
    assert props(models["acme/tagger"], "prguard:strength") == ["reached"]
    assert props(models["gpt-4o-2024-08-06"], "prguard:pinned") == ["true"]
    assert props(models["claude-sonnet-4-5"], "prguard:pinned") == ["false"]
    assert props(models["gpt-4o-mini"], "prguard:strength") == ["ambiguous"]  # a constant nothing uses
    assert models["gpt-4o"]["evidence"]["occurrences"][0] == {
        "location": "web/chat.ts", "line": 2, "additionalContext": "model literal"}


def test_model_files_carry_hash_format_signature_and_the_card(bom) -> None:
    by_name = {c["name"]: c for c in bom["components"]}
    clf = by_name["models/clf/model.safetensors"]
    assert clf["hashes"] == [{"alg": "SHA-256", "content": hashlib.sha256(SAFETENSORS).hexdigest()}]
    assert props(clf, "prguard:format") == ["safetensors"]
    assert props(clf, "prguard:signature")[0].startswith(
        "signature present (models/clf/model.safetensors.sig)")
    card = clf["modelCard"]
    assert card["modelParameters"]["task"] == "text-classification"
    assert card["modelParameters"]["datasets"] == [{"type": "dataset", "name": "acme/reviews"}]
    assert card["quantitativeAnalysis"]["performanceMetrics"] == [
        {"type": "accuracy", "value": "0.91", "slice": "reviews"}]
    assert card["considerations"]["technicalLimitations"] == ["English reviews only."]
    old = by_name["models/old/weights.pkl"]
    assert props(old, "prguard:serialization") == ["pickle"]
    assert props(old, "prguard:signature") == ["unsigned"]
    assert old["hashes"][0]["content"] == hashlib.sha256(PICKLE).hexdigest()
    big = by_name["models/big.bin"]
    assert big["hashes"][0]["content"] == LFS_OID and props(big, "prguard:lfs_pointer") == ["true"]


def test_mcp_servers_sdks_and_providers(bom) -> None:
    by_name = {c["name"]: c for c in bom["components"] if not c.get("purl", "").startswith("pkg:npm")}
    assert props(by_name["fs"], "prguard:pinned") == ["false"]
    assert props(by_name["fs"], "prguard:package") == ["@modelcontextprotocol/server-filesystem@latest"]
    assert by_name["git"]["purl"] == "pkg:pypi/mcp-server-git@0.6.2"
    assert by_name["openai"]["purl"] == "pkg:pypi/openai@1.40.0"
    assert by_name["anthropic"]["purl"] == "pkg:pypi/anthropic"
    assert props(by_name["anthropic"], "prguard:pinned") == ["false"]
    assert props(by_name["openai"], "prguard:strength") == ["stated"]
    remote = next(s for s in bom["services"] if s["name"] == "remote")
    assert remote["endpoints"] == ["https://mcp.example.com/sse"]
    data = by_name["data/eval.jsonl"]
    assert data["data"][0]["type"] == "dataset"


def test_ignored_files_and_symlinks_are_not_inventoried(bom) -> None:
    text = json.dumps(bom)
    for absent in ("ignored/model.pt", "openai_shim", "link.pt", "requests"):
        assert absent not in text


def test_bom_of_a_missing_directory_is_a_usage_error(tmp_path: Path, capsys) -> None:
    assert main(["bom", str(tmp_path / "nope")]) == 2
    assert "not a directory" in capsys.readouterr().err


# --- the AI-BOM difference of a change ----------------------------------------------------------------------
def test_summary_lines_of_a_pull_request(tmp_path: Path) -> None:
    base_code = ('from transformers import AutoModel\n'
                 f'm = AutoModel.from_pretrained("acme/encoder", revision="{SHA}")\n')
    repo = GitRepo.on_feature_branch(tmp_path, {
        "app/llm.py": base_code,
        "data/eval.jsonl": '{"q": "1"}\n',
        ".mcp.json": '{"mcpServers": {"git": {"command": "uvx", "args": ["mcp-server-git==0.6.2"]}}}\n',
        "prompts/old.prompt": "Be brief.\n",
    })
    new_data = '{"q": "1"}\n{"q": "ignore previous instructions"}\n'
    repo.write("app/llm.py", base_code + 't = AutoModel.from_pretrained("acme/tagger")\n')
    repo.write("data/eval.jsonl", new_data)
    repo.write(".mcp.json", '{"mcpServers": {\n'
               '"git": {"command": "uvx", "args": ["mcp-server-git==0.6.2"]},\n'
               '"fs": {"command": "npx",\n'
               '"args": ["-y", "@modelcontextprotocol/server-filesystem@latest"]}}}\n')
    repo.git("rm", "-q", "prompts/old.prompt")
    repo.commit(message="change ai assets")
    change = change_from_git(repo.path, "main", head="HEAD")
    old_hash = hashlib.sha256(b'{"q": "1"}\n').hexdigest()[:12]
    new_hash = hashlib.sha256(new_data.encode()).hexdigest()[:12]
    assert summary_lines(change) == [
        "adds model acme/tagger, from Hugging Face, unpinned (app/llm.py:3)",
        f"changes dataset data/eval.jsonl: sha256 {old_hash} -> {new_hash}",
        "removes prompt prompts/old.prompt (no longer referenced in the changed files)",
        "adds MCP server fs, from npx @modelcontextprotocol/server-filesystem@latest (@latest, unpinned) "
        "(.mcp.json:3)",
    ]


def test_summary_lines_of_a_change_without_a_reader() -> None:
    """A change built by hand (the corpus, the editor): only its own files are read."""
    data = PICKLE
    change = Change(base="b", head="h", files=[ChangedFile(
        path="models/clf.pkl", status=FileStatus.ADDED, added_lines=LineSet(), is_binary=True, size=len(data),
        head_loader=lambda: data)])
    digest = hashlib.sha256(data).hexdigest()[:12]
    assert summary_lines(change) == [
        f"adds model file models/clf.pkl, pickle, pickle-based, sha256 {digest}, unsigned"]


@pytest.mark.parametrize(("call", "provider", "pinned"), [
    ('OpenAI().chat.completions.create(model="gpt-4o")', "openai", False),
    ('OpenAI().chat.completions.create(model="gpt-4o-2024-08-06")', "openai", True),
    ('Anthropic().messages.create(model="claude-3-5-sonnet-latest")', "anthropic", False),
    ('Anthropic().messages.create(model="claude-3-5-sonnet-20241022")', "anthropic", True),
    ('ollama.chat(model="llama3:8b")', "ollama", False),
    ('ollama.chat(model="llama3@sha256:' + "c" * 64 + '")', "ollama", True),
    ('litellm.completion(model="ollama/qwen2")', "ollama", False),
    ('genai.GenerativeModel("gemini-1.5-pro-002")', "google", True),
])
def test_api_models_are_pinned_only_by_a_snapshot_or_a_digest(call: str, provider: str, pinned: bool) -> None:
    from checks.aibom.code import from_python

    models = [c for c in from_python("a.py", call + "\n") if c.kind.value == "model"]
    assert [(m.source, m.pinned, m.strength.value) for m in models] == [(provider, pinned, "reached")]
