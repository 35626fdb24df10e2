"""The prefilter must never drop a line a detector would report on: it is a superset of every detector.

Checked line by line against detect-secrets' own plugins (`analyze_line`, before any filter) on a corpus
of real third-party source plus generated lines in every format and assignment style.
"""

from __future__ import annotations

import random
import sysconfig
from pathlib import Path

import pytest
from detect_secrets.plugins.keyword import DENYLIST

from checks.secrets.detectors import DETECTORS
from checks.secrets.prefilter import candidate_lines, gates_on
from checks.secrets.scanner import PLUGINS
from tests.secrets_keys import ALNUM, CASES, HEX, RNG, TOKEN, rand, reseed, seed_note

SITE = Path(sysconfig.get_paths()["purelib"])
CORPUS_FILES = [
    "detect_secrets/plugins/keyword.py",
    "detect_secrets/plugins/ibm_cos_hmac.py",
    "detect_secrets/plugins/cloudant.py",
    "detect_secrets/plugins/aws.py",
    "pydantic/networks.py",
    "boltons/urlutils.py",
    "httpx/_urls.py",
    "httpx/_auth.py",
    "starlette/datastructures.py",
    "starlette/middleware/sessions.py",
    "jwt/api_jwt.py",
    "jwt/algorithms.py",
    "cryptography/hazmat/primitives/serialization/ssh.py",
    "yaml/constructor.py",
    "urllib3/util/url.py",
    "requests/auth.py",
]
#: One file name per keyword regex family detect-secrets picks by file type (quotes required, config, Go,
#: C++, C/Objective-C).
FILENAMES = ["app.py", "config.yaml", "main.go", "main.cpp", "View.m"]


def corpus_lines() -> list[str]:
    lines: list[str] = []
    for rel in CORPUS_FILES:
        path = SITE / rel
        assert path.exists(), f"corpus file {rel} missing from the virtualenv"
        lines.extend(path.read_text(encoding="utf-8", errors="replace").splitlines())
    return lines


def generated_lines(rng: random.Random) -> list[str]:
    """Lines in the formats every detect-secrets plugin knows, in several assignment styles."""
    values = [rand(12), rand(24, "abcdefghijklmnopqrstuvwxyz"), rand(44, TOKEN), rand(64, HEX), rand(48, HEX)]
    out = [c.line()[1] for c in CASES]
    for kw in [k.replace("_?", sep) for k in DENYLIST for sep in ("_", "")][:40]:
        v = rng.choice(values)
        out += [
            f'{kw} = "{v}"',
            f"my_{kw}: {v}",
            f'{kw} := "{v}"',
            f'"{v}" == {kw}',
            f'{kw}("{v}");',
            f'char {kw}[25] = @"{v}";',
            f'{kw} => "{v}"',
            f"{kw}= '{v}'",
            f'[{kw}] = "{v}"',
            f'{kw} "{v}";',
            f"cloudant_{kw}={v}",
            f"ibm_cloud_iam_{kw} = {v}",
            f'softlayer_{kw}: "{v}"',
        ]
    out += [
        f"ibm_cos_hmac_secret_access_key = {rand(48, HEX)}",
        f"ibm_cloud_iam_api_key = {rand(44, TOKEN)}",  # IBM Cloud IAM: 44 token characters
        f'cos_secret_key: "{rand(48, HEX)}"',
        f'aws_secret_access_key = "{rand(40, ALNUM + "/+")}"',
        f"AKIA{rand(16, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789')}",
        f"ASIA{rand(16, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789')}",
        f"url = https://user:{rand(10)}@example.com/x",
        f" AKC{rand(12)} ",
        f'"AP6{rand(12)}"',
        f"AccountKey={rand(88, ALNUM + '+/=')}",
        f"https://acct:{rand(64, HEX)}@acct.cloudant.com",
        f"M{rand(24, TOKEN)}.{rand(6, TOKEN)}.{rand(27, TOKEN)}",
        f"glpat-{rand(20, TOKEN)}",
        f"{rand(32, 'abcdefghijklmnopqrstuvwxyz0123456789')}-us12",
        f"//registry.npmjs.org/:_authToken={rand(36, HEX + '-')}",
        f"SG.{rand(22, TOKEN)}.{rand(43, TOKEN)}",
        f"https://hooks.slack.com/services/T{rand(8)}/B{rand(8)}/{rand(24)}",
        f"xoxp-{rand(10, '0123456789')}-{rand(10, '0123456789')}-{rand(20, 'abcdef0123456789')}",
        f"https://api.softlayer.com/soap/v3/{rand(64, 'abcdefghijklmnopqrstuvwxyz0123456789')}",
        f"sq0csp-{rand(43, TOKEN)}",
        f"rk_live_{rand(24)}",
        f"{rand(9, '0123456789')}:{rand(35, TOKEN)}",
        f"AC{rand(32, 'abcdef0123456789')}",
        f"SK{rand(32, 'abcdef0123456789')}",
        "server = 8.8.8.8:53",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl",
        "-----BEGIN OPENSSH PRIVATE KEY-----",
        "PuTTY-User-Key-File-2: ssh-rsa",
        f"pypi-AgEIcHlwaS5vcmc{rand(70, TOKEN)}",
        f'x = "{rand(30, ALNUM + "+/")}"',
        f"y = '{rand(12, HEX)}'",
    ]
    return out


def plugin_names_reporting(line: str, filename: str, plugins: dict) -> set[str]:
    names = set()
    for name, plugin in plugins.items():
        if plugin.analyze_line(filename=filename, line=line, line_number=1):
            names.add(name)
    return names


@pytest.fixture(scope="module")
def reports() -> list[tuple[str, set[str]]]:
    """Each corpus line with the detect-secrets plugins that report on it (before any filter)."""
    keyword = {"KeywordDetector": PLUGINS["KeywordDetector"]}
    others = {k: v for k, v in PLUGINS.items() if k != "KeywordDetector"}
    reseed(f"{__name__}::reports")  # module-scoped: set up before the first test's own reseed
    out = []
    for line in corpus_lines() + generated_lines(RNG):
        names = plugin_names_reporting(line, "app.py", others)
        for filename in FILENAMES:
            names |= plugin_names_reporting(line, filename, keyword)
        out.append((line, names))
    return out


def test_prefilter_keeps_every_line_a_detect_secrets_plugin_reports(reports):
    checked = 0
    for line, reporting in reports:
        if not reporting:
            continue
        checked += 1
        assert candidate_lines(line.encode()), (
            f"prefilter dropped a line {sorted(reporting)} report on: {line!r} {seed_note()}"
        )
        gates = set(gates_on(line))
        missing = {n for n in reporting if f"ds:{n}" not in gates}
        assert not missing, f"line not routed to {missing}: {line!r} {seed_note()}"
    assert checked > 300


def test_every_plugin_is_exercised_by_the_corpus(reports):
    """The superset check above means something only if every plugin reported somewhere."""
    seen = set().union(*(names for _, names in reports))
    assert seen == set(PLUGINS)


def test_prefilter_keeps_every_line_a_prguard_detector_matches(reports):
    for line, _ in reports:
        for i, det in enumerate(DETECTORS):
            if det.context is None and det.pattern.search(line):
                assert f"pg:{i}" in gates_on(line), (det.rule_id, "not routed", line, seed_note())
                assert candidate_lines(line.encode()), (det.rule_id, line, seed_note())


def test_candidate_line_numbers_and_offsets_are_exact():
    text = "a = 1\n\nkey = 'AKIA" + "B" * 16 + "'\nplain\r\npassword = 'x'\nlast AKIA" + "C" * 16
    data = text.encode()
    got = [(n, data[s:e].decode()) for n, s, e in candidate_lines(data)]
    expected = [
        (n, line) for n, line in enumerate(text.split("\n"), 1) if "AKIA" in line or "password" in line
    ]
    assert got == expected
    # a segment that starts mid-file keeps absolute line numbers
    start = data.index(b"plain")
    assert [n for n, _, _ in candidate_lines(data, start, len(data), 4)] == [5, 6]
