"""`PromptSafetyCheck` (`prguard/prompt-safety`): the AI assets of a change, each by what it is.

The files are sorted by `checks.ai_assets` (with the policy's extra globs) and each kind goes to its scanner:

- prompts and agent rules/skills: hidden Unicode (decoded), injection/exfiltration phrasing, secrets inside
  the prompt, and for rules files the instructions that weaken security (`unicode`, `injection`,
  `agent_rules`);
- MCP configs and agent settings: parsed, never run (`mcp`);
- datasets: every record streamed (`datasets`);
- model artifacts: `checks.prompt_safety.models` (its own package, called per file);
- LLM-using code: `checks.prompt_safety.semgrep` (one semgrep process for every file);
- the AI-BOM difference of the change (`checks.aibom.summary_lines`), shown as info findings so it appears
  in the check's summary table.

The last three are separate packages that may not be installed yet: each is imported on use, and a missing
one means those files are reported as not scanned, never as clean. Every finding carries its OWASP LLM id.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import re
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

from checks.ai_assets import CODE_SUFFIXES, AssetClassifier, AssetKind
from checks.base import Novelty
from checks.change import ChangedFile, FileStatus, text_for_scan
from checks.finding import Finding, Severity, Skipped
from checks.prompt_safety import agent_rules, datasets, injection, mcp, unicode
from checks.prompt_safety.owasp import Rule, ensure_owasp
from checks.redact import redact

if TYPE_CHECKING:
    from checks.context import CheckContext

HIDDEN = {
    "tags": Rule("hidden-unicode-tags", "Hidden Unicode tag characters (ASCII "
                                        "smuggling)", Severity.HIGH, "LLM01",
                 "Delete the invisible U+E00xx characters; they spell text a model reads and a reviewer "
                 "cannot."),
    "bidi": Rule("hidden-unicode-bidi", "Bidirectional control characters (Trojan "
                                        "Source)", Severity.HIGH, "LLM01",
                 "Remove the bidi overrides/isolates; real right-to-left text does not need them in a "
                 "prompt."),
    "zero-width": Rule("hidden-unicode-zero-width", "Zero-width characters", Severity.MEDIUM, "LLM01",
                       "Remove the zero-width characters (they can encode hidden text as bits)."),
    "variation-selectors": Rule("hidden-unicode-variation-selectors", "Variation selectors carrying a "
                                                                      "payload",
                                Severity.HIGH, "LLM01",
                                "Remove the variation selectors; a run of them encodes bytes (one per "
                                "selector)."),
}
SECRET_IN_PROMPT = Rule("secret-in-prompt", "Credential inside a prompt or rules "
                                            "file", Severity.HIGH, "LLM07",
                        "Never put credentials in text a model reads: it can repeat them. Rotate the key.")
POISONED = Rule("dataset-poisoned-record", "Dataset record carries injection, exfiltration or hidden text",
                Severity.HIGH, "LLM04", "Remove or clean the record; check where the dataset came from.")
NOT_SCANNED_DATA = Rule("dataset-not-fully-scanned", "Dataset only partly scanned", Severity.LOW, "LLM04",
                        "Raise checks.prompt-safety.dataset_max_bytes or split the file.")
SYMLINKED = Rule("asset-is-symlink", "Agent config, rules or prompt committed as a symbolic link",
                 Severity.HIGH, "LLM03",
                 "Commit the file itself: prguard never follows links, so the target was not checked, "
                 "while the agent reading it does follow them.")
BOM_CHANGE = Rule("aibom-change", "AI-BOM change", Severity.INFO, "LLM03",
                  "Review the AI components this change adds or changes.")

TEXT_KINDS = (AssetKind.PROMPT, AssetKind.AGENT_RULES)
CONFIG_KINDS = (AssetKind.MCP_CONFIG, AssetKind.AGENT_SETTINGS)
#: suffixes the policy's extra globs could turn into assets, so `applies_to` (path only) keeps them
_CANDIDATE_SUFFIXES = (".jsonl", ".ndjson", ".json", ".jsonc", ".csv", ".tsv", ".parquet", ".md", ".mdc",
                       ".txt", ".prompt", ".prompty", ".yaml", ".yml", ".j2", ".jinja", ".jinja2",
                       ".mustache",
                       ".toml", ".hbs", ".tmpl")
_CLASSIFIER = AssetClassifier()
_NO_HOSTS = injection.HostPolicy()


def _optional(name: str) -> ModuleType | None:
    """A sibling package that may not exist yet (models, semgrep, aibom)."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _shown(text: str, limit: int = 200) -> str:
    """Untrusted text for a message: hidden characters spelled out, quoted, bounded, secrets redacted."""
    shown = json.dumps(unicode.visible(text), ensure_ascii=True)
    return shown if len(shown) <= limit else shown[: limit - 2] + '…"'


class PromptSafetyCheck:
    name = "prompt-safety"
    title = "Prompt safety / AI supply chain"
    novelty = Novelty.ADDED_LINE
    #: reads oversized datasets and models as streams (`checks.streaming`)
    streams = True

    def applies_to(self, file: ChangedFile) -> bool:
        if file.status is FileStatus.REMOVED or file.is_symlink:
            return False
        lower = file.path.lower()
        return (_CLASSIFIER.by_path(file.path) is not None or lower.endswith(_CANDIDATE_SUFFIXES)
                or lower.endswith(CODE_SUFFIXES))

    def run(self, files: Sequence[ChangedFile], ctx: CheckContext) -> Iterator[Finding | Skipped]:
        options: dict[str, Any] = dict(ctx.policy.options)
        classifier = AssetClassifier(options.get("asset_globs") or {})
        hosts = injection.HostPolicy(options.get("allowed_hosts") or ())
        max_bytes = int(options.get("dataset_max_bytes") or datasets.DEFAULT_MAX_BYTES)
        models_pkg = _optional("checks.prompt_safety.models")
        semgrep_pkg = _optional("checks.prompt_safety.semgrep")
        models, code = [], []
        assets: list[str] = []
        for file in files:
            kind = classifier.by_path(file.path)
            if kind is not None:
                assets.append(file.path)
            if kind is AssetKind.MODEL or (models_pkg is not None and models_pkg.applies(file.path)):
                models.append(file)
            elif kind in TEXT_KINDS:
                yield from self._text(file, kind, hosts)
            elif kind in CONFIG_KINDS:
                yield from self._config(file, kind, hosts)
            elif kind is AssetKind.DATASET:
                yield from self._dataset(file, ctx, hosts, max_bytes)
            elif (kind is None and semgrep_pkg is not None and semgrep_pkg.applies(file.path)
                  and _llm_code(file, classifier)):
                code.append(file)
        yield from self._models(models, models_pkg, ctx)
        yield from self._code(code, semgrep_pkg, ctx)
        if ctx.side == "head":
            yield from self._symlinked(ctx, classifier)
            yield from self._bom(ctx, assets)

    @staticmethod
    def _symlinked(ctx: CheckContext, classifier: AssetClassifier) -> Iterator[Finding]:
        """An agent config or prompt added as a link: the agent reads the target, prguard cannot (it never
        follows links), so it is "could not check", blocking, never a quiet skip."""
        for file in ctx.change.files:
            if file.is_symlink and file.status is not FileStatus.REMOVED:
                kind = classifier.by_path(file.path)
                if kind in TEXT_KINDS or kind in CONFIG_KINDS:
                    yield SYMLINKED.finding(file.path, 0, f"{file.path} is a symbolic link ({kind.value})",
                                            key=file.path)

    # --- prompts, rules and skills -------------------------------------------------------------------------
    def _text(self, file: ChangedFile, kind: AssetKind,
              hosts: injection.HostPolicy) -> Iterator[Finding | Skipped]:
        text = file.head_text()
        if text is None:
            if file.head_bytes() is not None:
                yield Skipped(file.path, "binary file where a prompt or rules file was expected (not "
                                         "scanned)")
            return
        try:
            for number, line in enumerate(text.splitlines(), 1):
                if number not in file.added_lines:
                    continue
                yield from hidden_findings(file.path, number, line)
                signals = injection.scan_line(line, hosts)
                if kind is AssetKind.AGENT_RULES:
                    rules = agent_rules.scan_line(line)
                    signals = [s for s in signals if not _overlaps(s, rules)] + rules
                for s in signals:
                    yield signal_finding(file.path, number, s)
            yield from self._secrets(file)
        finally:
            file.release()

    def _secrets(self, file: ChangedFile) -> Iterator[Finding | Skipped]:
        """Credentials in a prompt, found by the secrets check's own scanner (its public `scan_bytes`)."""
        data = file.head_bytes()
        if data is None:
            return
        try:
            from checks.secrets.scanner import scan_bytes

            hits = scan_bytes(file.path, text_for_scan(data), file.added_lines).hits
        except Exception as exc:  # the secrets check still runs on this file; say this part did not
            yield Skipped(file.path, f"secrets-in-prompt scan failed ({type(exc).__name__})")
            return
        for hit in hits:
            yield SECRET_IN_PROMPT.finding(
                file.path, hit.line, f"{hit.rule_id} {redact(hit.value)} sits in text a model reads",
                key=f"{hit.rule_id}:{redact(hit.value)}", metadata={"secret_rule": hit.rule_id})

    # --- MCP configs and agent settings ------------------------------------------------------------------
    def _config(self, file: ChangedFile, kind: AssetKind,
                hosts: injection.HostPolicy) -> Iterator[Finding | Skipped]:
        text = file.head_text()
        if text is None:
            if file.head_bytes() is not None:
                yield Skipped(file.path, "binary file where an agent config was expected (not scanned)")
            return
        for number, line in enumerate(text.splitlines(), 1):
            if number in file.added_lines:
                yield from hidden_findings(file.path, number, line)
        for hit in mcp.scan_config(file.path, text.removeprefix("\ufeff"), hosts,
                                   settings=kind is AssetKind.AGENT_SETTINGS):
            yield hit.rule.finding(file.path, hit.line, hit.message, key=hit.key, severity=hit.severity)
        file.release()

    # --- datasets ----------------------------------------------------------------------------------------
    def _dataset(self, file: ChangedFile, ctx: CheckContext, hosts: injection.HostPolicy,
                 max_bytes: int) -> Iterator[Finding | Skipped]:
        if datasets.kind_of(file.path) is None:  # .json / .md under a data path: line by line
            yield from self._text_dataset(file, hosts)
            return
        if datasets.kind_of(file.path) == "parquet" and _optional("pyarrow.parquet") is None:
            yield Skipped(file.path, "Parquet dataset not scanned: install pyarrow to scan its rows")
            return
        outcome = datasets.Outcome()
        stream = _open(file, ctx)
        if stream is None:
            yield Skipped(file.path, "dataset could not be opened (not scanned)")
            return
        try:
            with stream:
                for hit in datasets.scan_stream(file.path, stream, hosts, max_bytes, outcome):
                    yield record_finding(file.path, hit)
        except Exception as exc:  # a malformed Parquet file, an unreadable stream: not scanned, said so
            yield Skipped(file.path, f"dataset could not be read past an error ({type(exc).__name__}: "
                                     f"{str(exc)[:120]}); the rest was not scanned")
        if outcome.truncated_at is not None:
            unit = "rows" if datasets.kind_of(file.path) == "parquet" else "bytes"
            yield Skipped(file.path, f"partly scanned: {unit} beyond {outcome.truncated_at:,} not scanned "
                                     f"(checks.prompt-safety.dataset_max_bytes = {max_bytes:,})")
        for where in outcome.oversized or []:
            yield Skipped(file.path, f"partly scanned: record at {where} is over "
                                     f"{datasets.MAX_RECORD_BYTES:,} bytes (not scanned)")

    def _text_dataset(self, file: ChangedFile, hosts: injection.HostPolicy) -> Iterator[Finding | Skipped]:
        text = file.head_text()
        if text is None:
            return
        for number, line in enumerate(text.splitlines(), 1):
            if number in file.added_lines:
                for hit in datasets.scan_text(line, "text", number, number, f"line {number}", hosts):
                    yield record_finding(file.path, hit)
        file.release()
        if file.path.lower().endswith(".json") and "\\u" in text:
            yield from self._json_escapes(file.path, text, hosts)

    def _json_escapes(self, path: str, text: str, hosts: injection.HostPolicy) -> Iterator[Finding | Skipped]:
        """Hidden characters a JSON file spells as `\\uXXXX` escapes are invisible to the line scan: decode
        the document and scan its strings (file-level findings naming the JSON path)."""
        try:
            document = json.loads(text)
        except ValueError:
            yield Skipped(path, "JSON with \\u escapes that does not parse: escaped text not scanned")
            return
        for field, value in datasets.strings(document):
            if unicode.has_hidden(value):
                for hit in datasets.scan_text(value, field, 0, 0, f"JSON value {field}", hosts):
                    if hit.hidden is not None:
                        yield record_finding(path, hit)

    # --- the other packages ------------------------------------------------------------------------------
    def _models(self, files: list[ChangedFile], pkg: ModuleType | None,
                ctx: CheckContext) -> Iterator[Finding | Skipped]:
        for file in files:
            if pkg is None:
                yield Skipped(file.path, "model artifact not scanned (model scanner not installed)")
                continue
            for item in pkg.scan_model(file, ctx):
                yield ensure_owasp(item, "LLM03") if isinstance(item, Finding) else item

    def _code(self, files: list[ChangedFile], pkg: ModuleType | None,
              ctx: CheckContext) -> Iterator[Finding | Skipped]:
        if not files or pkg is None:
            return  # no semgrep package: source files are not AI assets by path, nothing to report
        for item in pkg.scan(files, ctx):
            yield ensure_owasp(item, "LLM03") if isinstance(item, Finding) else item

    def _bom(self, ctx: CheckContext, assets: list[str]) -> Iterator[Finding]:
        pkg = _optional("checks.aibom")
        lines = getattr(pkg, "summary_lines", None) if pkg is not None else None
        if lines is None or not assets:
            return
        try:
            summary = list(lines(ctx.change))
        except Exception as exc:
            summary = [f"AI-BOM difference could not be computed ({type(exc).__name__})"]
        from checks.redact import redact_in
        from checks.secrets.scanner import secrets_in_path

        # a key used as a file name is redacted before the text is cut (a cut key no longer matches later)
        named = [hit.value for p in assets for hit in secrets_in_path(p)]
        for raw in summary:
            path = next((p for p in assets if p in raw), assets[0])
            text = redact_in(str(raw), named) if named else str(raw)
            finding = BOM_CHANGE.finding(path, 0, text[:300], key=str(raw))
            # the summary table shows titles: the difference itself is the title
            yield dataclasses.replace(finding, title=f"AI-BOM: {text[:160]} [OWASP LLM03]")


#: besides LLM code (`checks.ai_assets`), what the semgrep rules look at in code that may not name an LLM SDK
#: in the same file: deserialisation of downloads, agent tools, chains and models driven through a variable
_SEMGREP_WORTHY = re.compile(
    rb"\b(?:pickle|cloudpickle|dill|joblib)\.loads?\b|\ballow_pickle\s*=\s*True|@(?:function_)?tool\b"
    rb"|\bfunction_tool\b|\b(?:llm|chain|agent|model|chat|runnable|executor)\.a?(?:invoke|predict|run|generate|"
    rb"complete|chat|stream|batch)\s*\(")


def _llm_code(file: ChangedFile, classifier: AssetClassifier) -> bool:
    """Whether a source file is LLM code (`checks.ai_assets`) or does what the semgrep rules look for: only
    those go to semgrep, so a PR of ordinary code does not pay for its start. Unreadable: sent anyway."""
    try:
        data = file.head_bytes()
    except Exception:
        return True
    if data is None or _SEMGREP_WORTHY.search(data):
        return True
    return classifier.classify(file.path, data) is AssetKind.LLM_CODE


def _open(file: ChangedFile, ctx: CheckContext) -> Any:
    """A binary stream of the file: `ctx.open` (streams oversized files), else its bytes."""
    opener = getattr(ctx, "open", None)
    if opener is not None:
        return opener(file.path)
    data = file.head_bytes()
    import io

    return None if data is None else io.BytesIO(data)


def _overlaps(signal: injection.Signal, others: list[injection.Signal]) -> bool:
    return any(signal.start < o.end and o.start < signal.end for o in others)


def hidden_findings(path: str, line_no: int, line: str) -> Iterator[Finding]:
    for hidden in unicode.scan_line(line, first_line=line_no == 1):
        base = HIDDEN[hidden.kind]
        severity = hidden_severity(hidden)
        yield base.finding(
            path, line_no,
            f"{hidden.describe()} at column {hidden.column}; hidden text: {_shown(hidden.decoded)}",
            key=f"{hidden.kind}:{hidden.decoded}", severity=severity,
            metadata={"hidden_kind": hidden.kind, "hidden_text": hidden.decoded[:500],
                      "column": hidden.column},
        )


def hidden_severity(hidden: unicode.HiddenText) -> Severity:
    """The family's severity, raised when the hidden text decodes to something: critical when the hidden
    text is itself an injection or a weakening instruction, high for zero-width bits that spell text."""
    if injection.scan_line(hidden.decoded, _NO_HOSTS) or agent_rules.scan_line(hidden.decoded):
        return Severity.CRITICAL
    if hidden.kind == "zero-width" and hidden.decoded.isprintable() and len(hidden.decoded) >= 3:
        return Severity.HIGH
    return HIDDEN[hidden.kind].severity


def signal_finding(path: str, line_no: int, signal: injection.Signal) -> Finding:
    host = f" (host {signal.host})" if signal.host else ""
    return signal.rule.finding(
        path, line_no, f"{signal.rule.title}{host}: {_shown(signal.text)}", key=signal.text,
        severity=signal.severity,
        metadata={"column": signal.start + 1, **({"host": signal.host} if signal.host else {})})


def record_finding(path: str, hit: datasets.RecordHit) -> Finding:
    """A dataset finding naming its record; line-based formats on the record's line, Parquet file-level."""
    if hit.hidden is not None:
        what = f"{hit.hidden.describe()}; hidden text: {_shown(hit.hidden.decoded)}"
        signal, key = f"hidden-unicode-{hit.hidden.kind}", f"{hit.hidden.kind}:{hit.hidden.decoded}"
        severity = hidden_severity(hit.hidden)
    else:
        assert hit.signal is not None
        what = f"{hit.signal.rule.title}: {_shown(hit.signal.text)}"
        signal, key = hit.signal.rule.slug, hit.signal.text
        severity = hit.signal.severity or hit.signal.rule.severity
    key = f"{signal}:{key}"
    return POISONED.finding(
        path, hit.line, f"{hit.where}, field {_shown(hit.field, 80)}: {what}", key=key, severity=severity,
        metadata={"signal": signal, "record": hit.record, "field": hit.field,
                  **({"row": hit.record} if hit.line == 0 else {})},
    )
