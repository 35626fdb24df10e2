"""Scan one file's added lines: prefilter, run the detectors a line's gates call for, filter, dedupe.

Only candidate lines (see `prefilter`) are decoded and handed to detectors. On each line every detector
proposes (span, value, priority); the most specific wins and overlapping weaker spans are dropped, so a key
is reported once — not as a provider key *and* a keyword *and* a high-entropy string.

detect-secrets plugins are called directly (`analyze_string`), never through its global settings, so scans
in several threads cannot disturb each other and no plugin can reach for the network to "verify" a key.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
from detect_secrets.plugins.base import BasePlugin, RegexBasedDetector
from detect_secrets.plugins.high_entropy_strings import HighEntropyStringsPlugin
from detect_secrets.plugins.keyword import QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP, REGEX_BY_FILETYPE
from detect_secrets.util.filetype import determine_file_type

from checks.change import LineSet
from checks.secrets import filters
from checks.secrets.detectors import CONTEXT_LINES, DETECTORS, ProviderDetector, find
from checks.secrets.prefilter import candidate_lines, gates_on, hit_windows
from checks.secrets.rules import DS_TYPE_TO_RULE


@dataclass(slots=True)
class Hit:
    """One secret on one line. `value` is the raw secret: kept out of repr so a stray log cannot leak it."""

    rule_id: str
    value: str = field(repr=False)
    line: int
    start: int
    end: int
    priority: int
    source: str
    end_line: int | None = None


#: detect-secrets plugins whose matches are guesses: they get its heuristic filters.
GENERIC = {
    "KeywordDetector": 50,
    "Base64HighEntropyString": 20,
    "HexHighEntropyString": 20,
    "IbmCloudIamDetector": 80,
    "IbmCosHmacDetector": 80,
    "SoftlayerDetector": 80,
    "CloudantDetector": 80,
    "BasicAuthDetector": 80,
    "ArtifactoryDetector": 80,
    "IPPublicDetector": 10,
}
_FORMAT_PRIORITY = 150
#: Lines longer than this (minified bundles, data blobs) run detect-secrets' plugins on windows only.
LONG_LINE = 512
#: Windows per long line (and per file) detect-secrets' plugins may scan; beyond that the file is
#: reported as partly scanned. prguard's own detectors (linear-time patterns) always see every line.
MAX_WINDOWS = 512
MAX_FILE_WINDOWS = 4096
#: Seconds detect-secrets' generic plugins (keyword, entropy…) may spend on one file. Their regexes
#: backtrack, so a crafted file can make them quadratic; past the budget they stop and the file is reported
#: as partly scanned (loudly), while the format-exact detectors keep scanning every line.
DS_FILE_SECONDS = 3.0
#: Seconds they may spend on one whole change, all files together: a PR's content must not set the CPU a
#: worker spends on it (ten keyword-heavy files would otherwise cost ten file budgets). Past it, every
#: further file is scanned by the format-exact detectors only and reported as partly scanned.
DS_CHANGE_SECONDS = 8.0
_PEM_PRIORITY = 400

PLUGINS: dict[str, BasePlugin] = {
    cls.__name__: cls() for cls in get_mapping_from_secret_type_to_class().values()
}
_AWS_ID = re.compile(r"(?:A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA)[0-9A-Z]{16}")
_PEM_BEGIN = re.compile(rb"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----")
_PEM_END = re.compile(rb"-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----")
_PEM_MAX = 64 * 1024
_B64 = re.compile(r"[^A-Za-z0-9+/=]")
_REGEX_ANALYZE = RegexBasedDetector.analyze_string
_DELIMS = " \t=:\"'"


class _Lines:
    """Line access by number into a file's bytes; the index is built only when a lookup needs it."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._starts: list[int] | None = None

    @property
    def starts(self) -> list[int]:
        if self._starts is None:
            self._starts = [0, *(m.end() for m in re.finditer(b"\n", self.data))]
        return self._starts

    def count(self) -> int:
        n = self.data.count(b"\n")
        return n if self.data.endswith(b"\n") or not self.data else n + 1

    def span(self, number: int) -> tuple[int, int]:
        start = self.starts[number - 1]
        end = self.data.find(b"\n", start)
        return start, len(self.data) if end == -1 else end

    def text(self, number: int) -> str:
        if number < 1 or number > len(self.starts):
            return ""
        s, e = self.span(number)
        return self.data[s:e].decode("utf-8", "replace")


def previous_line(data: bytes, line_start: int) -> str:
    if line_start == 0:
        return ""
    prev = data.rfind(b"\n", 0, line_start - 1) + 1
    return data[prev : line_start - 1].decode("utf-8", "replace")


def segments(lines: _Lines, added: LineSet) -> list[tuple[int, int, int]]:
    """(byte start, byte end, first line) of each added range; one segment when the whole file is added."""
    ranges = added.ranges()
    total = lines.count()
    if ranges and ranges[0][0] <= 1 and ranges[0][1] >= total:
        return [(0, len(lines.data), 1)]
    out = []
    for first, last in ranges:
        if first > total:
            break
        # a margin either side, so context keywords on unchanged lines still count
        first = max(1, first - CONTEXT_LINES)
        last = min(total, last + CONTEXT_LINES)
        out.append((lines.span(first)[0], lines.span(last)[1], first))
    return out


@dataclass(slots=True)
class FileScan:
    hits: list[Hit]
    #: Long lines where detect-secrets' plugins only saw the first MAX_WINDOWS windows.
    limited_lines: list[int]
    #: Line at which detect-secrets' generic plugins ran out of their time budget for this file, if any.
    budget_line: int | None = None


def scan_bytes(path: str, data: bytes, added: LineSet, *, until: float | None = None) -> FileScan:
    """Every secret on the added lines of one file, one hit per span, filters applied.

    `until` (a `time.perf_counter()` value) ends the generic detectors' time earlier than the file's own
    budget: the change-wide budget (`DS_CHANGE_SECONDS`) the caller keeps across files.
    """
    lines = _Lines(data)
    limited: list[int] = []
    budget = MAX_FILE_WINDOWS
    ds_deadline = time.perf_counter() + DS_FILE_SECONDS
    if until is not None:
        ds_deadline = min(ds_deadline, until)
    budget_line: int | None = None
    keyword_groups = REGEX_BY_FILETYPE.get(determine_file_type(path), QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP)
    non_text = filters.is_non_text_path(path)
    hits: list[Hit] = []
    context_lines: dict[int, set[int]] = {}  # detector index -> lines where its context keyword occurs
    for start, end, first in segments(lines, added):
        for number, ls, le in candidate_lines(data, start, end, first):
            raw = data[ls:le]
            gates = gates_on(raw)
            if not gates:
                continue
            text = raw.decode("utf-8", "replace")
            if number not in added:  # a margin line: only context keywords matter there
                for gate in gates:
                    if gate.startswith("pg:") and DETECTORS[int(gate[3:])].context is not None:
                        context_lines.setdefault(int(gate[3:]), set()).add(number)
                continue
            line_hits: list[Hit] = []
            for gate in gates:
                kind, _, name = gate.partition(":")
                if kind == "pg":
                    index = int(name)
                    det = DETECTORS[index]
                    if det.context is not None:
                        context_lines.setdefault(index, set()).add(number)
                    else:
                        line_hits.extend(_provider_hits(det, text, number))
                elif kind == "pem":
                    pem = _pem_hit(data, ls, number)
                    if pem is not None:
                        line_hits.append(pem)
                elif name in GENERIC and (non_text or budget_line is not None):
                    continue
                elif name in GENERIC and time.perf_counter() > ds_deadline:
                    budget_line = number
                else:
                    if len(raw) <= LONG_LINE:
                        line_hits.extend(_plugin_hits(name, text, number, path, keyword_groups))
                    else:
                        # windows around this plugin's own gate hits; generic plugins (backtracking
                        # regexes, frequent gates) get a bounded number, format-exact ones see them all
                        windows = hit_windows(raw, plugin=name)
                        if name in GENERIC:
                            allowed = max(0, min(MAX_WINDOWS, budget))
                            if len(windows) > allowed:
                                if number not in limited:
                                    limited.append(number)
                                windows = windows[:allowed]
                            budget -= len(windows)
                        line_hits.extend(
                            _windowed_plugin_hits(name, raw, windows, number, path, keyword_groups)
                        )
            if line_hits and not filters.is_allowlisted(path, text, previous_line(data, ls)):
                hits.extend(line_hits)
    if context_lines:
        hits.extend(_context_hits(context_lines, lines, added, path))
    return FileScan(dedupe(hits), limited, budget_line)


def _windowed_plugin_hits(
    name: str, raw: bytes, windows: list[tuple[int, int]], number: int, path: str, keyword_groups: dict
) -> list[Hit]:
    """A detect-secrets plugin on windows around the gate hits of a long line.

    Its regexes backtrack (`\\w*`, `[^'"]*`, `eyJ[…]+\\.`): on a crafted long line their cost grows with
    the square of the text they see, so they only ever see short windows, and a bounded number of them.
    """
    out = []
    for lo, hi in windows:
        window = raw[lo:hi].decode("utf-8", "replace")
        if f"ds:{name}" not in gates_on(window):
            continue
        for hit in _plugin_hits(name, window, number, path, keyword_groups):
            hit.start += lo
            hit.end += lo
            out.append(hit)
    return out


def _provider_hits(det: ProviderDetector, text: str, number: int, priority: int | None = None) -> list[Hit]:
    out = []
    for start, end, value in find(det, text):
        if filters.rejected_by_common(value) or not filters.looks_random(
            value, det.alphabet, det.mixed, det.not_hex
        ):
            continue
        if det.line_must is not None and not det.line_must.search(text):
            continue
        out.append(Hit(det.rule_id, value, number, start, end, priority or det.priority, "prguard"))
    return out


def _context_hits(context_lines: dict[int, set[int]], lines: _Lines, added: LineSet, path: str) -> list[Hit]:
    """Context-keyed detectors: look for the value on added lines near each context keyword."""
    out: list[Hit] = []
    for index, near in context_lines.items():
        det = DETECTORS[index]
        wanted = sorted(
            {n for c in near for n in range(c - CONTEXT_LINES, c + CONTEXT_LINES + 1) if n in added}
        )
        for number in wanted:
            text = lines.text(number)
            found = _provider_hits(det, text, number)
            if found and not filters.is_allowlisted(path, text, lines.text(number - 1)):
                out.extend(found)
    return out


def _plugin_hits(name: str, text: str, number: int, path: str, keyword_groups: dict) -> list[Hit]:
    plugin = PLUGINS.get(name)
    if plugin is None:
        return []
    if name == "KeywordDetector":
        values = list(plugin.analyze_string(text, denylist_regex_to_group=keyword_groups))
    elif isinstance(plugin, HighEntropyStringsPlugin):
        limit = plugin.entropy_limit
        values = []
        for v in plugin.analyze_string(text):
            # entropy <= log2(distinct characters): a cheap bound before the exact computation; the cheap
            # generic filters run before the entropy too (they would drop the value anyway)
            if len(set(v)) <= 2**limit or filters.rejected_by_generic(
                v, text, path, plugin, plugin.secret_type
            ):
                continue
            if filters.plugin_entropy(v, plugin.secret_type) > limit:
                values.append(v)
    elif isinstance(plugin, RegexBasedDetector) and type(plugin).analyze_string is _REGEX_ANALYZE:
        return _spans_to_hits(name, plugin, _regex_spans(plugin, text), text, number, path)
    else:
        values = list(plugin.analyze_string(text))
    spans = []
    for value in values:
        start = text.find(value)
        spans.append((start, start + len(value), value) if start >= 0 else (0, len(text), value))
    return _spans_to_hits(name, plugin, spans, text, number, path)


def _regex_spans(plugin: RegexBasedDetector, text: str) -> list[tuple[int, int, str]]:
    """Exact spans for a regex plugin. Its own `analyze_string` yields *groups*, and for patterns such as
    GitHub's `(ghp|gho|…)_…` the only group is the prefix — the secret would be reported as "ghp". Take
    the longest group unless it is short or a prefix of the match, else the whole match, trimmed of the
    delimiters some patterns include."""
    out = []
    for regex in plugin.denylist:
        for m in regex.finditer(text):
            group = max(range(regex.groups + 1), key=lambda g: len(m.group(g) or "") if g else -1, default=0)
            if not regex.groups or len(m.group(group) or "") < 4 or m.start(group) == m.start():
                group = 0  # no group, or only a short/prefix group (GitHub's `(ghp|…)_`): the whole match
            start, end = m.span(group)
            while start < end and text[start] in _DELIMS:
                start += 1
            while end > start and text[end - 1] in _DELIMS:
                end -= 1
            if end > start:
                out.append((start, end, text[start:end]))
    return out


def _spans_to_hits(
    name: str, plugin: BasePlugin, spans: list[tuple[int, int, str]], text: str, number: int, path: str
) -> list[Hit]:
    generic = name in GENERIC
    out = []
    for start, end, value in spans:
        if not value or filters.rejected_by_common(value):
            continue
        if generic and filters.rejected_by_generic(value, text, path, plugin, plugin.secret_type):
            continue
        rule_id = _rule_for(plugin.secret_type, value)
        # an AWS secret has no prefix: the same identifier test as prguard's own AWS secret detector
        mixed = rule_id == "secrets/aws-secret-access-key"
        if (
            not generic
            and name != "PrivateKeyDetector"
            and not filters.looks_random(value, filters.alphabet_of(value), mixed, False)
        ):
            continue
        if rule_id == "secrets/aws-access-key-id" and filters.inside_encoded_run(text, start, end):
            continue
        if rule_id == "secrets/jwt" and filters.is_documentation_jwt(value):
            continue
        out.append(Hit(rule_id, value, number, start, end, GENERIC.get(name, _FORMAT_PRIORITY), name))
    return out


def _rule_for(secret_type: str, value: str) -> str:
    if secret_type == "AWS Access Key" and not _AWS_ID.fullmatch(value):
        return "secrets/aws-secret-access-key"
    return DS_TYPE_TO_RULE.get(secret_type, "secrets/secret-keyword")


def _pem_hit(data: bytes, line_start: int, number: int) -> Hit | None:
    """A PEM private key block starting on this line: the body is the secret, the block the span."""
    line_end = data.find(b"\n", line_start)
    begin = _PEM_BEGIN.search(data, line_start, len(data) if line_end == -1 else line_end)
    if begin is None:
        return None
    end = _PEM_END.search(data, begin.end(), begin.end() + _PEM_MAX)
    if end is None:
        return None
    raw = data[begin.end() : end.start()].decode("utf-8", "replace")
    if "..." in raw or "…" in raw:
        return None
    raw = raw.replace("\\n", "\n").replace("\\r", "\n")
    body_lines = [ln for ln in raw.splitlines() if ":" not in ln]
    body = _B64.sub("", "".join(body_lines))
    dense = sum(len(ln.strip()) for ln in body_lines)
    if len(body) < 64 or len(body) < 0.8 * dense or filters.entropy(body) < 4.5:
        return None
    if filters.rejected_by_common(body):
        return None
    end_line = number + data.count(b"\n", begin.start(), end.end())
    col = begin.start() - line_start
    text_end = (line_end if line_end != -1 and line_end < end.end() else end.end()) - line_start
    return Hit(
        "secrets/private-key", body, number, col, max(col + 1, text_end), _PEM_PRIORITY, "prguard", end_line
    )


def dedupe(hits: list[Hit]) -> list[Hit]:
    """One hit per span: on overlapping spans the highest priority (then the longest) wins.

    Lines inside a multi-line private key block belong to that block's single hit.
    """
    blocks = [(h.line, h.end_line) for h in hits if h.end_line is not None and h.end_line > h.line]
    kept: list[Hit] = []
    by_line: dict[int, list[Hit]] = {}
    for h in sorted(hits, key=lambda h: (h.line, -h.priority, -(h.end - h.start))):
        if any(first < h.line <= last for first, last in blocks):
            continue
        same = by_line.setdefault(h.line, [])
        if any(h.start < k.end and k.start < h.end for k in same):
            continue
        if any(k.value == h.value for k in same):
            continue
        same.append(h)
        kept.append(h)
    return kept


def secrets_in_path(path: str) -> list[Hit]:
    """Format-exact secrets in a repository path (a key used as a file or directory name).

    The path is scanned as one line, so a key between `/` and `.` is found as it would be in text. Keyword
    and entropy guesses are left out: hashed bundle names (`app.3f9a….js`) are not secrets, and a path
    has no `password =` context to go on.
    """
    hits = scan_bytes(path, path.encode("utf-8", "surrogateescape"), LineSet.whole(1)).hits
    return [h for h in hits if h.source not in GENERIC]
