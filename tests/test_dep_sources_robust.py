"""Damaged dependency files never crash a parser: every seeded mutation of every realistic fixture either
parses or raises ParseError (the check then says "could not check" on the file)."""

from __future__ import annotations

import random

import pytest

from checks.dependencies.model import Parsed, ParseError
from checks.dependencies.sources import source_for
from tests import test_dep_sources_npm as npm
from tests import test_dep_sources_other as other
from tests import test_dep_sources_pypi as pypi

FIXTURES = {
    "package.json": npm.PACKAGE_JSON,
    "package-lock.json": npm.LOCK_V3,
    "v1/package-lock.json": npm.LOCK_V1,
    "yarn.lock": npm.YARN_CLASSIC,
    "berry/yarn.lock": npm.YARN_BERRY,
    "pnpm-lock.yaml": npm.PNPM_V6,
    "v9/pnpm-lock.yaml": npm.PNPM_V9,
    "bun.lock": npm.BUN_LOCK,
    "requirements.txt": pypi.REQUIREMENTS,
    "pyproject.toml": pypi.PYPROJECT,
    "poetry.lock": pypi.POETRY_LOCK,
    "uv.lock": pypi.UV_LOCK,
    "Pipfile.lock": pypi.PIPFILE_LOCK,
    "pylock.toml": pypi.PYLOCK,
    "go.mod": other.GO_MOD,
    "go.sum": other.GO_SUM,
    "Cargo.lock": other.CARGO_LOCK,
    "Gemfile.lock": other.GEMFILE_LOCK,
    "composer.lock": other.COMPOSER_LOCK,
    "pom.xml": other.POM,
    "gradle.lockfile": other.GRADLE_LOCK,
    "packages.lock.json": other.NUGET_LOCK,
}


def mutate(rng: random.Random, text: str) -> str:
    lines = text.splitlines()
    op = rng.randrange(5)
    if op == 0:
        return text[: rng.randrange(len(text))]
    if op == 1:
        del lines[rng.randrange(len(lines))]
    elif op == 2:
        k = rng.randrange(len(text))
        return text[:k] + rng.choice("{}[]\":,@#=/ \n\t()-'x0") + text[k + 1 :]
    elif op == 3:
        lines.insert(rng.randrange(len(lines)), lines[rng.randrange(len(lines))])
    else:
        j = rng.randrange(len(lines))
        lines[j] = lines[j].replace('"', "", 1).replace(":", " ", 1)
    return "\n".join(lines)


@pytest.mark.parametrize("path", sorted(FIXTURES))
def test_mutated_files_parse_or_raise_parse_error(path: str) -> None:
    rng = random.Random(f"dep-sources-{path}")
    source = source_for(path)
    assert source is not None
    for _ in range(40):
        damaged = mutate(rng, FIXTURES[path])
        try:  # any other exception fails the test: a crash is neither "could not check" nor a result
            result = source.parse(path, damaged.encode(), lambda _p: None)
        except ParseError:
            continue
        assert isinstance(result, Parsed) and all(p.path == path for p in result.packages)
