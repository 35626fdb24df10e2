"""Models, datasets, providers and SDKs referenced from source code, read statically.

Python is parsed with `ast` (nothing imported or run): calls to Hub loaders (`from_pretrained`,
`hf_hub_download`, `snapshot_download`, `load_dataset`, `SentenceTransformer`, `pipeline(model=...)`) and
`model=` arguments of provider SDK calls, with module-level string constants resolved
(`MODEL = "acme/x"; AutoModel.from_pretrained(MODEL)`). JavaScript/TypeScript is read with a few patterns
(imports of SDK packages and `model: "..."` literals): cheap, and marked `ambiguous` when no SDK import
backs them. A Python file that does not parse falls back to the JavaScript-style patterns.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from checks.aibom import names
from checks.aibom.model import Component, Evidence, Kind, Strength

_HUB_MODEL_CALLS = {"from_pretrained", "SentenceTransformer", "CrossEncoder", "hf_hub_download",
                    "snapshot_download", "AutoModel"}
_HUB_DATASET_CALLS = {"load_dataset"}
_LOCAL_LOADERS = {"json", "csv", "parquet", "text", "arrow", "pandas", "imagefolder", "audiofolder",
                  "webdataset"}
_LLM_CALL_WORDS = re.compile(r"(?i)chat|complet|generat|embed|invoke|llm|agent|model|respon|messages")
_MODEL_VAR = re.compile(r"(?i)model|llm|engine|deployment|checkpoint")


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else node.attr
    if isinstance(node, ast.Call):
        return _dotted(node.func)
    return ""


class _Python:
    def __init__(self, path: str, tree: ast.Module) -> None:
        self.path = path
        self.tree = tree
        self.consts: dict[str, str] = {}
        for stmt in tree.body:
            if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant) \
                    and isinstance(stmt.value.value, str):
                for target in stmt.targets:
                    if isinstance(target, ast.Name):
                        self.consts[target.id] = stmt.value.value
            elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) \
                    and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str):
                self.consts[stmt.target.id] = stmt.value.value
        self.used_consts: set[str] = set()

    def value(self, node: ast.AST | None) -> tuple[str | None, bool]:
        """(string value, resolved) of an argument: a literal, a module constant, else its source text."""
        if node is None:
            return None, False
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value, True
        if isinstance(node, ast.Name) and node.id in self.consts:
            self.used_consts.add(node.id)
            return self.consts[node.id], True
        return ast.unparse(node), False

    def ev(self, node: ast.AST, strength: Strength, note: str) -> Evidence:
        return Evidence(self.path, getattr(node, "lineno", 0), strength, note)

    def components(self) -> Iterator[Component]:
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                yield from self._imports(node)
            elif isinstance(node, ast.Call):
                yield from self._call(node)
        yield from self._constants()

    def _imports(self, node: ast.Import | ast.ImportFrom) -> Iterator[Component]:
        modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        for module in modules:
            for root in (module, module.split(".")[0], ".".join(module.split(".")[:2])):
                if root in names.PY_SDKS:
                    pkg, provider = names.PY_SDKS[root]
                    ev = self.ev(node, Strength.REACHED, f"import {module}")
                    yield Component(Kind.SDK, pkg, source="pypi", evidence=[ev])
                    if provider:
                        yield Component(Kind.PROVIDER, provider, source=provider, evidence=[ev])
                    break

    def _kw(self, call: ast.Call, name: str) -> ast.AST | None:
        return next((k.value for k in call.keywords if k.arg == name), None)

    def _call(self, call: ast.Call) -> Iterator[Component]:
        dotted = _dotted(call.func)
        last = dotted.rsplit(".", 1)[-1]
        first = dotted.split(".", 1)[0]
        if last in _HUB_MODEL_CALLS or (last == "pipeline" and self._kw(call, "model") is not None):
            node = self._kw(call, "repo_id") or self._kw(call, "model") or self._kw(
                call, "pretrained_model_name_or_path") or self._kw(call, "model_name_or_path")
            if node is None and call.args and last != "pipeline":
                node = call.args[0]
            if node is not None:
                yield from self._hub(call, node, Kind.MODEL, f"{last}()")
            return
        if last in _HUB_DATASET_CALLS:
            node = call.args[0] if call.args else self._kw(call, "path")
            if node is not None:
                yield from self._hub(call, node, Kind.DATASET, "load_dataset()")
            return
        model_node = self._kw(call, "model") or self._kw(call, "model_name") or self._kw(call, "model_id")
        if model_node is None and last == "GenerativeModel" and call.args:
            model_node = call.args[0]
        if model_node is None:
            return
        model, resolved = self.value(model_node)
        if not model or not resolved:
            return
        provider = names.CALL_PROVIDERS.get(last) or names.RECEIVER_PROVIDERS.get(first) or \
            names.provider_of(model)
        llm_call = provider is not None or bool(_LLM_CALL_WORDS.search(dotted))
        if not llm_call:
            return
        provider = provider or "unknown"
        strength = Strength.REACHED if provider != "unknown" else Strength.AMBIGUOUS
        yield from self._api_model(call, model, provider, strength, f"{dotted}(model=...)")

    def _api_model(self, node: ast.AST, model: str, provider: str, strength: Strength,
                   note: str) -> Iterator[Component]:
        for prefix in ("openai/", "anthropic/", "ollama/", "ollama_chat/", "gemini/", "groq/", "mistral/"):
            if model.startswith(prefix):
                model = model[len(prefix):]
                break
        ev = self.ev(node, strength, note)
        version = None
        if provider == "ollama":  # a tag (`llama3:8b`) or a digest (`llama3@sha256:...`)
            version = model.partition("@")[2] or model.partition(":")[2] or None
        yield Component(Kind.MODEL, model, source=provider, version=version,
                        pinned=names.model_pinned(provider, model), evidence=[ev])
        if provider != "unknown":
            yield Component(Kind.PROVIDER, provider, source=provider, evidence=[ev])

    def _hub(self, call: ast.Call, node: ast.AST, kind: Kind, note: str) -> Iterator[Component]:
        ident, resolved = self.value(node)
        if ident is None:
            return
        if resolved and (ident.startswith(("./", "../", "/", "~")) or (kind is Kind.DATASET
                                                                       and ident in _LOCAL_LOADERS)):
            return  # a local directory or a file loader: the files themselves are inventoried
        revision, rev_resolved = self.value(self._kw(call, "revision"))
        strength = Strength.REACHED if resolved else Strength.AMBIGUOUS
        name = ident if resolved else f"(dynamic: {ident})"
        ev = self.ev(call, strength, note + ("" if revision is None else f" revision={revision}"))
        yield Component(kind, name, source="huggingface", version=revision if rev_resolved else None,
                        pinned=names.is_hub_commit(revision) if rev_resolved else False,
                        attrs={"revision": revision} if revision else {}, evidence=[ev])
        yield Component(Kind.PROVIDER, "huggingface", source="huggingface", evidence=[ev])

    def _constants(self) -> Iterator[Component]:
        """`MODEL = "gpt-4o"` never passed to a call we know: a model, ambiguously."""
        for stmt in self.tree.body:
            if not isinstance(stmt, ast.Assign | ast.AnnAssign):
                continue
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                if not isinstance(target, ast.Name) or target.id in self.used_consts:
                    continue
                value = self.consts.get(target.id)
                if value and _MODEL_VAR.search(target.id) and names.looks_like_model(value):
                    provider = names.provider_of(value) or "unknown"
                    yield from self._api_model(stmt, value, provider, Strength.AMBIGUOUS,
                                               f"constant {target.id}")


_JS_IMPORT = re.compile(r"""(?:\bfrom\s*|\brequire\(\s*|\bimport\(\s*)["']([@\w./-]+)["']""")
_JS_MODEL = re.compile(r"""\bmodel(?:Name|Id)?\s*[:=]\s*["'`]([\w.:/@-]{2,100})["'`]""")


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def from_script(path: str, text: str) -> Iterator[Component]:
    """JavaScript/TypeScript (and unparsable Python): SDK imports and `model: "..."` literals."""
    sdk_seen = False
    for m in _JS_IMPORT.finditer(text):
        spec = m.group(1)
        pkg = spec if spec.startswith("@") and spec.count("/") == 1 else spec.split("/")[0] if \
            not spec.startswith("@") else "/".join(spec.split("/")[:2])
        if pkg in names.NPM_SDKS:
            sdk_seen = True
            ev = Evidence(path, _line(text, m.start()), Strength.REACHED, f"import {spec}")
            yield Component(Kind.SDK, pkg, source="npm", evidence=[ev])
            if names.NPM_SDKS[pkg]:
                yield Component(Kind.PROVIDER, names.NPM_SDKS[pkg], source=names.NPM_SDKS[pkg], evidence=[ev])
    for m in _JS_MODEL.finditer(text):
        model = m.group(1)
        provider = names.provider_of(model)
        if provider is None and not sdk_seen:
            continue
        strength = Strength.REACHED if sdk_seen and provider else Strength.AMBIGUOUS
        ev = Evidence(path, _line(text, m.start()), strength, "model literal")
        provider = provider or "unknown"
        yield Component(Kind.MODEL, model, source=provider, pinned=names.model_pinned(provider, model),
                        evidence=[ev])
        if provider != "unknown":
            yield Component(Kind.PROVIDER, provider, source=provider, evidence=[ev])


def from_python(path: str, text: str) -> Iterator[Component]:
    try:
        tree = ast.parse(text, filename=path)
    except (SyntaxError, ValueError, RecursionError):
        yield from from_script(path, text)
        return
    yield from _Python(path, tree).components()
