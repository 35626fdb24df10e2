"""Hidden Unicode in text an LLM reads, reported with the hidden text decoded.

An LLM reads code points a reviewer never sees. Four families carry hidden instructions:

- the Tags block U+E0000–E007F mirrors ASCII invisibly ("ASCII smuggling"): decoded by subtracting 0xE0000;
- bidi controls reorder what is displayed ("Trojan Source"); a single right-to-left letter placed on the
  line is the known trick to make a naive "only in RTL text" exemption let them through, so an exemption
  here needs a real RTL word and only covers the marks and balanced isolates real bidi text uses;
- zero-width characters, alone or as bit strings (two of them standing for 0 and 1);
- variation selectors U+FE00–FE0F and U+E0100–E01EF, which can carry one byte each ("Glassworm").

Legitimate uses stay quiet: a BOM at the very start, ZWJ inside an emoji sequence, ZWNJ/ZWJ between letters
of scripts that need them (Persian, Arabic, Indic), LRM/RLM in real bidi text, one emoji or ideographic
variation selector after its base character, and emoji tag sequences (the flag of England).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

TAG_FIRST, TAG_LAST = 0xE0000, 0xE007F
TAG_CANCEL = 0xE007F
BLACK_FLAG = 0x1F3F4
BIDI_OVERRIDES = {0x202A: "LRE", 0x202B: "RLE", 0x202C: "PDF", 0x202D: "LRO", 0x202E: "RLO"}
BIDI_ISOLATES = {0x2066: "LRI", 0x2067: "RLI", 0x2068: "FSI", 0x2069: "PDI"}
BIDI_MARKS = {0x200E: "LRM", 0x200F: "RLM", 0x061C: "ALM"}
ZERO_WIDTH = {0x200B: "ZWSP", 0x200C: "ZWNJ", 0x200D: "ZWJ", 0x2060: "WJ", 0xFEFF: "ZWNBSP",
              0x180E: "MVS", 0x2061: "FA", 0x2062: "IT", 0x2063: "IS", 0x2064: "IP", 0x00AD: "SHY",
              0x034F: "CGJ", 0x115F: "HCF", 0x1160: "HJF", 0x3164: "HF", 0xFFA0: "HWHF"}
VS_SMALL = range(0xFE00, 0xFE10)
VS_LARGE = range(0xE0100, 0xE01F0)

#: scripts whose orthography needs ZWNJ/ZWJ (Arabic/Persian, Syriac, Indic, Sinhala, Myanmar, Khmer, ...)
_JOINING_SCRIPTS = ((0x0600, 0x08FF), (0x0900, 0x0DFF), (0x1000, 0x109F), (0x1780, 0x18AF),
                    (0xA8E0, 0xA8FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFC))
_RTL_LETTERS = ((0x0590, 0x05FF), (0x0600, 0x06FF), (0x0700, 0x08FF), (0xFB1D, 0xFDFF), (0xFE70, 0xFEFC))
_EMOJI = ((0x1F000, 0x1FAFF), (0x2600, 0x27BF), (0x2300, 0x23FF), (0x2B00, 0x2BFF), (0x2190, 0x21FF),
          (0x25A0, 0x25FF), (0x2100, 0x214F), (0x3030, 0x3030), (0x303D, 0x303D), (0x3297, 0x3299),
          (0xA9, 0xA9), (0xAE, 0xAE), (0x203C, 0x203C), (0x2049, 0x2049), (0x20E3, 0x20E3))
_IDEOGRAPHS = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3FFFF))


def _in(cp: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(lo <= cp <= hi for lo, hi in ranges)


def _is_vs(cp: int) -> bool:
    return cp in VS_SMALL or cp in VS_LARGE


@dataclass(frozen=True)
class HiddenText:
    """One run of hidden characters on one line: its family, code points and what it decodes to."""

    kind: str  # "tags", "bidi", "zero-width", "variation-selectors"
    column: int  # 1-based, in code points
    codepoints: tuple[int, ...]
    decoded: str

    def describe(self) -> str:
        names = ", ".join(sorted({_name(cp) for cp in self.codepoints}))
        return f"{len(self.codepoints)} hidden {self.kind} character(s) ({names})"


def _name(cp: int) -> str:
    for table in (BIDI_OVERRIDES, BIDI_ISOLATES, BIDI_MARKS, ZERO_WIDTH):
        if cp in table:
            return table[cp]
    if TAG_FIRST <= cp <= TAG_LAST:
        return "TAG"
    return "VS" if _is_vs(cp) else f"U+{cp:04X}"


def visible(text: str) -> str:
    """`text` with every hidden character shown as `<U+XXXX>` (for messages; bounded by the caller)."""
    return "".join(f"<U+{ord(c):04X}>" if _hidden_cp(ord(c)) else c for c in text)


def _hidden_cp(cp: int) -> bool:
    return (TAG_FIRST <= cp <= TAG_LAST or cp in BIDI_OVERRIDES or cp in BIDI_ISOLATES or cp in BIDI_MARKS
            or cp in ZERO_WIDTH or _is_vs(cp))


_CANDIDATES = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064"
                         "\u2066-\u2069\u3164\ufe00-\ufe0f\ufeff\uffa0\U000e0000-\U000e007f"
                         "\U000e0100-\U000e01ef]")


def has_hidden(text: str) -> bool:
    """Cheap pre-test: any candidate character at all (most text has none; ASCII text never has one)."""
    return not text.isascii() and _CANDIDATES.search(text) is not None


# ------------------------------------------------------------------------------------------------ decoders
def decode_tags(cps: tuple[int, ...]) -> str:
    return "".join(chr(cp - TAG_FIRST) if 0xE0020 <= cp <= 0xE007E else "" for cp in cps)


def decode_selectors(cps: tuple[int, ...]) -> str:
    """Variation selectors as bytes (VS1-16 = 0-15, VS17-256 = 16-255), decoded as UTF-8."""
    data = bytes(cp - 0xFE00 if cp in VS_SMALL else cp - 0xE0100 + 16 for cp in cps)
    return data.decode("utf-8", "replace")


def decode_zero_width(cps: tuple[int, ...]) -> str:
    """A run using exactly two zero-width characters read as bits (8 per character, either polarity);
    the printable reading is returned, else the run spelled out."""
    symbols = sorted(set(cps))
    if len(symbols) == 2 and len(cps) >= 8:
        for zero in symbols:
            bits = "".join("0" if cp == zero else "1" for cp in cps)
            data = bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits) - len(bits) % 8, 8))
            text = data.decode("utf-8", "replace")
            if text and sum(ch.isprintable() for ch in text) >= 0.9 * len(text):
                return text
    return visible("".join(map(chr, cps)))


# ------------------------------------------------------------------------------------------------ scanner
def scan_line(line: str, *, first_line: bool = False) -> list[HiddenText]:
    """Hidden runs on one line (empty for the usual line without candidates). `first_line` allows a BOM."""
    if not has_hidden(line):
        return []
    cps = [ord(c) for c in line]
    found: list[HiddenText] = []
    found += _tags(cps)
    found += _bidi(cps)
    found += _zero_width(cps, first_line)
    found += _selectors(cps)
    return sorted(found, key=lambda h: h.column)


def _runs(cps: list[int], member: callable) -> Iterator[tuple[int, int]]:  # type: ignore[valid-type]
    i = 0
    while i < len(cps):
        if member(cps[i]):
            j = i
            while j < len(cps) and member(cps[j]):
                j += 1
            yield i, j
            i = j
        else:
            i += 1


def _tags(cps: list[int]) -> list[HiddenText]:
    out = []
    for i, j in _runs(cps, lambda cp: TAG_FIRST <= cp <= TAG_LAST):
        run = tuple(cps[i:j])
        emoji_tag = (i > 0 and cps[i - 1] == BLACK_FLAG and run[-1] == TAG_CANCEL and 2 <= len(run) <= 8
                     and all(0xE0030 <= cp <= 0xE0039 or 0xE0061 <= cp <= 0xE007A for cp in run[:-1]))
        if not emoji_tag:  # a subdivision flag (🏴 + "gbeng" + cancel) is the one legitimate use
            out.append(HiddenText("tags", i + 1, run, decode_tags(run)))
    return out


def real_rtl_text(cps: list[int]) -> bool:
    """A word of at least three right-to-left letters: a lone RTL letter does not make a line bidi text."""
    streak = 0
    for cp in cps:
        streak = streak + 1 if _in(cp, _RTL_LETTERS) and chr(cp).isalpha() else 0
        if streak >= 3:
            return True
    return False


def _isolates_balanced(cps: list[int]) -> bool:
    depth = 0
    for cp in cps:
        if cp in (0x2066, 0x2067, 0x2068):
            depth += 1
        elif cp == 0x2069:
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def _bidi(cps: list[int]) -> list[HiddenText]:
    overrides = [i for i, cp in enumerate(cps) if cp in BIDI_OVERRIDES]
    isolates = [i for i, cp in enumerate(cps) if cp in BIDI_ISOLATES]
    marks = [i for i, cp in enumerate(cps) if cp in BIDI_MARKS]
    if not (overrides or isolates or marks):
        return []
    bidi_text = real_rtl_text(cps)
    flagged = list(overrides)  # overrides and embeddings reorder display: never needed in a prompt
    if isolates and not (bidi_text and _isolates_balanced(cps)):
        flagged += isolates
    if marks and not bidi_text:
        flagged += marks
    if not flagged:
        return []
    flagged.sort()
    run = tuple(cps[i] for i in flagged)
    # the hidden text of a bidi attack is the logical order the model reads, with the controls shown
    logical = visible("".join(map(chr, cps))).strip()
    return [HiddenText("bidi", flagged[0] + 1, run, logical[:300])]


def _joining_context(cps: list[int], i: int) -> bool:
    before = cps[i - 1] if i > 0 else None
    after = cps[i + 1] if i + 1 < len(cps) else None
    return (before is not None and after is not None and _in(before, _JOINING_SCRIPTS)
            and _in(after, _JOINING_SCRIPTS))


def _emoji_context(cps: list[int], i: int) -> bool:
    before = cps[i - 1] if i > 0 else None
    after = cps[i + 1] if i + 1 < len(cps) else None
    if before is not None and _is_vs(before) and i > 1:
        before = cps[i - 2]  # ❤️‍🔥: VS16 between the emoji and the ZWJ
    return before is not None and after is not None and _in(before, _EMOJI) and _in(after, _EMOJI)


def _zero_width(cps: list[int], first_line: bool) -> list[HiddenText]:
    out = []
    for i, j in _runs(cps, lambda cp: cp in ZERO_WIDTH):
        run = tuple(cps[i:j])
        if len(run) == 1:
            cp = run[0]
            if cp == 0xFEFF and i == 0 and first_line:
                continue  # byte-order mark at the start of the file
            if cp == 0x200D and _emoji_context(cps, i):
                continue
            if cp in (0x200C, 0x200D) and _joining_context(cps, i):
                continue
            in_word = i > 0 and chr(cps[i - 1]).isalpha() and j < len(cps) and chr(cps[j]).isalpha()
            if cp == 0x00AD and in_word:
                continue  # a soft hyphen inside a word is typography
            if cp in (0x1160, 0x115F) and i > 0 and 0x1100 <= cps[i - 1] <= 0x11FF:
                continue  # Hangul jamo fillers inside a conjoining syllable
        out.append(HiddenText("zero-width", i + 1, run, decode_zero_width(run)))
    return out


def _selectors(cps: list[int]) -> list[HiddenText]:
    out = []
    for i, j in _runs(cps, _is_vs):
        run = tuple(cps[i:j])
        base = cps[i - 1] if i > 0 else None
        if len(run) == 1 and base is not None:
            if run[0] in (0xFE0E, 0xFE0F) and (_in(base, _EMOJI) or chr(base) in "#*0123456789"):
                continue  # text/emoji presentation of the character before it
            if _in(base, _IDEOGRAPHS):
                continue  # an ideographic variation sequence
        out.append(HiddenText("variation-selectors", i + 1, run, decode_selectors(run)))
    return out
