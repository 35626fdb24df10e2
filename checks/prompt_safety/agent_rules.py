"""Rules and skill files that tell a coding agent to weaken security.

A line in `AGENTS.md` or `.cursor/rules/*.mdc` is an instruction that an agent with a shell follows on every
task, unseen by the reviewer of each later PR. These rules catch the instructions that turn it against the
repository: skipping checks and reviews, pulling dependencies from URLs, piping downloads into a shell,
committing credentials, and hiding what it did from its user.

Good rules files say the opposite ("never use --no-verify", "do not commit .env"), so a match in a clause
that already negates it is quiet (`injection.defensive`); hiding from the user is matched with its own
negation ("do not tell the user") and so is never excused that way.
"""

from __future__ import annotations

import re

from checks.finding import Severity
from checks.prompt_safety.injection import Signal, defensive
from checks.prompt_safety.owasp import Rule

SKIP_CHECKS = Rule("agent-skips-checks", "Agent told to skip or disable checks or reviews", Severity.HIGH,
                   "LLM06", "Agents must run the same checks and reviews as people: remove the instruction.")
DEPS_FROM_URL = Rule("agent-deps-from-url", "Agent told to install dependencies from a URL", Severity.HIGH,
                     "LLM03", "Add dependencies from the package registry with a pinned version and a "
                              "lockfile.")
RUN_DOWNLOADED = Rule("agent-runs-downloaded-script", "Agent told to run a downloaded script", Severity.HIGH,
                      "LLM06", "Never pipe a download into a shell; vendor the script and review it.")
COMMIT_SECRETS = Rule("agent-commits-credentials", "Agent told to commit or hard-code credentials",
                      Severity.HIGH, "LLM02", "Keep credentials in a secret store or environment; never "
                                              "commit them.")
HIDE_CHANGES = Rule("agent-hides-changes", "Agent told to hide changes from the user", Severity.HIGH, "LLM06",
                    "An agent must report everything it changes: remove the instruction.")

_SKIP = re.compile(
    r"(?i)--no-verify\b|\bgit\s+commit\s+(?:-\w+\s+)*-n\b|\bSKIP=\S+\s+git\b|--no-gpg-sign\b|"
    r"\b(?:skip|disable|bypass|ignore|turn\s+off|circumvent|suppress|comment\s+out|delete|remove)\s+"
    r"(?:(?:all|any|the|every|our|these|those)\s+){0,2}(?:failing\s+)?"
    r"(?:pre-?commit(?:\s+hooks?)?|git\s+hooks?|hooks|(?:unit\s+)?tests?|test\s+suite|linters?|lint(?:ing)?|"
    r"ci(?:\s+checks?)?|checks|status\s+checks?|security\s+(?:scans?|checks?|reviews?|tools?|scanners?)|"
    r"code\s+reviews?|reviews?|branch\s+protection|signing|signature\s+checks?|type\s*checks?|"
    r"sast|scanners?|secret\s+scanning|prguard)\b"
    r"|\b(?:merge|push|approve|deploy)\s+(?:\w+\s+){0,3}?without\s+(?:a\s+)?(?:review|approval|tests|checks|ci)"
    r"|\bforce[- ]push\s+(?:directly\s+)?to\s+(?:main|master)|\bgit\s+push\s+(?:-f|--force)\b[^\n]{0,40}"
    r"\b(?:main|master)\b|\badmin\s+override\b|#\s*nosec\b|#\s*noqa\b[^\n]{0,40}\bsecurity"
)
_DEPS = re.compile(
    r"(?i)\b(?:pip3?|uv\s+pip|poetry|pipenv)\s+(?:install|add)\s+[^\n]{0,120}?(?:git\+https?://|https?://\S+"
    r"\.(?:whl|tar\.gz|zip)\b|--(?:extra-)?index-url\s+\S+|--trusted-host\b)"
    r"|\b(?:npm|pnpm|yarn|bun)\s+(?:install|i|add)\s+[^\n]{0,120}?(?:https?://|git(?:\+ssh|\+https)?://|"
    r"github:|gitlab:|bitbucket:|[\w-]+/[\w.-]+#)"
    r"|\bgo\s+get\s+[^\n]{0,80}?@(?:master|main|latest)\b"
    r"|\b(?:add|install)\s+(?:\w+\s+){0,3}?(?:dependenc(?:y|ies)|packages?|librar(?:y|ies))\s+"
    r"(?:directly\s+)?from\s+(?:a\s+|the\s+|this\s+)?(?:url|https?://|git\s+url|tarball|gist)"
    r"|--(?:extra-)?index-url\s+http://|\bregistry\s*=\s*http://"
)
_RUN_DOWNLOADED = re.compile(
    r"(?i)\b(?:curl|wget|iwr|invoke-webrequest|irm|invoke-restmethod)\b[^\n|]{0,300}\|\s*(?:sudo\s+)?"
    r"(?:ba|z|k|da)?sh\b|\b(?:curl|wget)\b[^\n|]{0,300}\|\s*(?:sudo\s+)?(?:python3?|node|perl|ruby|iex)\b"
    r"|\b(?:ba|z)?sh\s+<\(\s*(?:curl|wget)\b|\biex\s*\(\s*(?:iwr|irm|invoke-webrequest|new-object\s+net\.webclient)"
    r"|\bsource\s+<\(\s*(?:curl|wget)\b"
    r"|\b(?:download|fetch)\s+[^\n]{0,160}?\b(?:and\s+(?:then\s+)?|then\s+)(?:run|execute|source|eval)\b"
    r"|\beval\s+\"?\$\(\s*(?:curl|wget)\b"
)
_COMMIT_SECRETS = re.compile(
    r"(?i)\b(?:commit|check\s+in|push|add)\s+(?:\w+\s+){0,4}?(?:\.env\b|credentials?|secrets?|api[\s_-]?keys?|"
    r"(?:access\s+)?tokens?|private\s+keys?|passwords?|id_rsa|\.pem\b|service[\s-]account\s+(?:key|json))"
    r"(?!\s+(?:scanning|scanner|detection|rotation|manager))"
    r"|\bhard-?code\s+(?:\w+\s+){0,3}?(?:api[\s_-]?keys?|tokens?|passwords?|credentials?|secrets?)"
    r"|\b(?:remove|delete|drop)\s+(?:\w+\s+){0,2}?\.env\w*\s+from\s+(?:the\s+)?\.gitignore"
    r"|\bgit\s+add\s+(?:-f\s+|--force\s+)?\S*(?:\.env|id_rsa|credentials\.json|\.pem)\b"
)
_HIDE = re.compile(
    r"(?i)\b(?:do\s+not|don'?t|never)\s+(?:tell|inform|mention|reveal|disclose|show|report|notify|list|"
    r"summari[sz]e|explain)\s+(?:\w+\s+){0,5}?(?:to\s+)?(?:the\s+)?(?:user|human|reviewer|developer|maintainer)s?\b"
    r"(?!['’]s\b|\s+(?:data|input|names?|passwords?|ids?|details|information|accounts?|emails?)\b)"
    r"|\b(?:do\s+not|don'?t|never)\s+(?:mention|list|report|include)\s+(?:\w+\s+){0,4}?(?:these|this|the|such)\s+"
    r"(?:changes?|edits?|commands?|modifications?|files?)\s+(?:in|to)\s+(?:the\s+)?(?:summary|pr|pull\s+request|"
    r"commit\s+message|changelog|output)"
    r"|\bwithout\s+(?:telling|informing|notifying|asking)\s+(?:the\s+)?(?:user|human|reviewer|developer)"
    r"|\b(?:hide|conceal)\s+(?:\w+\s+){0,4}?from\s+(?:the\s+)?(?:user|human|reviewer|developer|diff|review)"
    r"|\bsilently\s+(?:modify|change|edit|add|remove|install|push|commit|delete|disable)"
    r"|\bkeep\s+(?:this|these|it)\s+(?:changes?\s+)?(?:secret|hidden|quiet)\b"
)

_NEGATABLE = ((_SKIP, SKIP_CHECKS), (_DEPS, DEPS_FROM_URL), (_RUN_DOWNLOADED, RUN_DOWNLOADED),
              (_COMMIT_SECRETS, COMMIT_SECRETS))


def scan_line(line: str) -> list[Signal]:
    """Security-weakening instructions on one line of a rules or skill file."""
    line = line[:20_000]
    out: list[Signal] = []
    for pattern, rule in _NEGATABLE:
        for m in pattern.finditer(line):
            if not defensive(line, m.start()):
                out.append(Signal(rule, m.start(), m.end(), m.group(0)))
    out += [Signal(HIDE_CHANGES, m.start(), m.end(), m.group(0)) for m in _HIDE.finditer(line)]
    return out
