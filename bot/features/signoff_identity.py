"""Who took part in a PR's commits, matched against a would-be signer by identity, not only by login.

A commit names people three ways: the account GitHub linked its author's (committer's) email to (the API's
top-level `author`/`committer`; null when the email is on no account), what git recorded
(`commit.author.{name,email}`), and `Co-authored-by: Name <email>` trailers in its message, which the API
never links to an account. The sign-off refuses anyone who helped write the change, so a signer matches a
commit's author, committer or co-author by:

- **login**: the commit's author or committer account;
- **email**: an address that is the signer's: a GitHub noreply address (`ID+login@users.noreply.github.com`
  or `login@users.noreply.github.com`), one another commit of the same PR shows GitHub linking to the
  signer's account, the signer's public profile email, or (when a commit names an address GitHub links to
  no account here) one of the signer's own commits on the default branch, private or not;
- **name**: a git or co-author name equal to the signer's login (ignoring case and punctuation) or to the
  display name on their profile.

An address GitHub links to the signer on one commit already makes them that commit's author or committer:
the link matters on the other commits (a trailer with that address) and in the facts, where co-authors are
resolved to logins (`co_author_identities`) for Rego policies (e.g. to discount a co-author's review).

A name is not an identity (anyone can write any name), so the name rule may refuse someone who took no part:
that is safe (another owner signs, or the trailer is corrected), signing one's own change is not. Still
unmatched without more App permissions: an address the signer keeps private, used in none of this PR's
linked commits nor their newest 100 commits on the default branch (Apps have no email -> user lookup).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from githubkit import GitHub
from githubkit.exception import RequestFailed

#: `12345+login@users.noreply.github.com` (since 2017) or `login@users.noreply.github.com`; GHES uses
#: `users.noreply.<host>`
_NOREPLY = re.compile(r"^(?:\d+\+)?([a-z0-9_-]+)@users\.noreply\.[a-z0-9.-]+$", re.I)  # _: managed users
#: the committer of commits made on github.com (web edits, merges of the base): never a person
WEB_FLOW = "web-flow"


@dataclass(frozen=True)
class Identity:
    """One person a commit names: git's name and email, and the account (`login`, "" if none known):
    GitHub's link for an author or committer, the resolved one for a co-author."""

    name: str
    email: str
    login: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "email": self.email, "login": self.login}


#: no one (a commit read without its people)
NOBODY = Identity("", "")


class CommitPeople(Protocol):
    """What `relations` reads of a commit (`signoff_facts.CommitFacts`)."""

    @property
    def sha(self) -> str: ...
    @property
    def author_identity(self) -> Identity: ...
    @property
    def committer_identity(self) -> Identity: ...
    @property
    def co_author_identities(self) -> tuple[Identity, ...]: ...


def trailers(message: str) -> list[tuple[str, str]]:
    """The (name, email) of each `Co-authored-by:` line of a commit message, in order ("" when absent).

    Looser than GitHub (any case, spaces around the key, no email needed: each still names someone) and
    never capped (a cap would let a co-author hide behind junk trailers). Split by hand, in linear time:
    the message is the PR author's text."""
    out = []
    for line in (message or "").splitlines():
        key, colon, value = line.partition(":")
        if not colon or key.strip().casefold() != "co-authored-by":
            continue
        name, bracket, rest = value.partition("<")
        email = rest.split(">", 1)[0] if bracket else ""
        if name.strip() or email.strip():
            out.append((name.strip(), email.strip()))
    return out


def noreply_login(email: str) -> str:
    """The login a GitHub noreply address names (lower-cased), "" for any other address."""
    match = _NOREPLY.match(email.strip())
    return match.group(1).lower() if match else ""


def email_key(email: str) -> str:
    """An address as compared: case-folded, without a `+tag` (`alice+ci@corp` is alice's mailbox: treating
    them as one can only refuse more). Noreply addresses keep theirs: their `ID+` is not a tag."""
    email = email.strip().casefold()
    if noreply_login(email) or "@" not in email:
        return email
    local, domain = email.rsplit("@", 1)
    return f"{local.split('+', 1)[0]}@{domain}"


def _fold(text: str) -> str:
    """NFKC then case-folded: a fullwidth `ａｌｉｃｅ` or a ligature compares equal to its plain form."""
    return unicodedata.normalize("NFKC", text).casefold()


def _squash(text: str) -> str:
    """Letters and digits only, folded: `Alice-Smith`, `alice smith` and `alicesmith` compare equal."""
    return re.sub(r"[\W_]+", "", _fold(text))


def linked_emails(commits: Iterable[CommitPeople]) -> dict[str, dict[str, str]]:
    """Email (`email_key`) -> {login: the first commit's SHA} for each account GitHub linked that email to
    as a commit's author or committer."""
    out: dict[str, dict[str, str]] = {}
    for c in commits:
        for who in (c.author_identity, c.committer_identity):
            if who.email and who.login and who.login.lower() != WEB_FLOW:
                out.setdefault(email_key(who.email), {}).setdefault(who.login.lower(), c.sha)
    return out


def resolve(email: str, linked: dict[str, dict[str, str]]) -> list[str]:
    """The logins an address belongs to, as far as the PR itself shows: a noreply address's, or the accounts
    GitHub linked it to on the PR's commits. Sorted; lower-cased."""
    found = set(linked.get(email_key(email), {})) if email else set()
    if noreply_login(email):
        found.add(noreply_login(email))
    return sorted(found)


def relations(
    commits: Sequence[CommitPeople], login: str, *, emails: Mapping[str, str] | None = None, name: str = ""
) -> list[str]:
    """How `login` took part in the commits: one line per commit naming each role at its strongest rule
    (login, then email, then name), in commit order, e.g. "co-author (by email `alice@corp.example`, your
    public profile email) of commit `abc1234`"; [] when they took no part. `emails`: addresses known to be
    theirs (`email_key` -> how it is known, e.g. "your public profile email"); `name`: their profile name."""
    me = login.lower()
    if not me:
        return []
    linked = linked_emails(commits)
    display = " ".join(_fold(name).split())
    out = []
    for c in commits:
        roles: dict[str, list[str]] = {}  # how -> the roles it matched, e.g. "" -> [author, committer]
        for role, who in _people(c):
            how = _how(role, who, me, linked, emails or {}, display)
            if how is not None and role not in roles.setdefault(how, []):
                roles[how].append(role)
        parts = [" and ".join(r) + (f" ({how})" if how else "") for how, r in roles.items() if r]
        if parts:
            out.append(f"{' and '.join(parts)} of commit `{c.sha[:7]}`")
    return out


def unlinked_emails(commits: Iterable[CommitPeople]) -> bool:
    """Does a commit name an email that GitHub links to no account here (a co-author's, or an author's
    without a link)? Only such an address can still be a signer's private one."""
    commits = list(commits)
    linked = linked_emails(commits)
    return any(who.email and not resolve(who.email, linked) for c in commits for _, who in _people(c))


def _how(
    role: str, who: Identity, me: str, linked: dict[str, dict[str, str]], mine: Mapping[str, str],
    display: str,
) -> str | None:
    """Why `who` is the signer `me`: "" for the account itself, the rule otherwise; None if not them."""
    if role != "co-author" and who.login.lower() == me and me != WEB_FLOW:
        return ""  # GitHub's own link of the commit to the account
    if who.email:
        key = email_key(who.email)
        if noreply_login(who.email) == me:
            return f"by email {_code(who.email)}, your GitHub noreply address"
        if me in linked.get(key, {}):
            return f"by email {_code(who.email)}, which GitHub links to your account on commit " \
                f"`{linked[key][me][:7]}`"
        if key in mine:
            return f"by email {_code(who.email)}, {mine[key]}"
    if who.name and _squash(who.name) == _squash(me):
        return f"by name {_code(who.name)}, your login"
    if display and " ".join(_fold(who.name).split()) == display:
        return f"by name {_code(who.name)}, your profile name"
    return None


def _people(c: CommitPeople) -> list[tuple[str, Identity]]:
    return [("author", c.author_identity), ("committer", c.committer_identity),
            *(("co-author", who) for who in c.co_author_identities)]


def _code(text: str) -> str:
    """User text (a name or email from a commit) as an inert code span in a reply: no mention, no markup."""
    from bot.features.signoff_render import cell

    return "`" + cell(text, 120).replace("`", "'") + "`"


async def public_profile(gh: GitHub[Any], login: str) -> tuple[str, str]:
    """`login`'s public display name and email (`GET /users/{login}`, which needs no App permission), ""
    for what they did not make public. A login GitHub does not know (404) has neither; any other error is
    raised: the command is retried rather than decided without the check."""
    try:
        data = (await gh.rest.users.async_get_by_username(login)).parsed_data
    except RequestFailed as exc:
        if exc.response.status_code == 404:
            return "", ""
        raise
    return str(data.name or ""), str(data.email or "")


async def history_emails(gh: GitHub[Any], owner: str, repo: str, login: str) -> dict[str, str]:
    """The addresses of `login`'s newest 100 commits on the default branch (`GET /repos/{o}/{r}/commits?
    author=`, `contents: read`): GitHub links each to the account whether or not the user shows it, so a
    co-author trailer with an email they keep private is still theirs. `email_key` -> how it is known.
    Empty for an empty repository (409) or one not found."""
    try:
        resp = await gh.rest.repos.async_list_commits(owner, repo, author=login, per_page=100)
    except RequestFailed as exc:
        if exc.response.status_code in (404, 409):
            return {}
        raise
    out: dict[str, str] = {}
    for c in resp.parsed_data:
        for account, git in ((c.author, c.commit.author), (c.committer, c.commit.committer)):
            email = str(getattr(git, "email", "") or "")
            if email and str(getattr(account, "login", "") or "").lower() == login.lower():
                how = f"the email of your commit `{c.sha[:7]}` on the default branch"
                out.setdefault(email_key(email), how)
    return out
