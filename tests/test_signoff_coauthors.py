"""Co-authors cannot sign off their own change, whatever name their `Co-authored-by:` trailer shows.

A co-author is matched to the signer by identity: an email GitHub links to the signer on another commit of
the PR, a GitHub noreply address, the signer's public profile email, an address of the signer's own commits
on the default branch, or (conservatively) a name equal to their login or profile name. End to end on the
sign-off stack (real receiver + worker + Redis + the GitHub double, whose commits carry the authors and
messages a test gives them); each test asserts what the user sees: the refusal reply and the check run.
Rego policies read the co-authors resolved to accounts (`provenance.commits[].co_author_identities`).
"""

from __future__ import annotations

from typing import Any

from bot.features.signoff_identity import email_key, noreply_login, trailers
from tests.github_double.double import GitHubDouble
from tests.github_double.routes_commits import user_id
from tests.github_double.state import Person
from tests.github_double.testing import installation_client
from tests.signoff_stack import SignoffStack
from tests.test_signoff import PROMPT_NEW, ai_pr

#: the prompt is asmith's and rev's to sign; dave opens the PR
OWNERS = b"""signoff:
  owners:
    "prompts/**": ["asmith", "rev"]
"""
DAVE = Person("Dave Author", "dave@corp.example", "dave")
ASMITH = Person("Alice Smith", "alice@corp.example", "asmith")
REFUSED = "`signoff` refused: an author or co-author of this pull request's commits cannot sign it off"


def _push(d: GitHubDouble, pr: Any, n: int, *, author: Person = DAVE, message: str = "") -> str:
    """One more commit on the PR changing the prompt (so the sign-off stays required)."""
    return d.push("octo/repo", pr.number, {"prompts/system.txt": PROMPT_NEW + b"v%d\n" % n},
                  author=author, message=message or None)


def _last_reply(stack: SignoffStack, number: int) -> str:
    return stack.social.app_comments("octo/repo", number)[-1].body.split("\n", 1)[1]


async def _refused(stack: SignoffStack, pr: Any, inst: int, who: str) -> str:
    """`who` tries to sign: the reply is a refusal and the run still blocks. Returns the reply's text."""
    comment = await stack.comment(pr, inst, who, "/prguard signoff reviewed, looks fine")
    reply = _last_reply(stack, pr.number)
    assert reply.startswith(f"@{who} {REFUSED}: you are the "), reply
    assert stack.social.reaction_contents(comment["id"]) == ["eyes", "-1"]
    run = stack.run(pr)
    assert run.conclusion == "action_required" and run.title.startswith("Sign-off required"), run.title
    return reply


async def test_co_author_email_linked_to_the_signer_by_another_commit_is_refused(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    d = github_double
    inst, pr = ai_pr(d, policy=OWNERS)
    mine = _push(d, pr, 1, author=ASMITH)  # GitHub links alice@corp.example to asmith on this commit
    theirs = _push(d, pr, 2, message="Tune the prompt\n\nCo-authored-by: A. S. <Alice@Corp.example>\n")
    async with SignoffStack(d, redis_url, prefix=redis_prefix) as stack:
        await stack.opened(pr, inst)
        reply = await _refused(stack, pr, inst, "asmith")
        assert f"you are the author and committer of commit `{mine[:7]}`; the co-author" in reply
        assert (
            f"co-author (by email `Alice@Corp.example`, which GitHub links to your account on commit "
            f"`{mine[:7]}`) of commit `{theirs[:7]}`" in reply
        ), reply
        # the evidence resolves the co-author to the account, not only the trailer's name
        assert "- co-authors: A. S., asmith" in stack.run(pr).summary


async def test_co_author_by_github_noreply_address_is_refused(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    d = github_double
    inst, pr = ai_pr(d, policy=OWNERS)
    noreply = f"{user_id('asmith')}+ASmith@users.noreply.github.com"
    head = _push(d, pr, 1, message=f"Reword\n\nco-authored-by: Someone Else <{noreply}>\n")
    async with SignoffStack(d, redis_url, prefix=redis_prefix) as stack:
        await stack.opened(pr, inst)
        reply = await _refused(stack, pr, inst, "asmith")
        assert f"co-author (by email `{noreply}`, your GitHub noreply address) of commit `{head[:7]}`" in (
            reply)


async def test_co_author_or_unlinked_author_with_the_signers_public_email_is_refused(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    d = github_double
    inst, pr = ai_pr(d, policy=OWNERS)
    d.set_user("asmith", name="A. Smith (she/her)", email="alice@corp.example")
    first = _push(d, pr, 1, message="Reword\n\nCo-authored-by: Al <alice+prguard@corp.example>\n")
    # a commit whose email GitHub links to no account: only git's name and email say who wrote it
    second = _push(d, pr, 2, author=Person("Al", "ALICE@corp.example", None))
    async with SignoffStack(d, redis_url, prefix=redis_prefix) as stack:
        await stack.opened(pr, inst)
        reply = await _refused(stack, pr, inst, "asmith")
        assert (
            f"co-author (by email `alice+prguard@corp.example`, your public profile email) of commit "
            f"`{first[:7]}`; the author and committer (by email `ALICE@corp.example`, your public profile "
            f"email) of commit `{second[:7]}`" in reply
        ), reply
        assert d.requests("GET", r"^/users/asmith$"), "the signer's public profile was never read"


async def test_co_author_email_of_the_signers_own_commits_on_the_default_branch_is_refused(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    d = github_double
    inst, pr = ai_pr(d, policy=OWNERS)
    # asmith keeps alice@corp.example private (no public email) but commits with it on main
    earlier = d.add_commit("octo/repo", {"docs.md": b"notes\n"}, parent="main", branch="main", author=ASMITH)
    head = _push(d, pr, 1, message="Reword\n\nCo-authored-by: Al <alice@corp.example>\n")
    async with SignoffStack(d, redis_url, prefix=redis_prefix) as stack:
        await stack.opened(pr, inst)
        reply = await _refused(stack, pr, inst, "asmith")
        assert (
            f"co-author (by email `alice@corp.example`, the email of your commit `{earlier[:7]}` on the "
            f"default branch) of commit `{head[:7]}`" in reply
        ), reply
        listed = d.requests("GET", r"^/repos/octo/repo/commits$")
        assert listed and "author=asmith" in listed[-1].query


async def test_co_author_by_display_name_is_refused(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    d = github_double
    inst, pr = ai_pr(d, policy=OWNERS)
    d.set_user("asmith", name="Alice Smith")
    by_name = _push(d, pr, 1, message="Reword\n\nCo-authored-by: alice  SMITH <alice@home.example>\n")
    async with SignoffStack(d, redis_url, prefix=redis_prefix) as stack:
        await stack.opened(pr, inst)
        reply = await _refused(stack, pr, inst, "asmith")
        assert f"co-author (by name `alice SMITH`, your profile name) of commit `{by_name[:7]}`" in reply
        by_login = _push(d, pr, 2, message="More\n\nCo-authored-by: A-Smith <a@home.example>\n")
        await stack.opened(pr, inst, action="synchronize")
        reply = await _refused(stack, pr, inst, "asmith")
        assert f"co-author (by name `A-Smith`, your login) of commit `{by_login[:7]}`" in reply


async def test_a_reviewer_who_is_not_a_co_author_signs_while_the_co_author_cannot(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    d = github_double
    inst, pr = ai_pr(d, policy=OWNERS)
    d.set_user("rev", name="Rev Iewer", email="rev@corp.example")
    d.add_commit("octo/repo", {"docs.md": b"notes\n"}, parent="main", branch="main",
                 author=Person("Rev Iewer", "rev@home.example", "rev"))
    _push(d, pr, 1, message="Reword\n\nCo-authored-by: Alice Smith <alice@corp.example>\n"
          f"Co-authored-by: Bob <{user_id('bob')}+bob@users.noreply.github.com>\n")
    async with SignoffStack(d, redis_url, prefix=redis_prefix) as stack:
        await stack.opened(pr, inst)
        d.set_user("asmith", email="alice@corp.example")
        await _refused(stack, pr, inst, "asmith")
        comment = await stack.comment(pr, inst, "rev", "/prguard signoff reviewed the prompt change")
        assert stack.social.reaction_contents(comment["id"]) == ["eyes", "+1"]
        assert f"@rev signed off head `{pr.head_sha[:12]}`" in _last_reply(stack, pr.number)
        run = stack.run(pr)
        assert run.conclusion == "success" and "@rev" in run.title, run.title
        # rev was checked, not waved through: profile and own commits read, nothing of theirs in the PR
        assert d.requests("GET", r"^/users/rev$")
        assert any("author=rev" in r.query for r in d.requests("GET", r"^/repos/octo/repo/commits$"))


async def test_rego_policies_read_co_authors_resolved_to_accounts(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    d = github_double
    inst, pr = ai_pr(d, policy=OWNERS)
    rego = b"""package prguard

import rego.v1

deny contains msg if {
\tsome c in input.provenance.commits
\tsome p in c.co_author_identities
\tp.login != ""
\tmsg := sprintf("%s co-authored %s as %s", [p.login, substring(c.sha, 0, 7), p.email])
}
"""
    d.set_content("octo/repo", ".github/prguard/co_authors.rego", rego, ref=pr.base_sha)
    noreply = f"{user_id('asmith')}+asmith@users.noreply.github.com"
    trailers_ = f"Co-authored-by: Al <{noreply}>\nCo-authored-by: Zed <z@x.example>\n"
    head = _push(d, pr, 1, message=f"Reword\n\n{trailers_}")
    async with SignoffStack(d, redis_url, prefix=redis_prefix) as stack:
        await stack.opened(pr, inst)
        await stack.comment(pr, inst, "rev", "/prguard signoff fine")
        reply = _last_reply(stack, pr.number)
        # Zed's address is on no account: unresolved, so only asmith is denied
        expected = f"@rev `signoff` refused: denied by policy:\n- asmith co-authored {head[:7]} as {noreply}"
        assert reply == expected, reply


async def test_double_commits_carry_their_people_and_message_defaults_unchanged(
    github_double: GitHubDouble,
) -> None:
    d = github_double
    inst, pr = ai_pr(d, policy=OWNERS)
    first = pr.head_sha
    al = Person("Al", "al@corp.example", None)
    unlinked = _push(d, pr, 1, author=al, message="Msg\n\nCo-authored-by: X <x@y>")
    linked = _push(d, pr, 2, author=ASMITH)
    d.set_user("asmith", name="Alice Smith", email="alice@corp.example")
    async with installation_client(d, inst) as gh:
        commits = {
            c.sha: c for c in (await gh.rest.pulls.async_list_commits("octo", "repo", pr.number)).parsed_data
        }
        default = commits[first]
        assert default.author is not None and getattr(default.author, "login", "") == "octocat"
        assert default.commit.message == f"commit {first[:7]}"
        assert default.commit.author is not None and default.commit.author.email == "octocat@example.invalid"
        c = commits[unlinked]
        assert c.author is None and c.committer is None  # the email maps to no account: null, as on GitHub
        assert c.commit.author is not None and (c.commit.author.name, c.commit.author.email) == (
            "Al", "al@corp.example")
        assert c.commit.message == "Msg\n\nCo-authored-by: X <x@y>"
        c = commits[linked]
        assert getattr(c.author, "login", "") == "asmith" and getattr(c.committer, "login", "") == "asmith"
        profile = (await gh.rest.users.async_get_by_username("asmith")).parsed_data
        assert (profile.name, profile.email) == ("Alice Smith", "alice@corp.example")
        nobody = (await gh.rest.users.async_get_by_username("rev")).parsed_data
        assert (nobody.login, nobody.name, nobody.email) == ("rev", None, None)
        for who, expected in (("asmith", linked), ("AL@corp.example", unlinked)):
            found = await gh.rest.repos.async_list_commits("octo", "repo", sha=linked, author=who)
            assert [x.sha for x in found.parsed_data] == [expected]


def test_trailers_and_addresses_are_read_loosely_and_in_linear_time() -> None:
    message = (
        "Subject\r\n\r\nbody\r\n  CO-AUTHORED-BY : Alice Smith <alice@corp.example>\r\n"
        "Co-authored-by: asmith\nCo-authored-by: <only@mail.example>\nCo-authored-by:\n"
        "Signed-off-by: x <y@z>\n"
        "Co-authored-by: " + " " * 50_000 + "<"
    )
    assert trailers(message) == [
        ("Alice Smith", "alice@corp.example"), ("asmith", ""), ("", "only@mail.example"),
    ]
    assert noreply_login("123+ASmith@users.noreply.github.com") == "asmith"
    assert noreply_login("asmith@users.noreply.github.com") == "asmith"
    assert noreply_login("asmith@users.noreply.ghe.corp.example") == "asmith"
    assert noreply_login("asmith@noreply.github.com") == ""
    assert email_key(" Alice+CI@Corp.Example ") == "alice@corp.example"
    assert email_key("123+asmith@users.noreply.github.com") == "123+asmith@users.noreply.github.com"


def test_managed_user_noreply_addresses_and_lookalike_names_are_recognised() -> None:
    """Enterprise managed users' logins hold `_`; a fullwidth or ligature spelling of a login is the login."""
    from dataclasses import dataclass

    from bot.features.signoff_identity import NOBODY, Identity, relations

    @dataclass(frozen=True)
    class Commit:
        sha: str
        author_identity: Identity
        committer_identity: Identity = NOBODY
        co_author_identities: tuple[Identity, ...] = ()

    assert noreply_login("123+alice_acme@users.noreply.github.com") == "alice_acme"
    assert email_key("123+alice_acme@users.noreply.github.com") == "123+alice_acme@users.noreply.github.com"
    by_noreply = Commit("a" * 40, Identity("x", "x@example.invalid", "x"),
                        co_author_identities=(Identity("A", "123+alice_acme@users.noreply.github.com"),))
    assert relations([by_noreply], "alice_acme")
    fullwidth = Commit("b" * 40, Identity("x", "x@example.invalid", "x"),
                       co_author_identities=(Identity("ａｌｉｃｅ", "elsewhere@example.invalid"),))
    assert relations([fullwidth], "alice") and not relations([fullwidth], "bob")
