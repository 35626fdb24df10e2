"""The candidate prefilter: one RE2 pass over a file's added bytes picks the few lines worth a detector.

detect-secrets spends its time dispatching ~27 plugins and ~10 filters on every line (about 0.24 MB/s per
core). Here one combined pattern — the union of a *gate* per detector — runs over the raw bytes in linear
time (RE2, hundreds of MB/s), and only lines containing a gate ever reach a detector. Each gate is a
superset of what its detector can match (a literal prefix, a keyword, a quoted run long enough to pass
the entropy limit…); `tests/test_secrets_prefilter.py` checks that property against detect-secrets itself.

A second, per-line `re2.Set` over the same gates tells which detectors to run on a candidate line, so a
line with `AKIA…` does not pay for the keyword or entropy plugins.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import re2

from checks.secrets.detectors import DETECTORS

_KEYWORDS = (
    r"api_?key|auth_?key|service_?key|account_?key|db_?key|database_?key|priv_?key|private_?key|"
    r"client_?key|db_?pass|database_?pass|key_?pass|password|passwd|pwd|secret|contraseña|contrasena"
)
_ASSIGN = r"""['"\] =:>]*"""

#: detect-secrets plugin class name -> RE2 gate that every line the plugin can report on matches.
#: Gates are deliberately coarse (a literal prefix and a few characters, not the full counted format):
#: long counted classes OR-ed together blow up RE2's DFA and drop a pass from ~400 to ~30 MB/s.
DS_GATES: dict[str, str] = {
    "ArtifactoryDetector": r"""(?:^|[\s=:"])(?:AKC|AP[0-9A-F])""",
    "AWSKeyDetector": r"(?:A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA)[0-9A-Z]{4}|(?i:aws.{0,20}(?:key|pw|pass|token))",
    "AzureStorageKeyDetector": r"AccountKey=",
    "BasicAuthDetector": r"://[^{}\s]+:[^{}\s]+@",
    "CloudantDetector": rf"(?i:(?:key|pwd|pw|password|pass|token){_ASSIGN}[a-z0-9]{{8}}|cloudant\.com)",
    "DiscordBotTokenDetector": r"[MNO][a-zA-Z0-9_-]{10}[a-zA-Z0-9_-]*\.[a-zA-Z0-9_-]{6}\.",
    "GitHubTokenDetector": r"gh[pousr]_",
    "GitLabTokenDetector": r"gl(?:pat|dt|ft|soat|rt|cbt|imt|ptt|agent|oas)-|GR1348941",
    "Base64HighEntropyString": r"""['"][A-Za-z0-9+/=_-]{23,}['"]""",
    "HexHighEntropyString": r"""['"][0-9a-fA-F]{9,}['"]""",
    "IbmCloudIamDetector": rf"(?i:(?:key|pwd|password|pass|token){_ASSIGN}[a-z0-9_-]{{8}})",
    "IbmCosHmacDetector": r"(?i:secret)",
    "IPPublicDetector": r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}",
    "JwtTokenDetector": r"eyJ",
    "KeywordDetector": rf"(?i:{_KEYWORDS})",
    "MailchimpDetector": r"[0-9a-z]-us[0-9]",
    "NpmDetector": r"/:_authToken=",
    "OpenAIDetector": r"T3BlbkFJ",
    "PrivateKeyDetector": r"PRIVATE KEY|PuTTY-User-Key-File-2",
    "PypiTokenDetector": r"pypi-AgE",
    "SendGridDetector": r"SG\.",
    "SlackDetector": r"(?i:xox[abposr]-|hooks\.slack\.com/services/)",
    "SoftlayerDetector": rf"(?i:(?:key|pwd|password|pass|token){_ASSIGN}[a-z0-9]{{8}}|softlayer\.com)",
    "SquareOAuthDetector": r"sq0csp-",
    "StripeDetector": r"[rs]k_live_",
    "TelegramBotTokenDetector": r"[0-9]{8}:[0-9A-Za-z_-]{4}",
    "TwilioKeyDetector": r"(?:AC|SK)[a-z0-9]{8}",
}

#: Which whole-file pass each gate joins. Three passes of ~200-400 MB/s beat one pass of ~30 MB/s.
_KEYWORD_PASS = {
    "KeywordDetector",
    "CloudantDetector",
    "IbmCloudIamDetector",
    "SoftlayerDetector",
    "IbmCosHmacDetector",
}
_QUOTED_PASS = {"Base64HighEntropyString", "HexHighEntropyString"}

#: prguard's PEM block detector (reads the whole block from the BEGIN line).
PEM_GATE = r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY"


@dataclass(frozen=True, slots=True)
class Gate:
    #: "ds:<PluginClass>", "pg:<index in DETECTORS>" or "pem".
    name: str
    source: str
    group: int = 0


def _gate_source(source: str) -> str:
    """Turn a leading `(?i)` into a scoped `(?i:…)` so gates can be OR-ed together."""
    return f"(?i:{source[4:]})" if source.startswith("(?i)") else source


def _ds_group(name: str) -> int:
    return 1 if name in _KEYWORD_PASS else 2 if name in _QUOTED_PASS else 0


GATES: tuple[Gate, ...] = (
    *(Gate(f"ds:{name}", src, _ds_group(name)) for name, src in DS_GATES.items()),
    *(Gate(f"pg:{i}", _gate_source(d.gate)) for i, d in enumerate(DETECTORS)),
    Gate("pem", PEM_GATE),
)


def _options() -> re2.Options:
    opts = re2.Options()
    opts.max_mem = 64 << 20
    return opts


_PASSES = tuple(
    re2.compile(
        ("(?m)" + "|".join(f"(?:{g.source})" for g in GATES if g.group == group)).encode(), options=_options()
    )
    for group in (0, 1, 2)
)


_UNANCHORED = re2._Anchor.UNANCHORED


#: Per-line routing gates that are tighter than the whole-file ones: the *structure* a plugin's Python
#: regex needs, checked in linear time by RE2 before that backtracking regex ever runs. Python's `\w` and
#: `\s` are Unicode-aware and RE2's are ASCII, so the translations widen them (a superset stays safe).
_WS = r"[\s\v\x1c-\x1f\x85\pZ]*"
_WORD = r"""[^\s\]'"`=:!(\[]*"""
_W1 = r"[\pL\pN\pM_]"  # the first character of a secret: detect-secrets requires a word character
ROUTE_GATES: dict[str, str] = {
    "KeywordDetector": (
        rf"""(?i:(?:{_KEYWORDS}){_WORD}(?:[\]'"]{{0,2}}(?:\[[0-9]*\])?{_WS}[:=!>]{{1,3}}{_WS}@?['"`]?{_W1}|"""
        rf""".assign\("{_W1}|\("{_W1}|\S{{0,50}}{_WS}['"`]{_W1}[^'"`]*['"`];))|"""
        rf"""(?i:['"`]{_WS}[!=]{{2,3}}{_WS}{_WORD}(?:{_KEYWORDS}))"""
    ),
    "JwtTokenDetector": r"eyJ[0-9:;<=>?@A-Z\[\\\]^_a-z]+\.",
    "NpmDetector": r"//.+/:_authToken=",
    "ArtifactoryDetector": (
        r"""(?:^|[\s=:"])(?:AKC[a-zA-Z0-9]{10}|AP[0-9A-F][a-zA-Z0-9]{8})[a-zA-Z0-9]*(?:\s|"|$)"""
    ),
}


def _build_set() -> re2.Set:
    s = re2.Set.SearchSet(_options())
    for g in GATES:
        s.Add(ROUTE_GATES.get(g.name[3:], g.source) if g.name.startswith("ds:") else g.source)
    s.Compile()
    return s


_SET = _build_set()


def gates_on(line: str | bytes) -> list[str]:
    """Names of the gates that match one line (which detectors are worth running on it)."""
    hits = _SET.Match(line)
    return [GATES[i].name for i in hits] if hits else []


def candidate_lines(
    data: bytes, start: int = 0, end: int | None = None, first_line: int = 1
) -> list[tuple[int, int, int]]:
    """(line number, byte start, byte end) of each line in data[start:end] holding any gate, in order.

    `start` must be the beginning of line `first_line`. Line ends exclude the newline.
    """
    end = len(data) if end is None else end
    found: dict[int, tuple[int, int, int]] = {}
    for regex in _PASSES:
        for hit in _pass(regex, data, start, end, first_line):
            found.setdefault(hit[1], hit)
    return [found[k] for k in sorted(found)]


def _pass(
    regex: re2._Regexp, data: bytes, start: int, end: int, first_line: int
) -> Iterator[tuple[int, int, int]]:
    """One RE2 pass; after a hit the search resumes on the next line, so a minified file with thousands
    of hits on one line costs one visit."""
    pos = start
    line = first_line
    counted_to = start
    # The wrapper's `search` builds a generator and a match object per call; on candidate-dense text that
    # costs more than the scan. Call RE2 directly (bytes in, byte spans out).
    match = regex._regexp.Match
    while pos < end:
        hit = match(_UNANCHORED, data, pos, end)[0][0]
        if hit == -1:
            return
        newline = data.rfind(b"\n", start, hit)
        line_start = start if newline == -1 else newline + 1
        line += data.count(b"\n", counted_to, line_start)
        line_end = data.find(b"\n", hit, end)
        if line_end == -1:
            line_end = end
        yield line, line_start, line_end
        pos = line_end + 1
        counted_to = pos
        line += 1


def _route_regex(name: str) -> re2._Regexp:
    source = ROUTE_GATES.get(name, DS_GATES[name])
    return re2.compile(("(?m)" + _gate_source(source)).encode(), options=_options())


_ROUTES = {name: _route_regex(name) for name in DS_GATES}


def hit_windows(
    line: bytes, radius: int = 128, max_window: int = 512, plugin: str | None = None
) -> list[tuple[int, int]]:
    """Byte windows (at most `max_window` long) around the gate hits (of one plugin, or of any) in a line.

    detect-secrets' generic regexes backtrack: on a megabyte-long line their cost grows with the square of
    the text. Short windows around the hits bound that cost.
    """
    regexes = (_ROUTES[plugin],) if plugin else _PASSES
    starts = sorted({m.start() for regex in regexes for m in regex.finditer(line)})
    windows: list[tuple[int, int]] = []
    for hit in starts:
        lo, hi = max(0, hit - radius), min(len(line), hit + radius)
        if windows and lo <= windows[-1][1] and hi - windows[-1][0] <= max_window:
            windows[-1] = (windows[-1][0], hi)  # merge while the window stays short
        elif windows and hit + radius // 2 <= windows[-1][1]:
            continue  # inside the previous (full) window with enough of the line after it
        else:
            windows.append((lo, hi))
    return windows
