"""The `github_double` pytest fixture; tests/conftest.py imports it:

from tests.github_double.fixtures import github_double  # noqa: F401
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.github_double.double import GitHubDouble


@pytest.fixture
def github_double() -> Iterator[GitHubDouble]:
    """A started GitHub double private to one test, stopped afterwards."""
    with GitHubDouble() as double:
        yield double
