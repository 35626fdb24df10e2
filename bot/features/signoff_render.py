"""Markdown for the sign-off: the run's summary, the evidence answering the mission's five questions (from
data, each line a fact), the sticky comment and replies. Pure functions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.features.signoff_facts import Facts
from bot.log import scrub
from checks.redact import visible
from checks.signoff.evidence import RuleOutcome
from checks.signoff.records import SignOff


def neutral(text: Any) -> str:
    """`text` (anything a user controls: reasons, paths, names, policy messages) made inert in an App comment:
    no `<` or `>` survives, so it can never open or close an HTML comment nor form a hidden record block."""
    return str(text).replace("<", "&lt;").replace(">", "&gt;")


def cell(text: Any, limit: int = 200) -> str:
    """User text for one line of markdown: secrets scrubbed, inert (`neutral`), one line, control characters
    shown as `\\uXXXX` (`checks.redact.visible`: a terminal showing the comment is not redrawn), `|`
    escaped."""
    flat = visible(" ".join(neutral(scrub(str(text))).split())).replace("|", "\\|")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def redact_secrets(text: str) -> str:
    """`text` (a command's reason) with every secret the secrets check would find in it redacted
    (`checks.redact`), before it is recorded, rendered or exported."""
    from checks.change import LineSet
    from checks.redact import redact_in
    from checks.secrets.scanner import scan_bytes

    data = text.encode("utf-8", "surrogateescape")
    lines = data.count(b"\n") + 1
    hits = scan_bytes("prguard-command.txt", data, LineSet.whole(lines)).hits
    return redact_in(text, {h.value for h in hits})


def evidence(f: Facts, rules: list[RuleOutcome], valid: list[SignOff]) -> str:
    """The five questions for this head, answered from data."""
    lines = ["### Evidence for this head", ""]
    authors = sorted({c.author or "(unknown)" for c in f.commits})
    verified = sum(c.verified for c in f.commits)
    bots = [c.sha[:7] for c in f.commits if c.author_type == "Bot"]
    models = f.model_refs()
    lines += [
        "**1. Where did it come from?**",
        f"- commits: {len(f.commits)} by {', '.join(cell(a) for a in authors) or 'nobody'}; "
        f"signature verified: {verified}/{len(f.commits)}; bot-authored: {', '.join(bots) or 'none'}",
    ]
    co = sorted({a for c in f.commits for a in c.co_authors})
    if co:
        lines.append(f"- co-authors: {', '.join(cell(a) for a in co)}")
    for m in models:
        lines.append(
            f"- model source `{cell(m['source'])}` revision `{cell(m['revision'])}` "
            f"({'pinned' if m['pinned'] else 'UNPINNED'})"
        )
    if not models:
        lines.append("- model or dataset sources added: none found in the added lines")
    lines += ["", "**2. Who approved it?**"]
    reviews = [f"{cell(r['user'])} ({r['state'].lower()})" for r in f.reviews]
    lines.append(f"- reviews: {', '.join(reviews) or 'none'}")
    lines.append(
        f"- sign-offs valid for this head: "
        f"{', '.join(f'@{cell(s.by)} ({cell(s.reason, 80)})' for s in valid) or 'none'}"
    )
    waived = [
        f"`{cell(w.fingerprint)}` by @{cell(w.by)} ({cell(w.reason, 80)})" for w in f.state.waivers.values()
    ]
    today = datetime.now(UTC).date()
    waived += [
        f"`{cell(w.fingerprint)}` (policy: {cell(w.reason, 80)}"
        + (f"; EXPIRED {w.expires}, no longer applies)" if w.expired(today) else ")")
        for w in f.config.waivers
    ]
    lines.append(f"- waivers: {', '.join(waived) or 'none'}")
    lines += ["", "**3. What exactly changed?**"]
    for kind, paths in f.by_kind().items():
        shown = ", ".join(f"`{cell(p, 120)}`" for p in paths[:10]) + (" …" if len(paths) > 10 else "")
        lines.append(f"- {kind}: {shown}")
    for entry in f.aibom[:30]:
        lines.append(f"- AI-BOM: {cell(entry, 300)}")
    if not f.aibom:
        lines.append("- AI-BOM difference: none")
    boms = [p for p, k in f.ai.items() if k == "ai-bom"]
    lines.append(f"- AI-BOM files changed: {', '.join(f'`{cell(p)}`' for p in boms) or 'none'}")
    lines.append(f"- files changed in total: {len(f.files)}")
    lines += ["", "**4. Can we reproduce it?**"]
    locks = [p for p in f.changed if p.rsplit("/", 1)[-1] in LOCKFILES]
    uses = f.actions_uses()
    lines.append(f"- lockfiles changed: {', '.join(f'`{cell(p)}`' for p in locks) or 'none'}")
    lines.append(f"- actions added: {len(uses)}, pinned to a SHA: {sum(u['pinned'] for u in uses)}")
    lines.append(f"- model revisions pinned: {sum(m['pinned'] for m in models)}/{len(models)}")
    digests = [p for p in f.changed if p.endswith((".sig", ".sigstore", ".sigstore.json", ".intoto.jsonl"))]
    lines.append(f"- signatures or attestations in the PR: {', '.join(cell(p) for p in digests) or 'none'}")
    lines += ["", "**5. Can we trust it in production?**"]
    for run in f.runs.values():
        lines.append(f"- `{run.name}`: {run.conclusion or run.status}")
    if not f.runs:
        lines.append("- prguard's checks: no runs on this head yet")
    for rule in rules:
        lines.append(
            f"- evidence rule *{cell(rule.name)}*: {'met' if rule.met else 'NOT met'} — {cell(rule.why)}"
        )
    for res in f.results.values():
        if res is not None:
            lines.append(
                f"- red-team `{cell(res.path)}` ({cell(res.tool)}): {res.passed}/{res.total} passed"
                + (f", failed: {cell(', '.join(res.failed_categories[:8]))}" if res.failed_categories else "")
            )
    return "\n".join(lines)


LOCKFILES = {
    "poetry.lock",
    "uv.lock",
    "Pipfile.lock",
    "package-lock.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "Cargo.lock",
    "go.sum",
    "requirements.txt",
    "Gemfile.lock",
    "composer.lock",
}


def needed_line(missing: dict[str, list[str]]) -> str:
    """Who is still needed: path -> owners (empty list: maintainers/admins)."""
    out = []
    for path, owners in missing.items():
        out.append(f"- `{cell(path, 120)}`: {cell(', '.join(owners)) if owners else 'a maintainer or admin'}")
    return "\n".join(out)


HELP = """**prguard commands** (in a PR comment or review body):

- `{p} signoff <reason>` — sign off the AI-impacting changes of this head (owners of the touched paths, or
  maintainers/admins; never the PR's author or a commit's author)
- `{p} hold <reason>` / `{p} unhold` — block / unblock the sign-off whatever else holds
- `{p} waive <fingerprint> <reason>` / `{p} unwaive <fingerprint>` — hide / restore one finding on this PR
- `{p} recheck` — evaluate the sign-off again
- `{p} help` — this message"""
