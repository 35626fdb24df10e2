"""`prguard scan`: run every available check on a local git repository's changes.

The same checks as the App, on what this branch (or the index, for pre-commit) adds against the merge-base
with the default branch. Policy comes from `.github/prguard.yml` on the BASE, never from the change itself.
`--history` (the pre-push hook) also reads what each commit of the branch added (`checks.git_history`): a
key committed and then deleted is still in what gets pushed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from bot.cli import formats
from bot.cli.formats.scan_report import ScanReport
from bot.fingerprint_key import configure_for_cli
from bot.log import scrub
from checks import registry
from checks.base import Check
from checks.change import DEFAULT_MAX_FILE_BYTES, Change, FileTooLarge
from checks.engine import DEFAULT_TIMEOUT, CheckResult, create_checks, run_checks
from checks.finding import Severity
from checks.git_change import change_from_git
from checks.git_history import history_from_git, history_range
from checks.git_reader import staged_policy_base
from checks.git_refs import find_root, resolve_commit
from checks.git_run import GitError, read_at
from checks.history import DEFAULT_MAX_COMMITS, MAX_COMMITS_ENV, History, max_commits_from_env
from checks.policy import MAX_POLICY_BYTES, POLICY_PATH, Policy, PolicyError, parse_policy, too_large
from checks.redact import redact_in
from checks.secrets.scanner import secrets_in_path
from checks.waivers import policy_waivers

EPILOG = """\
exit status:
  0  nothing at or above the fail-on severity
  1  blocking findings (at or above --fail-on, or the base policy's threshold for that check), or, when
     the base policy sets fail_on_unscanned, a file that could hold text was not scanned
  2  the scan could not be trusted: a usage or repository error, an invalid base policy, or a check
     that did not finish (it failed, or ran past --timeout; also reported on stderr and in the JSON/SARIF
     output): fail loudly, never pass

--history also scans what each commit of the branch (merge-base..HEAD, or ..REV with --head) added, oldest
first, up to --max-commits commits; a secret found only there is reported on its path as a whole-file
finding naming the commit (rotate it: removing the line does not remove it from history).

Policy: .github/prguard.yml is read from the base commit (per-check enabled, fail_on, ignore_paths);
--fail-on overrides its thresholds. --staged reads it from the merge-base of HEAD with --base or the
default branch, never from HEAD itself (a branch commit cannot switch its own hook off); before the first
commit the defaults apply, and with no default branch HEAD's policy is used only when HEAD's branch is the
repository's only branch (otherwise exit 2: pass --base).
NO_COLOR or --no-color turns colour off; piped output is always plain.
"""


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of bytes") from None
    if number <= 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return number


def _seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not number > 0 or number == float("inf"):
        raise argparse.ArgumentTypeError("must be a number of seconds greater than 0")
    return number


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("path", nargs="?", default=".", help="a directory in the git repository (default: .)")
    parser.add_argument(
        "--base",
        metavar="REF",
        help="compare with the merge-base of HEAD and REF (default: origin/HEAD, else main, else master)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--staged", action="store_true", help="scan only what is staged, against HEAD (for pre-commit)"
    )
    mode.add_argument(
        "--head",
        metavar="REV",
        help="scan the committed range from the merge-base to REV instead of the working tree (for CI)",
    )
    parser.add_argument(
        "--format", choices=formats.names(), default="text", help="output format (default: text)"
    )
    parser.add_argument(
        "--fail-on",
        choices=[s.value for s in Severity],
        help="lowest severity that fails the scan (default: the base policy's fail_on, else high)",
    )
    parser.add_argument("--output", "-o", metavar="FILE", help="write the report to FILE instead of stdout")
    parser.add_argument(
        "--max-file-size",
        type=_positive_int,
        default=DEFAULT_MAX_FILE_BYTES,
        metavar="BYTES",
        help="skip (and report) files larger than this (default: 1 MiB)",
    )
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"stop a check that runs longer than this and report it as not finished "
        f"(exit 2; default: {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument("--no-color", action="store_true", help="never colour the text output")
    parser.add_argument(
        "--history",
        action="store_true",
        help="also scan what each commit of the branch added, for secrets committed and then deleted "
        "(the pre-push hook)",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="print the facts document Rego policies would get for this change (JSON) instead of the report",
    )
    parser.add_argument(
        "--max-commits",
        type=_positive_int,
        metavar="N",
        help=f"with --history, read at most N commits, oldest first; the rest are listed as not scanned "
        f"(default: ${MAX_COMMITS_ENV}, else {DEFAULT_MAX_COMMITS})",
    )


class UsageError(Exception):
    """A setting the scan cannot use (one line, exit 2)."""


def run(args: argparse.Namespace) -> int:
    configure_for_cli()
    try:
        return _scan(args)
    except UsageError as exc:
        _err(str(exc))
    except PolicyError as exc:
        more = len(exc.problems) - 1
        _err(f"{exc} (and {more} more problem{'s' if more > 1 else ''})" if more > 0 else str(exc))
    except GitError as exc:
        _err(str(exc))
    except OSError as exc:
        _err(f"{exc.filename or ''}{': ' if exc.filename else ''}{exc.strerror or exc}")
    return 2


def _err(message: str) -> None:
    """One line on stderr. An error may quote a path (an OSError's file name), and a path may be a key:
    format-exact secrets in it are redacted, as in every report."""
    first = scrub(message).splitlines()[0] if message.strip() else "error"
    first = redact_in(first, [h.value for h in secrets_in_path(first)])
    print(f"prguard: {first}", file=sys.stderr)


def _scan(args: argparse.Namespace) -> int:
    for option, value in (("--base", args.base), ("--head", args.head)):
        if value is not None and not value.strip():  # "" would quietly mean "the default"
            raise UsageError(f"{option} needs a branch, tag or commit, not an empty string")
    if os.path.isfile(args.path):
        raise UsageError(f"{args.path} is a file: give a directory of the repository (default: .)")
    root = find_root(args.path)
    change = change_from_git(
        root, args.base, staged=args.staged, head=args.head, max_file_bytes=args.max_file_size
    )
    if args.history:
        change.history = load_history(root, args)
    # --staged diffs against HEAD, which may be the branch's own commit: its gate comes from the base
    policy = load_policy(root, staged_policy_base(root, args.base) if args.staged else change.base)
    if policy.extra.get("_extends"):  # organisation defaults live on GitHub: only the App reads them
        _err(f"policy: _extends {policy.extra['_extends']!r} not applied (organisation defaults are read by "
             "the App only); this scan uses the repository's .github/prguard.yml alone")
    checks, results, disabled = _create_checks(policy)
    results += run_all(checks, change, policy, timeout=args.timeout)
    results.sort(key=lambda r: registry.check_names().index(r.check) if r.check in registry.REGISTRY else 99)
    if getattr(args, "explain", False):
        from checks.signoff.local import local_facts

        sys.stdout.write(json.dumps(local_facts(change, results, policy), indent=2) + "\n")
        return 0
    fail_on = {
        r.check: Severity(args.fail_on) if args.fail_on else policy.fail_on_for(r.check) for r in results
    }
    report = ScanReport(
        root=root,
        base=change.base,
        head=change.head,
        results=results,
        fail_on=fail_on,
        files_scanned=sum(1 for f in change.scannable() if not policy.ignores(f.path)) if checks else 0,
        files_ignored=sum(1 for f in change.scannable() if policy.ignores(f.path)),
        skipped_by_change=list(change.skipped),
        unavailable=[n for n in registry.check_names() if not registry.is_available(n)],
        disabled=disabled,
        fail_on_unscanned=policy.fail_on_unscanned,
        # the base policy's waivers (waivers recorded on a PR exist only on GitHub)
        waivers=policy_waivers(policy.extra),
        ignored=frozenset(
            s.path
            for s in change.skipped
            if all(policy.ignores(s.path, c) for c in registry.check_names())
        ),
    )
    _write(args, report)
    for result in report.errors():
        _err(report.hide(f"check {result.check} did not finish: {result.error}"))
    from bot.cli.advisories import after_scan  # advisory data's source/date; no data for a changed lockfile

    notes, no_data = after_scan(checks, results)
    for note in notes:
        _err(note)
    if no_data:
        _err(no_data)
        return 2
    return report.exit_code()


def load_history(root: str, args: argparse.Namespace) -> History:
    """What each commit of merge-base..HEAD (or ..`--head`) added; empty before the first commit."""
    try:
        cap = args.max_commits or max_commits_from_env()
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.staged and not _has_commits(root):
        return History(total_commits=0, source="git")
    base, head = history_range(root, args.base, args.head)
    return history_from_git(root, base, head, max_commits=cap, max_file_bytes=args.max_file_size)


def _has_commits(root: str) -> bool:
    try:
        resolve_commit(root, "HEAD")
    except GitError:
        return False
    return True


def load_policy(root: str, base: str) -> Policy:
    """The policy on the base commit (defaults when it has none). An invalid policy raises `PolicyError`,
    and so does one over the size limit, refused from its size alone (never read into memory)."""
    try:
        return parse_policy(read_at(root, base, POLICY_PATH, max_bytes=MAX_POLICY_BYTES))
    except FileTooLarge as exc:
        raise too_large(exc.size or MAX_POLICY_BYTES + 1) from None


def _create_checks(policy: Policy) -> tuple[list[Check], list[CheckResult], list[str]]:
    """The enabled checks, errored results for any that cannot load, and the names the policy disabled."""
    available = [n for n in registry.check_names() if registry.is_available(n)]
    disabled = [n for n in available if not policy.enabled(n)]
    checks, failed = create_checks([n for n in available if n not in disabled])
    return checks, failed, disabled


def run_all(
    checks: list[Check], change: Change, policy: Policy, *, timeout: float = DEFAULT_TIMEOUT
) -> list[CheckResult]:
    """Run the checks concurrently, each with the policy's ignore_paths and settings for it."""
    return run_checks(checks, change, policy=policy, timeout=timeout)


def _use_color(args: argparse.Namespace) -> bool:
    if args.no_color or args.output or os.environ.get("NO_COLOR") or args.format != "text":
        return False
    return sys.stdout.isatty() and os.environ.get("TERM") != "dumb"


def _write(args: argparse.Namespace, report: ScanReport) -> None:
    output = formats.render(args.format, report, color=_use_color(args))
    if args.output:
        with open(args.output, "w", encoding="utf-8", errors="surrogateescape") as fh:
            fh.write(output)
        total, blocking = len(report.findings()), len(report.blocking())
        noun = "finding" if total == 1 else "findings"
        print(f"prguard: {total} {noun} ({blocking} blocking) written to {args.output}", file=sys.stderr)
        return
    stream = sys.stdout
    if hasattr(stream, "buffer"):
        stream.flush()
        stream.buffer.write(output.encode("utf-8", "surrogateescape"))
        stream.buffer.flush()
    else:  # pytest's capture or another text-only stream
        stream.write(output)
