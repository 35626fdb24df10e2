"""Regressions found by review: each test reproduces a defect the way a user met it, with fresh keys.

- an old secret on a re-indented, whitespace-only or moved line, or in a renamed-and-edited file, was
  reported as if the change introduced it;
- real keys were missed: a hex token behind a short prefix (Twilio ~5 %, Mailchimp ~3 %), digit-heavy
  Slack tokens, and keys of prefix-less or short formats that happen to hold no digit (AWS secret,
  Cohere, Mistral, Fireworks);
- jwt.io's documentation token was a medium finding; an `AKIA…` run inside a base64 blob was a high one;
- the fingerprint of a short secret was a fast hash that, next to the redacted first 4 characters and the
  length, could be brute-forced back to the secret;
- a file name with control characters could rewrite the text report in the reader's terminal.

Generated keys come from tests/secrets_keys.py's seeded `RNG` (`seed_note()` in a message says how to draw
them again). Whether a key should be found is decided by its provider's format, written out here, never by
prguard's own filters: the recall tests draw keys the way the provider makes them, check each against the
format, and bound what prguard misses.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import re
import string
from collections import Counter

from bot.cli.formats import text
from bot.cli.formats.scan_report import ScanReport
from checks.change import Change, LineSet
from checks.engine import run_check
from checks.finding import Finding, Severity, make_fingerprint
from checks.git_change import change_from_git
from checks.redact import redact
from checks.secrets import SecretsCheck
from checks.secrets.check import secret_fingerprint
from checks.secrets.scanner import scan_bytes
from tests.gitrepo import GitRepo
from tests.secrets_keys import ALNUM, HEX, RNG, pick, rand, seed_note
from tests.secrets_keys import github_token as ghp
from tests.test_secrets import changed, scan

# --- quiet: what the change did not introduce ------------------------------------------------------------


def _repo_with_secret(tmp_path, key: str) -> GitRepo:
    repo = GitRepo.init(tmp_path / "repo")
    body = "".join(f"x{i} = {i}\n" for i in range(20)) + f'TOKEN = "{key}"\n' + "y = 2\n"
    repo.commit({"app/settings.py": body}, "base")
    repo.branch("feature")
    return repo


def _found(repo: GitRepo) -> list[tuple[str, int]]:
    result = run_check(SecretsCheck(), change_from_git(repo.path, "main"))
    assert result.error is None, result.error
    return [(f.path, f.line) for f in result.findings]


def test_reindented_or_whitespace_changed_secret_line_is_not_new(tmp_path):
    key = ghp()
    repo = _repo_with_secret(tmp_path, key)
    settings = repo.path / "app/settings.py"
    body = settings.read_text()

    settings.write_text(body.replace(f'TOKEN = "{key}"', f'if True:\n    TOKEN  =  "{key}"  '))
    assert _found(repo) == []

    settings.write_text(f'TOKEN = "{key}"\n' + body.replace(f'TOKEN = "{key}"\n', ""))  # moved up
    assert _found(repo) == []


def test_renamed_and_edited_file_does_not_re_report_its_secret(tmp_path):
    key = ghp()
    repo = _repo_with_secret(tmp_path, key)
    repo.move("app/settings.py", "app/config.py")
    config = repo.path / "app/config.py"
    config.write_text(config.read_text().replace(f'TOKEN = "{key}"', f'TOKEN  = "{key}"  # moved'))
    repo.commit(message="rename and edit")
    change = change_from_git(repo.path, "main")
    assert [(f.path, f.status.value) for f in change.files] == [("app/config.py", "renamed")]
    assert _found(repo) == []


def test_a_new_secret_next_to_an_old_one_is_still_reported(tmp_path):
    key, new = ghp(), ghp()
    repo = _repo_with_secret(tmp_path, key)
    settings = repo.path / "app/settings.py"
    body = settings.read_text().replace(f'TOKEN = "{key}"', f'    TOKEN = "{key}"\nNEW = "{new}"')
    settings.write_text(body)
    assert _found(repo) == [("app/settings.py", 22)]
    # the same old secret copied into another file is reported there: that file never had it
    repo.write("app/other.py", f'COPY = "{key}"\n')
    assert _found(repo) == [("app/other.py", 1), ("app/settings.py", 22)]


# --- recall: real keys that were missed --------------------------------------------------------------------


def shannon(value: str) -> float:
    """Shannon entropy of a value, in bits per character (this test's own, not prguard's)."""
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def draw(fmt: re.Pattern[str], make, n: int) -> list[str]:
    """n keys from `make`, each checked against the provider's format `fmt`: the generator is the oracle."""
    keys = [make() for _ in range(n)]
    bad = [k for k in keys if not fmt.fullmatch(k)]
    assert not bad, f"the generator left the format {fmt.pattern}: {bad[:3]} {seed_note()}"
    return keys


def rules_per_key(template: str, keys: list[str], lines_per_file: int = 200) -> list[list[str]]:
    """The rules prguard reports on each key's line (files of `lines_per_file` lines, one check run)."""
    files = []
    for i in range(0, len(keys), lines_per_file):
        body = "".join(template.format(k) + "\n" for k in keys[i : i + lines_per_file])
        files.append(changed(f"app/keys_{i // lines_per_file}.py", body))
    result = run_check(SecretsCheck(), Change("b", "h", files))
    assert result.error is None, result.error
    out: list[list[str]] = [[] for _ in keys]
    for f in result.findings:
        out[int(f.path.removeprefix("app/keys_").removesuffix(".py")) * lines_per_file + f.line - 1].append(
            f.rule_id
        )
    return out


def assert_recall(rule_id: str, template: str, keys: list[str], at_least: float) -> None:
    """Every key is reported under `rule_id` and nothing else, except at most (1 - at_least) of them."""
    got = rules_per_key(template, keys)
    wrong = [(k, r) for k, r in zip(keys, got, strict=True) if r and r != [rule_id]]
    missed = [k for k, r in zip(keys, got, strict=True) if not r]
    assert not wrong, f"{rule_id}: reported under other rules: {wrong[:3]} {seed_note()}"
    recall = 1 - len(missed) / len(keys)
    assert recall >= at_least, (
        f"{rule_id}: found {len(keys) - len(missed)} of {len(keys)} ({recall:.2%} < {at_least:.2%}); "
        f"missed e.g. {missed[:5]} {seed_note()}"
    )


#: The providers' formats: Twilio API key SID `SK` + 32 hex; Mailchimp API key 32 hex + `-us` + data-centre
#: number; Slack bot token `xoxb-` + team id + `-` + bot user id (digits) + `-` + 24 alnum. The last field
#: says whether the lowest-entropy keys reach under the cut that dropped them (not for Slack: see below).
TWILIO = re.compile(r"SK[0-9a-f]{32}")
MAILCHIMP = re.compile(r"[0-9a-f]{32}-us[0-9]{1,2}")
SLACK_BOT = re.compile(r"xoxb-[0-9]{10,13}-[0-9]{10,13}-[A-Za-z0-9]{24}")
PREFIXED_HEX_AND_SLACK = [
    ("secrets/twilio-key", TWILIO, lambda: "SK" + pick(32, HEX), 'TWILIO = "{}"', True),
    (
        "secrets/mailchimp-api-key",
        MAILCHIMP,
        lambda: pick(32, HEX) + "-us" + str(RNG.randrange(1, 21)),
        'MC = "{}"',
        True,
    ),
    (
        "secrets/slack-token",
        SLACK_BOT,
        lambda: f"xoxb-{pick(11, string.digits)}-{pick(12, string.digits)}-{pick(24, ALNUM)}",
        'SLACK = "{}"',
        False,
    ),
]


def test_hex_tokens_behind_a_prefix_and_digit_heavy_slack_tokens_are_found():
    """2000 keys of each format drawn as the provider draws them, and the 20 of 20 000 with the lowest
    entropy: for the hex formats, those are the ones an entropy cut judged against 64 symbols dropped (a
    hex key has 16), 70 % of log2(length) bits per character.

    Measured on 20 000 keys of each: Twilio 100 %, Mailchimp 99.995 %, Slack 99.975 % found; of the 20
    lowest of 20 000, over 20 seeds (400 keys each): all Twilio keys, all Mailchimp keys but one, all Slack
    tokens but four. Known misses:
    - by design of the filler filter every detector gets, a run of six identical characters
      (`…6666663…`, `…aaaaaa-us11`) or six ascending ones reads as a documentation filler. Slack tokens
      meet it most (~2.5e-4 of them), in their numeric ids: team `12345673018`, user `837777777470`;
    - a Slack token is judged "random enough" as if drawn from 63 symbols although 23 of its 54
      characters are the digits of its ids, so the few whose entropy falls under that cut are missed
      (~1e-5 of tokens: three of the four tail misses above; the fourth was a filler run).
    The bounds below leave room for those and for other seeds, not for a regression (which missed ~5 %
    of Twilio keys).
    """
    for rule_id, fmt, make, template, tail_under_cut in PREFIXED_HEX_AND_SLACK:
        assert_recall(rule_id, template, draw(fmt, make, 2000), at_least=0.9975)
        lowest = sorted(draw(fmt, make, 20_000), key=shannon)[:20]
        if tail_under_cut:  # the test does reach the keys that were dropped
            assert all(shannon(k) < 0.7 * math.log2(min(len(k), 64)) for k in lowest), (rule_id, seed_note())
        assert_recall(rule_id, template, lowest, at_least=0.9)


#: Prefix-less formats: AWS secret access key, 40 of [A-Za-z0-9/+]; Cohere, 40 alnum; Mistral, 32 alnum.
#: The keys drawn are those formats' keys that hold no digit (0.1 %, 0.1 % and 0.4 % of real keys).
DIGITLESS = [
    (
        "secrets/aws-secret-access-key",
        re.compile(r"[A-Za-z0-9/+]{40}"),
        string.ascii_letters + "/+",
        40,
        "AWS_SECRET_ACCESS_KEY={}",
        0.99,
    ),
    ("secrets/cohere-api-key", re.compile(r"[A-Za-z0-9]{40}"), string.ascii_letters, 40,
     'co = cohere.Client("{}")', 0.98),
    ("secrets/mistral-api-key", re.compile(r"[A-Za-z0-9]{32}"), string.ascii_letters, 32,
     'client = Mistral(api_key="{}")', 0.965),
]


def test_keys_without_a_digit_are_found():
    """2000 keys of each format without a digit, drawn uniformly (so: a real key, given it has no digit).

    Measured on 20 000 of each: AWS secret 99.62 %, Cohere 99.08 %, Mistral 97.80 % found. Known misses,
    by design: a digit-free value that reads as CamelCase words (`…LUZyatLfuGcvfmq…`: short runs of lower
    case behind a capital, as in identifiers) is rejected like an identifier, since these formats have no
    prefix to tell them apart; that is 4e-6 of all AWS secrets, 8e-6 of Cohere and 8e-5 of Mistral keys.
    The bounds below sit about four standard deviations under those rates.
    """
    for rule_id, fmt, alphabet, length, template, at_least in DIGITLESS:
        keys = draw(fmt, lambda alphabet=alphabet, length=length: pick(length, alphabet), 2000)
        assert not any(c.isdigit() for k in keys for c in k)
        assert_recall(rule_id, template, keys, at_least)


def test_identifiers_near_a_provider_name_still_produce_nothing():
    lines = [
        "model = Mistral(api_key=MistralChatCompletionRequestBody)",
        'COHERE = "COHEREPRODUCTIONKEYFORTHEEMBEDDINGSAPI"',
        'cohere_model = "CohereEmbeddingModelConfigurationDefault"',
        'AWS_SECRET_ACCESS_KEY = "AwsSecretAccessKeyParameterNameForProdXy"',
        'FIREWORKS = "fw_FireworksModelDeploymentName"',
    ]
    assert scan("\n".join(lines) + "\n") == []


# --- precision: documentation and data blobs ----------------------------------------------------------------


def _jwt(claims: dict[str, object]) -> str:
    def part(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.{rand(43, ALNUM + '_-')}"


def test_the_jwt_io_documentation_token_is_not_a_finding_but_a_real_one_is():
    doc = _jwt({"sub": "1234567890", "name": "John Doe", "iat": 1516239022})
    pyjwt_readme = _jwt({"some": "payload"})
    real = _jwt({"sub": rand(12), "org": "acme", "iat": 1764100000})
    text_ = f"Send it:\n\n    Authorization: Bearer {doc}\n    >>> {pyjwt_readme}\nTOKEN = '{real}'\n"
    findings = scan(text_, "docs/README.md")
    assert [(f.rule_id, f.line) for f in findings] == [("secrets/jwt", 5)]


def test_an_aws_key_id_shape_inside_a_base64_blob_is_not_a_finding():
    blob = base64.b64encode(RNG.randbytes(600)).decode()
    key_id = "AKIA" + pick(16, string.ascii_uppercase + "234567")
    inside = blob[:300] + "y" + key_id + "Q" + blob[300:]
    findings = scan(f'module.exports = "{inside}";\nconst id = "{key_id}";\n', "lib/wasm.js")
    assert [(f.rule_id, f.line) for f in findings if f.severity.at_least(Severity.MEDIUM)] == [
        ("secrets/aws-access-key-id", 2)
    ]


# --- redaction: the fingerprint must not give a short secret away ------------------------------------------


def test_a_short_secret_fingerprint_cannot_be_checked_with_a_fast_hash():
    password = "Q7" + pick(8, ALNUM)  # 10 characters: 6 unknown after the 4 shown, ~36 bits
    findings = scan(f'db_password = "{password}"\n')
    assert [f.rule_id for f in findings] == ["secrets/secret-keyword"]
    f = findings[0]
    assert f.metadata["redacted"] == redact(password) == f"{password[:2]}…(10 chars)"
    # an attacker's guess-checker: the published formula on the value
    assert f.fingerprint != make_fingerprint(f.rule_id, f.path, password)
    assert f.fingerprint != hashlib.sha256(password.encode()).hexdigest()[:16]
    # still stable (no line number, no random salt) so waivers keep working
    moved = scan(f'import os\n\n\ndb_password = "{password}"\n')
    assert moved[0].fingerprint == f.fingerprint == secret_fingerprint(f.rule_id, f.path, password)


def test_long_key_fingerprints_stay_the_documented_fast_hash():
    key = ghp()
    assert secret_fingerprint("secrets/github-token", "a.py", key) == make_fingerprint(
        "secrets/github-token", "a.py", key
    )


# --- text output: file names are data, not terminal commands -----------------------------------------------


def test_control_characters_in_a_file_name_are_shown_escaped():
    path = "evil\x1b[2K\x1b[1A\rclean.py\n  fake.py:1  info"
    finding = Finding(
        check="secrets",
        rule_id="secrets/github-token",
        severity=Severity.HIGH,
        path=path,
        line=1,
        title="GitHub token",
        message=f"GitHub token ghp_…(40 chars) added in {path} at line 1.",
        fingerprint="0" * 16,
    )
    report = ScanReport(
        root="/r", base="b" * 40, head="worktree", results=[], fail_on={"secrets": Severity.HIGH}
    )
    from checks.engine import CheckResult

    report.results = [CheckResult(check="secrets", title="Secrets", findings=[finding])]
    out = text.render(report)
    assert "\x1b" not in out and "\r" not in out
    assert "evil\\u001b[2K\\u001b[1A\\u000dclean.py\\u000a  fake.py:1  info:1" in out
    assert not any(line.startswith("  fake.py") for line in out.splitlines())


def test_scan_bytes_line_numbers_with_crlf_and_invalid_utf8():
    key = ghp()
    data = b"a = 1\r\n\xff\xfe bad\r\n" + f'T = "{key}"\r\n'.encode()
    hits = scan_bytes("a.py", data, LineSet.whole(3)).hits
    assert [(h.rule_id, h.line) for h in hits] == [("secrets/github-token", 3)]
    result = run_check(SecretsCheck(), Change("b", "h", [changed("a.py", data.decode("latin-1"))]))
    assert [f.line for f in result.findings] == [3]


def test_a_file_name_that_is_not_utf8_is_scanned_in_every_format(tmp_path, capsysbinary):
    from bot.cli.main import main
    from tests.test_formats import validate_sarif

    key = ghp()
    repo = GitRepo.on_feature_branch(tmp_path / "repo", {"README.md": "hello\n"})
    (repo.path / os.fsdecode(b"bad\xffname.py")).write_text(f'T = "{key}"\n')
    for fmt in ("json", "text", "sarif"):
        code = main(["scan", str(repo.path), "--format", fmt])
        out_bytes, err_bytes = capsysbinary.readouterr()
        out, err = out_bytes.decode("utf-8", "surrogateescape"), err_bytes.decode("utf-8", "surrogateescape")
        assert code == 1, err
        assert key not in out + err
        if fmt == "json":
            assert [f["rule_id"] for f in json.loads(out)["findings"]] == ["secrets/github-token"]
        if fmt == "sarif":
            doc = json.loads(out)
            validate_sarif(doc)
            location = doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
            assert location["artifactLocation"]["uri"] == "bad%FFname.py"


def test_a_shallow_clone_without_merge_base_names_the_refs_and_the_cause(tmp_path, capsys):
    from bot.cli.main import main

    upstream = GitRepo.init(tmp_path / "upstream")
    for i in range(3):
        upstream.commit({f"f{i}.txt": f"{i}\n"}, f"c{i}")
    upstream.branch("feature")
    upstream.commit({"feature.txt": "x\n"}, "feature")
    upstream.switch("main")
    upstream.commit({"main.txt": "y\n"}, "main moves on")
    clone = GitRepo(tmp_path / "clone")
    proc = upstream.run_git(
        "clone", "--quiet", "--depth", "1", "--no-single-branch", upstream.path.as_uri(), str(clone.path)
    )
    assert proc.returncode == 0, proc.stderr
    clone.switch("feature")

    code = main(["scan", str(clone.path), "--base", "origin/main"])
    _, err = capsys.readouterr()
    assert code == 2
    assert err == (
        "prguard: HEAD and origin/main have no common ancestor "
        "(this is a shallow clone: fetch more history; or pass --base REF)\n"
    )


def test_symlinks_are_listed_as_skipped_and_their_target_never_read(tmp_path, capsys):
    from bot.cli.main import main

    key = ghp()
    outside = tmp_path / "outside.py"
    outside.write_text(f'T = "{key}"\n')
    repo = GitRepo.on_feature_branch(tmp_path / "repo", {"README.md": "hello\n"})
    repo.symlink("committed-link.py", str(outside))
    repo.commit(message="link")
    repo.symlink("untracked-dir", str(tmp_path))

    code = main(["scan", str(repo.path), "--format", "json"])
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert code == 0, err
    assert doc["findings"] == []
    assert doc["skipped"] == [
        {"path": "committed-link.py", "reason": "symbolic link (its target is not followed)"},
        {"path": "untracked-dir", "reason": "symbolic link (its target is not followed)"},
    ]


def test_a_file_full_of_keyword_findings_lists_a_bounded_number_and_says_so(monkeypatch):
    import checks.secrets.check as check_module
    import checks.secrets.fingerprint as fingerprint_module

    monkeypatch.setattr(fingerprint_module, "FINGERPRINT_ROUNDS", 10)  # the cap is under test, not the hash
    fingerprint_module._slow_digest.cache_clear()
    passwords = "".join(f'password_{i} = "{pick(3, ALNUM)}9{pick(4, ALNUM)}"\n' for i in range(260))
    key = ghp()
    result = run_check(
        SecretsCheck(), Change("b", "h", [changed("users.py", passwords + f'TOKEN = "{key}"\n')])
    )
    assert result.error is None
    rules = [f.rule_id for f in result.findings]
    assert rules.count("secrets/secret-keyword") == check_module.MAX_GUESSES_PER_FILE
    assert rules.count("secrets/github-token") == 1  # format-exact findings are never capped
    [note] = [s.reason for s in result.skipped if s.path == "users.py"]
    counted = re.fullmatch(r"partly reported: (\d+) keyword/entropy findings, only the first 200 .*", note)
    assert counted and 200 < int(counted.group(1)) <= 260, note  # a random value may look like a filler
    fingerprint_module._slow_digest.cache_clear()


def test_a_file_moved_but_not_yet_staged_is_a_rename_not_a_new_file(tmp_path):
    key = ghp()
    repo = _repo_with_secret(tmp_path, key)
    (repo.path / "app/settings.py").rename(repo.path / "app/config.py")  # plain `mv`, no `git add`
    change = change_from_git(repo.path, "main")
    files = {f.path: f for f in change.files}
    assert set(files) == {"app/config.py"}
    assert files["app/config.py"].status.value == "renamed"
    assert files["app/config.py"].old_path == "app/settings.py"
    assert not files["app/config.py"].added_lines
    assert _found(repo) == []


def test_a_file_removed_from_the_index_but_kept_reports_only_its_new_secrets(tmp_path):
    key, new = ghp(), ghp()
    repo = _repo_with_secret(tmp_path, key)
    repo.git("rm", "--quiet", "--cached", "app/settings.py")
    with (repo.path / "app/settings.py").open("a") as fh:
        fh.write(f'NEW = "{new}"\n')
    assert _found(repo) == [("app/settings.py", 23)]


def _merging_main_into_feature(tmp_path) -> tuple[GitRepo, str]:
    """A feature branch merging main (with --no-commit) after main gained a file holding a secret."""
    old = ghp()
    repo = GitRepo.on_feature_branch(tmp_path / "repo", {"README.md": "hello\n", "shared.py": "a = 1\n"})
    repo.commit({"feature.py": "f = 1\n"}, "feature work")
    repo.switch("main")
    repo.commit({"leaked_on_main.py": f'T = "{old}"\n', "shared.py": f'a = 1\nT = "{old}"\n'}, "main")
    repo.switch("feature")
    repo.git("merge", "--quiet", "--no-commit", "--no-ff", "main")
    return repo, old


def test_a_merge_in_progress_does_not_report_what_the_other_branch_brings(tmp_path):
    repo, _ = _merging_main_into_feature(tmp_path)
    for staged in (True, False):  # the pre-commit hook on the merge commit, and a plain scan
        result = run_check(SecretsCheck(), change_from_git(repo.path, staged=staged))
        assert result.error is None
        assert result.findings == [], staged


def test_a_secret_added_while_resolving_a_merge_is_reported(tmp_path):
    repo, _ = _merging_main_into_feature(tmp_path)
    new = ghp()
    with (repo.path / "shared.py").open("a") as fh:
        fh.write(f'NEW = "{new}"\n')
    repo.add("shared.py")
    for staged in (True, False):
        result = run_check(SecretsCheck(), change_from_git(repo.path, staged=staged))
        assert [(f.path, f.line) for f in result.findings] == [("shared.py", 3)], staged
