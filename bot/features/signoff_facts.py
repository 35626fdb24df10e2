"""What the sign-off decides from, read from GitHub for one PR head: files and their AI asset kinds, the
policy on the base, commits and their provenance, the head's tree, prguard's own records and runs.

Everything is read live; nothing comes from the webhook payload but the PR's identity.
"""

from __future__ import annotations

import asyncio
import base64
import re
from dataclasses import dataclass, field
from typing import Any

from githubkit import GitHub
from githubkit.exception import RequestFailed

from bot.features.signoff_identity import NOBODY, Identity, linked_emails, resolve, trailers
from bot.features.signoff_policy import rego_modules, with_extends
from bot.github.checkruns import PREFIX
from bot.github.comments import PostedComment, app_comments
from bot.github.pull_change import list_pr_files
from bot.github.pulls import base_policy, context_of
from checks.ai_assets import CODE_SUFFIXES, AssetClassifier, AssetKind
from checks.policy import Policy, PolicyError
from checks.signoff.config import SignoffConfig
from checks.signoff.evidence import RedTeamResult, parse_result, result_candidates
from checks.signoff.facts import facts_document
from checks.signoff.findings import ListedFinding, parse_findings_block
from checks.signoff.records import SignoffState, fold, parse_records
from checks.signoff.rego import RegoError

RUN_NAME = "prguard/ai-safety-sign-off"
#: kinds that are evidence about AI changes, not AI changes themselves
EVIDENCE_KINDS = {AssetKind.EVAL_RESULT}
_USES = re.compile(r"^\+\s*-?\s*uses:\s*([^\s#]+)", re.M)
_MODEL_REF = re.compile(
    r"""^\+.*?(?:from_pretrained|hf_hub_download|snapshot_download)\(\s*["']([^"']+)["']"""
    r"""(.*)$""",
    re.M,
)


@dataclass(frozen=True)
class CommitFacts:
    """One commit of the PR and the people it names (`signoff_identity`: who may not sign)."""

    sha: str
    author: str  # the author's account, "" when GitHub links the email to none
    author_type: str
    committer: str
    verified: bool
    #: the co-authors' names and the logins their emails resolve to (the facts' `co_authors`)
    co_authors: tuple[str, ...]
    author_identity: Identity = NOBODY
    committer_identity: Identity = NOBODY
    #: each `Co-authored-by:` trailer, its login resolved from the PR's own commits or a noreply address
    co_author_identities: tuple[Identity, ...] = ()


@dataclass(frozen=True)
class RunFacts:
    name: str
    status: str
    conclusion: str | None
    findings: list[ListedFinding] | None  # None: the run carries no findings block
    truncated: bool = False


@dataclass
class Facts:
    owner: str
    repo: str
    number: int
    head: str
    base_ref: str
    author: str
    title: str
    policy: Policy | None
    policy_error: PolicyError | None
    policy_source: str
    config: SignoffConfig
    files: list[Any]  # the PR files API entries
    ai: dict[str, str]  # AI path -> asset kind
    tree: str
    commits: list[CommitFacts]
    comments: list[PostedComment]  # the App's own comments
    state: SignoffState
    runs: dict[str, RunFacts]
    reviews: list[dict[str, str]]  # people's reviews: user, state, commit
    requested_users: list[str]
    requested_teams: list[str]
    results: dict[str, RedTeamResult | None] = field(default_factory=dict)
    rego: dict[str, str] = field(default_factory=dict)  # `.github/prguard/*.rego` on the base
    rego_error: RegoError | None = None  # a Rego file that could not be read (the run fails naming it)
    aibom: list[str] = field(default_factory=list)  # the AI-BOM difference, one line per entry

    @property
    def changed(self) -> list[str]:
        return [f.filename for f in self.files]

    def by_kind(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for path, kind in sorted(self.ai.items()):
            out.setdefault(kind, []).append(path)
        return out

    def patches(self) -> str:
        return "\n".join(f.patch or "" for f in self.files)

    def model_refs(self) -> list[dict[str, Any]]:
        """Model sources added by the PR (`from_pretrained("org/model", revision=...)`), pinned or not."""
        out = []
        for name, rest in _MODEL_REF.findall(self.patches()):
            rev = re.search(r"revision\s*=\s*[\"']([^\"']+)", rest)
            pinned = bool(rev and re.fullmatch(r"[0-9a-f]{40}", rev.group(1)))
            out.append({"source": name, "revision": rev.group(1) if rev else None, "pinned": pinned})
        return out

    def actions_uses(self) -> list[dict[str, Any]]:
        out = []
        for f in self.files:
            if f.filename.startswith(".github/workflows/") or f.filename.endswith("action.yml"):
                for ref in _USES.findall(f.patch or ""):
                    pinned = bool(re.search(r"@[0-9a-f]{40}$", ref)) or ref.startswith(("./", "docker://"))
                    out.append({"uses": ref, "pinned": pinned})
        return out


def classify_files(files: list[Any], config: SignoffConfig) -> dict[str, str]:
    """AI-impacting paths: the shared classifier (LLM code judged on the lines the PR adds, i.e. code that
    NEWLY calls a model) plus the policy's `signoff.required_paths`."""
    classifier = AssetClassifier()
    extra = config.required_matcher()
    out: dict[str, str] = {}
    for f in files:
        if f.patch is None and f.status != "removed" and f.filename.lower().endswith(CODE_SUFFIXES):
            # GitHub leaves the patch out of large diffs: what the file newly calls is unknown, and unknown
            # must not mean "no AI change" (it would make the sign-off not required)
            out[f.filename] = "llm-code (diff too large to classify)"
            continue
        added = "\n".join(line[1:] for line in (f.patch or "").splitlines() if line.startswith("+"))
        kind = classifier.classify(f.filename, added.encode() if f.status != "removed" else None)
        if kind is not None and kind not in EVIDENCE_KINDS:
            out[f.filename] = str(kind)
        elif extra(f.filename):
            out[f.filename] = "policy"
    return out


async def gather(
    gh: GitHub[Any], owner: str, repo: str, number: int, *, app_id: int, bot_login: str
) -> Facts:
    pr = (await gh.rest.pulls.async_get(owner, repo, number)).parsed_data
    head = pr.head.sha
    pull = context_of(pr, number, head, pr.base.sha, pr.base.ref)
    policy: Policy | None = None
    error: PolicyError | None = None
    source = ""
    try:
        policy, source = await base_policy(gh, owner, repo, pull)
        policy, extended = await with_extends(gh, owner, repo, pull.base_sha, policy)
        source += f", extending {extended}" if extended else ""
        config = SignoffConfig.from_extra(policy.extra)
    except PolicyError as exc:
        error, policy, config = exc, None, SignoffConfig()
    files, commit, commits, comments, runs, reviews = await asyncio.gather(
        list_pr_files(gh, owner, repo, number),
        gh.rest.repos.async_get_commit(owner, repo, head, per_page=1),
        _commits(gh, owner, repo, number),
        app_comments(gh, owner, repo, number, app_id),
        _runs(gh, owner, repo, head, app_id),
        _reviews(gh, owner, repo, number, bot_login),
    )
    records = [r for c in comments for r in parse_records(c.body)]
    facts = Facts(
        owner=owner,
        repo=repo,
        number=number,
        head=head,
        base_ref=pr.base.ref,
        author=pr.user.login,
        title=pr.title,
        policy=policy,
        policy_error=error,
        policy_source=source,
        config=config,
        files=files,
        ai=classify_files(files, config),
        tree=commit.parsed_data.commit.tree.sha,
        commits=commits,
        comments=comments,
        state=fold(records),
        runs=runs,
        reviews=reviews,
        requested_users=[u.login for u in pr.requested_reviewers or []],
        requested_teams=[t.slug for t in pr.requested_teams or []],
    )
    if policy is not None:
        try:
            facts.rego = await rego_modules(gh, owner, repo, pull.base_sha)
        except RegoError as exc:
            facts.rego_error = exc
    if facts.ai:
        facts.aibom = await _aibom(gh, owner, repo, pull.number, pull.base_sha, head, set(facts.ai))
    for path in result_candidates(config.evidence, facts.changed)[:20]:
        data = await _content(gh, owner, repo, path, head)
        facts.results[path] = parse_result(path, data) if data is not None else None
    return facts


async def _content(gh: GitHub[Any], owner: str, repo: str, path: str, ref: str) -> bytes | None:
    try:
        resp = await gh.rest.repos.async_get_content(owner, repo, path, ref=ref)
    except RequestFailed:
        return None
    meta = resp.json()
    if not isinstance(meta, dict) or meta.get("encoding") != "base64":
        return None
    return base64.b64decode(meta.get("content") or "")


async def _commits(gh: GitHub[Any], owner: str, repo: str, number: int) -> list[CommitFacts]:
    """The PR's commits (GitHub lists at most 250) with who each names; a co-author's email is resolved to
    an account with what the PR itself shows (`signoff_identity.resolve`), so after reading them all."""
    rows: list[tuple[Any, Identity, Identity, list[tuple[str, str]]]] = []
    async for c in gh.rest.paginate(
        gh.rest.pulls.async_list_commits, owner=owner, repo=repo, pull_number=number, per_page=100
    ):
        rows.append((c, _identity(c.author, c.commit.author), _identity(c.committer, c.commit.committer),
                     trailers(c.commit.message or "")))
        if len(rows) >= 250:
            break
    linked = linked_emails(
        CommitFacts(c.sha, "", "", "", False, (), author, committer) for c, author, committer, _ in rows
    )
    out: list[CommitFacts] = []
    for c, author, committer, co in rows:
        people = tuple(Identity(name, email, ", ".join(resolve(email, linked))) for name, email in co)
        names = [n for who in people for n in (who.name, *who.login.split(", ")) if n]
        verification = c.commit.verification
        out.append(
            CommitFacts(
                c.sha,
                author.login,
                str(getattr(c.author, "type", "") or ""),
                committer.login,
                bool(verification and verification.verified),
                tuple(dict.fromkeys(names)),
                author,
                committer,
                people,
            )
        )
    return out


def _identity(account: Any, git: Any) -> Identity:
    """A commit's author or committer: git's name and email, and the account GitHub linked (`account` is a
    user, or null, or `{}`: both mean none)."""
    login = str(getattr(account, "login", "") or "")
    return Identity(str(getattr(git, "name", "") or ""), str(getattr(git, "email", "") or ""), login)


async def _runs(gh: GitHub[Any], owner: str, repo: str, head: str, app_id: int) -> dict[str, RunFacts]:
    resp = await gh.rest.checks.async_list_for_ref(owner, repo, head, per_page=100, app_id=app_id)
    out: dict[str, RunFacts] = {}
    for run in sorted(resp.parsed_data.check_runs, key=lambda r: r.id):
        if not run.name.startswith(PREFIX) or run.name == RUN_NAME:
            continue
        parsed = parse_findings_block(run.output.text if run.output else None)
        out[run.name] = RunFacts(
            run.name,
            str(run.status),
            str(run.conclusion) if run.conclusion else None,
            parsed[0] if parsed else None,
            bool(parsed and parsed[1]),
        )
    return out


async def _reviews(
    gh: GitHub[Any], owner: str, repo: str, number: int, bot_login: str
) -> list[dict[str, str]]:
    out = []
    async for r in gh.rest.paginate(
        gh.rest.pulls.async_list_reviews, owner=owner, repo=repo, pull_number=number, per_page=100
    ):
        if r.user is not None and r.user.login != bot_login:
            out.append({"user": r.user.login, "state": str(r.state), "commit": str(r.commit_id or "")})
    return out


def document(f: Facts, rules: list[Any], waived: set[str]) -> dict[str, Any]:
    """The facts document (`checks.signoff.facts`) of this head: the Rego policies' input."""
    findings = [
        {
            "check": r.name.removeprefix(PREFIX),
            "fingerprint": x.fingerprint,
            "severity": x.severity,
            "rule": x.rule,
            "path": x.path,
            "blocking": x.blocking,
            "waived": x.fingerprint in waived,
        }
        for r in f.runs.values()
        for x in (r.findings or [])
    ]
    return facts_document(
        repository=f"{f.owner}/{f.repo}",
        pull_request=f.number,
        head=f.head,
        base_ref=f.base_ref,
        author=f.author,
        files=[{"path": x.filename, "status": x.status} for x in f.files],
        ai_paths=f.ai,
        findings=findings,
        checks={r.name: r.conclusion or r.status for r in f.runs.values()},
        redteam=[r.to_dict() for r in f.results.values() if r is not None],
        rules=[r.to_dict() for r in rules],
        commits=[
            {
                "sha": c.sha,
                "author": c.author,
                "verified": c.verified,
                "bot": c.author_type == "Bot",
                "co_authors": list(c.co_authors),
                "committer": c.committer,
                "author_identity": c.author_identity.to_dict(),
                "committer_identity": c.committer_identity.to_dict(),
                "co_author_identities": [who.to_dict() for who in c.co_author_identities],
            }
            for c in f.commits
        ],
        model_refs=f.model_refs(),
        actions=f.actions_uses(),
        signoffs=[{"by": s.by, "head": s.head, "reason": s.reason, "at": s.at} for s in f.state.signoffs],
        waivers=[
            {"fingerprint": w.fingerprint, "by": w.by, "reason": w.reason} for w in f.state.waivers.values()
        ],
        hold=f.state.hold,
        added={x.filename: _added(x.patch) for x in f.files if x.filename in f.ai},
        aibom=f.aibom,
        reviews=[{"user": r["user"], "state": r["state"]} for r in f.reviews],
    )


def _added(patch: str | None) -> str:
    return "\n".join(line[1:] for line in (patch or "").splitlines() if line.startswith("+"))


async def _aibom(
    gh: GitHub[Any], owner: str, repo: str, number: int, base: str, head: str, ai: set[str]
) -> list[str]:
    """The AI-BOM difference of the PR's AI files (`checks.aibom.diff`), read through the same remote
    reader the scan uses. A failure is said, never shown as "no difference"."""
    from bot.github.pull_change import build_change
    from checks.aibom.diff import summary_lines

    try:
        change = await build_change(
            gh, owner, repo, pr_number=number, base_sha=base, head_sha=head, wants=lambda f: f.path in ai
        )
        return await asyncio.to_thread(summary_lines, change)
    except Exception as exc:  # the evidence says it could not be computed, the decision does not depend on it
        return [f"(the AI-BOM difference could not be computed: {type(exc).__name__})"]
