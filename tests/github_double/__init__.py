"""A fake GitHub REST API over real HTTP for prguard's tests (see README.md)."""

from tests.github_double.double import GitHubDouble
from tests.github_double.faults import Fault
from tests.github_double.state import CheckRun, PullRequest, RequestRecord

__all__ = ["CheckRun", "Fault", "GitHubDouble", "PullRequest", "RequestRecord"]
