"""LLM-using code: every semgrep rule's bad and good fixture, plus variants written the way real code is
(import aliases, other SDKs, other sinks) and their safe look-alikes.

The fixture pairs come from `tests/fixtures/semgrep_llm/<rule>/` (where `tests/test_prompt_safety_semgrep.py`
also asserts exact lines); the variants below are here only, so the corpus measures more than the examples
the rules were written against. Known misses (semgrep OSS taint does not follow a value through a
function's return) are listed in `KNOWN_MISSES`, outside `CASES`, so the limits are on record.
"""

from __future__ import annotations

from pathlib import Path

from tests.ai_corpus import Case

KIND = "llm-code"
_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "semgrep_llm"
_SHA = "0123456789abcdef0123456789abcdef01234567"


def _rule(name: str) -> str:
    return f"prompt-safety/{name}"


def _fixture_cases() -> list[Case]:
    cases = []
    for rule_dir in sorted(p for p in _FIXTURES.iterdir() if p.is_dir()):
        for file in sorted(rule_dir.iterdir()):
            bad = file.stem == "bad"
            cases.append(Case(KIND, f"corpus/{rule_dir.name}/{file.name}", file.read_bytes(), bad,
                              f"{rule_dir.name} fixture ({'bad' if bad else 'good'})",
                              _rule(rule_dir.name) if bad else None))
    return cases


def _code(text: str) -> bytes:
    return text.strip("\n").encode() + b"\n"


#: (path, code, malicious, note, expected rule)
_VARIANTS: list[tuple[str, str, bool, str, str | None]] = [
    ("variants/torch_alias.py", """
from torch import load as tload
weights = tload("ckpt.pt", map_location="cpu")
""", True, "torch.load through a from-import alias", "torch-load-unsafe"),
    ("variants/torch_alias_safe.py", """
from torch import load as tload
weights = tload("ckpt.pt", map_location="cpu", weights_only=True)
""", False, "aliased torch.load with weights_only=True", None),
    ("variants/pickle_alias.py", f"""
import pickle as pk
from huggingface_hub import hf_hub_download
path = hf_hub_download("acme/vocab", "vocab.pkl", revision="{_SHA}")
vocab = pk.load(open(path, "rb"))
""", True, "downloaded pickle through an import alias", "pickle-load-downloaded"),
    ("variants/pickle_local.py", """
import pickle
with open("build/cache.pkl", "rb") as fh:
    cache = pickle.load(fh)
""", False, "a pickle this program wrote itself (not downloaded)", None),
    ("variants/anthropic_exec.py", """
import anthropic
client = anthropic.Anthropic()
msg = client.messages.create(model="claude-sonnet-4-5", max_tokens=800,
                             messages=[{"role": "user", "content": "code"}])
exec(msg.content[0].text)
""", True, "Anthropic output executed", "llm-output-to-sink"),
    ("variants/ollama_shell.py", """
import os
import ollama
reply = ollama.chat(model="llama3", messages=[{"role": "user", "content": "which file?"}])
answer = reply["message"]["content"]
os.system("cat " + answer)
""", True, "Ollama output into os.system", "llm-output-to-sink"),
    ("variants/langchain_sql.py", """
def report(chain, conn, question):
    where = chain.invoke({"question": question})
    return conn.execute(f"SELECT * FROM orders WHERE {where}")
""", True, "LangChain output spliced into SQL", "llm-output-to-sink"),
    ("variants/langchain_sql_bound.py", """
def report(chain, conn, question):
    customer = chain.invoke({"question": question})
    return conn.execute("SELECT * FROM orders WHERE customer = ?", (customer,))
""", False, "model output as a bound SQL parameter", None),
    ("variants/streamlit_html.py", """
import streamlit as st
from openai import OpenAI
reply = OpenAI().responses.create(model="gpt-4o", input="write a greeting")
st.markdown(reply.output_text, unsafe_allow_html=True)
""", True, "model output rendered as raw HTML", "llm-output-to-sink"),
    ("variants/streamlit_text.py", """
import streamlit as st
from openai import OpenAI
reply = OpenAI().responses.create(model="gpt-4o", input="write a greeting")
st.markdown(reply.output_text)
""", False, "model output rendered as markdown without HTML", None),
    ("variants/system_prompt_format.py", """
from flask import Flask, request
from openai import OpenAI
app = Flask(__name__)
client = OpenAI()
TEMPLATE = "You are the assistant of {company}. Never discuss pricing."

@app.route("/chat", methods=["POST"])
def chat():
    company = request.form["company"]
    system = TEMPLATE.format(company=company)
    return client.chat.completions.create(model="gpt-4o", messages=[
        {"role": "system", "content": system}, {"role": "user", "content": request.form["q"]}])
""", True, "request field formatted into a system prompt", "untrusted-input-in-system-prompt"),
    ("variants/hub_pipeline_unpinned.py", """
from transformers import AutoTokenizer
tok = AutoTokenizer.from_pretrained("acme/tokenizer", revision="v2.1")
""", True, "revision pinned to a tag, which moves", "hf-unpinned-revision"),
    ("variants/hub_pinned_constant.py", f"""
from transformers import AutoTokenizer
REVISION = "{_SHA}"
tok = AutoTokenizer.from_pretrained("acme/tokenizer", revision=REVISION)
""", False, "revision from a constant holding a commit SHA", None),
    ("variants/faiss_dangerous.py", """
from langchain_community.vectorstores import FAISS
def load(emb):
    return FAISS.load_local(folder_path="kb", embeddings=emb, allow_dangerous_deserialization=True)
""", True, "FAISS index unpickled", "langchain-allow-dangerous-deserialization"),
    ("variants/tls_async.py", """
import httpx
from openai import AsyncOpenAI
client = AsyncOpenAI(http_client=httpx.AsyncClient(verify=False, timeout=60))
""", True, "async client without TLS verification", "llm-endpoint-tls-disabled"),
    ("variants/agent_tool_rmtree.py", """
import shutil
from agents import function_tool

@function_tool
def clean(path: str) -> str:
    shutil.rmtree(path)
    return "done"
""", True, "agent tool deletes any directory the model names", "agent-tool-runs-shell"),
    ("variants/agent_repl.py", """
from langchain_experimental.tools import PythonREPLTool
tools = [PythonREPLTool()]
""", True, "agent gets a Python REPL", "agent-shell-tool"),
    ("variants/plain_subprocess.py", """
import subprocess
def build(target: str) -> None:
    subprocess.run(["make", target], check=True)
""", False, "ordinary subprocess use with no model involved", None),
]


#: malicious code the rules do not catch (documented limits, kept out of `CASES`, whose every malicious case
#: must be caught): semgrep OSS taint is intra-procedural, so a value returned by a helper is not followed
_MISSES: list[tuple[str, str, bool, str, str | None]] = [
    ("variants/helper_return_eval.py", """
from openai import OpenAI
client = OpenAI()

def ask(question):
    reply = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": question}])
    return reply.choices[0].message.content

def main():
    eval(ask("an expression"))
""", True, "known miss: output returned by a helper, eval'd by its caller", "llm-output-to-sink"),
]


def _variant_cases(variants: list[tuple[str, str, bool, str, str | None]] = _VARIANTS) -> list[Case]:
    return [Case(KIND, f"corpus/{path}", _code(code), bad, note, _rule(rule) if rule else None)
            for path, code, bad, note, rule in variants]


CASES: list[Case] = _fixture_cases() + _variant_cases()
KNOWN_MISSES: list[Case] = _variant_cases(_MISSES)
