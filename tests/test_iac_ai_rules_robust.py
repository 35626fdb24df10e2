"""Malformed input never crashes the AI-infrastructure rules: seeded mutations of every fixture (a scalar
where a mapping or list belongs, truncation, stray YAML/HCL punctuation) must give findings or nothing."""

from __future__ import annotations

import random
from pathlib import Path

import yaml

from checks.iac.ai_rules import scan_file

FIXTURES = Path(__file__).parent / "fixtures" / "iac_ai"
SEED = 20251202
PER_FILE = 2


def _mutate(node: object, rng: random.Random) -> None:
    """Replace one nested value by a value of the wrong shape."""
    if isinstance(node, dict) and node:
        key = rng.choice(list(node))
        if rng.random() < 0.4:
            node[key] = rng.choice(["x", 5, None, True, [], {}, ["a"], {"a": 1}])
        else:
            _mutate(node[key], rng)
    elif isinstance(node, list) and node:
        index = rng.randrange(len(node))
        if rng.random() < 0.4:
            node[index] = rng.choice(["x", 5, None, [], {}, [1]])
        else:
            _mutate(node[index], rng)


def test_wrong_shapes_in_yaml_fixtures_do_not_crash() -> None:
    rng = random.Random(SEED)
    scanned = 0
    for path in sorted(FIXTURES.rglob("*.y*ml")):
        if "prg-ai-039" in path.parts:  # the deliberately unparsable one
            continue
        for _ in range(PER_FILE):
            docs = list(yaml.safe_load_all(path.read_text()))
            _mutate(rng.choice(docs), rng)
            assert isinstance(scan_file(f"m/{path.name}", yaml.safe_dump_all(docs)), list)
            scanned += 1
    assert scanned > 50


def test_broken_text_in_every_fixture_does_not_crash() -> None:
    rng = random.Random(SEED)
    for path in sorted(p for p in FIXTURES.rglob("*") if p.is_file() and p.name != "README.md"):
        text = path.read_text()
        for _ in range(PER_FILE):
            chars = list(text[: rng.randrange(1, len(text) + 1)])
            for _ in range(3):
                chars[rng.randrange(len(chars))] = rng.choice('{}[]:"#-&*!|>\n =$<')
            assert isinstance(scan_file(f"m/{path.name}", "".join(chars)), list)
