"""`.github/prguard.yml`: defaults, every key, and errors that name the key and the line an admin must fix."""

from __future__ import annotations

import json
import time
from pathlib import Path

import jsonschema
import pytest

from checks.finding import Severity
from checks.policy import (
    MAX_POLICY_BYTES,
    POLICY_PATH,
    CheckPolicy,
    Policy,
    PolicyError,
    parse_policy,
    schema,
)
from checks.registry import check_names

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "checks" / "schemas" / "prguard.schema.json"


def error_of(text: str | bytes) -> PolicyError:
    with pytest.raises(PolicyError) as info:
        parse_policy(text)
    return info.value


# ------------------------------------------------------------------------------------------- defaults


@pytest.mark.parametrize("text", [None, "", "\n", "# nothing configured yet\n", "---\n"])
def test_absent_or_empty_policy_gives_defaults(text: str | None) -> None:
    policy = parse_policy(text)
    assert policy.fail_on is Severity.HIGH
    assert policy.ignore_paths == ()
    for name in check_names():
        assert policy.enabled(name)
        assert policy.fail_on_for(name) is Severity.HIGH
    assert not policy.ignores("src/app.py")
    assert not policy.ignores("vendor/lib.js")
    assert policy.from_file is (text is not None)


def test_default_policy_object_matches_parsed_defaults() -> None:
    assert parse_policy(None) == Policy()
    assert Policy().check("secrets") == CheckPolicy()


# ------------------------------------------------------------------------------------------- every key


def test_every_key() -> None:
    policy = parse_policy(
        """
fail_on: medium
ignore_paths:
  - "vendor/**"
  - "**/testdata/**"
checks:
  secrets:
    enabled: true
    fail_on: low
    ignore_paths: ["docs/examples/**"]
  dependencies:
    enabled: false
  iac: {fail_on: critical}
  prompt-safety: true
"""
    )
    assert policy.from_file
    assert policy.fail_on is Severity.MEDIUM
    assert policy.ignore_paths == ("vendor/**", "**/testdata/**")
    assert policy.enabled("secrets") and policy.fail_on_for("secrets") is Severity.LOW
    assert not policy.enabled("dependencies")
    assert policy.fail_on_for("dependencies") is Severity.MEDIUM  # inherits the top-level value
    assert policy.enabled("iac") and policy.fail_on_for("iac") is Severity.CRITICAL
    assert policy.enabled("prompt-safety") and policy.fail_on_for("prompt-safety") is Severity.MEDIUM
    # per-check globs add to the top-level ones, for that check only
    assert policy.ignores("docs/examples/key.txt", "secrets")
    assert not policy.ignores("docs/examples/key.txt", "iac")
    assert not policy.ignores("docs/examples/key.txt")
    assert policy.ignores("vendor/a.js", "secrets") and policy.ignores("vendor/a.js", "iac")


def test_shorthand_booleans_and_empty_check_entries() -> None:
    policy = parse_policy("checks:\n  iac: false\n  secrets: true\n  dependencies:\n")
    assert not policy.enabled("iac")
    assert policy.enabled("secrets")
    assert policy.enabled("dependencies")  # an empty entry keeps the defaults: never disables silently
    assert policy.check("iac") == CheckPolicy(enabled=False)


def test_flow_style_example_from_the_docs() -> None:
    policy = parse_policy(
        'fail_on: high\nignore_paths: ["vendor/**", "**/testdata/**"]\n'
        "checks:\n  secrets: { enabled: true, fail_on: medium }\n  iac: false\n"
    )
    assert policy.fail_on_for("secrets") is Severity.MEDIUM
    assert not policy.enabled("iac")
    assert policy.ignores("a/b/testdata/x.json")


def test_policy_is_immutable() -> None:
    policy = parse_policy("checks:\n  iac: false\n")
    with pytest.raises(AttributeError):
        policy.fail_on = Severity.INFO  # type: ignore[misc]
    with pytest.raises(TypeError):
        policy.checks["iac"] = CheckPolicy()  # type: ignore[index]


def test_bytes_with_bom_are_accepted_and_invalid_utf8_is_an_error() -> None:
    assert parse_policy("\ufefffail_on: low\n".encode()).fail_on is Severity.LOW
    err = error_of(b"fail_on: \xff\n")
    assert "not valid UTF-8" in err.message


# ---------------------------------------------------------------------------------------------- globs


def test_globs_are_gitignore_style() -> None:
    policy = parse_policy(
        'ignore_paths: ["vendor/**", "*.min.js", "!vendor/keep/**", "/build/", "docs/*.md"]\n'
    )
    assert policy.ignores("vendor/lib/x.py")
    assert not policy.ignores("vendor/keep/x.py")  # negation re-includes
    assert policy.ignores("static/js/app.min.js") and policy.ignores("app.min.js")  # no slash: any depth
    assert not policy.ignores("static/js/app.js")
    assert policy.ignores("build/out.txt")
    assert not policy.ignores("src/build/out.txt")  # leading slash anchors to the root
    assert policy.ignores("docs/a.md")
    assert not policy.ignores("docs/sub/a.md")  # `*` does not cross directories
    assert not policy.ignores("src/vendor.py")


def test_globs_are_not_regular_expressions() -> None:
    policy = parse_policy('ignore_paths: ["src/.*\\\\.py", "(a|b)+"]\n')
    assert not policy.ignores("src/app.py")
    assert not policy.ignores("aaaa")
    # a catastrophic-backtracking regex is just an odd literal glob: matching stays fast
    policy = parse_policy('ignore_paths: ["(a+)+$"]\n')
    started = time.perf_counter()
    assert not policy.ignores("a" * 5000 + "!")
    assert time.perf_counter() - started < 1


def test_per_check_negation_can_reinclude_for_that_check() -> None:
    policy = parse_policy(
        'ignore_paths: ["**/fixtures/**"]\nchecks:\n  secrets:\n    ignore_paths: ["!**/fixtures/live/**"]\n'
    )
    assert policy.ignores("tests/fixtures/live/key.pem", "iac")
    assert not policy.ignores("tests/fixtures/live/key.pem", "secrets")
    assert policy.ignores("tests/fixtures/old/key.pem", "secrets")


# --------------------------------------------------------------------------------------------- errors


def test_bad_severity_names_the_key_and_line() -> None:
    err = error_of("fail_on: high\nchecks:\n  secrets:\n    fail_on: hgh\n    enabled: true\n")
    assert err.line == 4
    assert err.message == "checks.secrets.fail_on: 'hgh' is not one of critical, high, medium, low, info"
    assert str(err) == (
        ".github/prguard.yml line 4: "
        "checks.secrets.fail_on: 'hgh' is not one of critical, high, medium, low, info"
    )


def test_top_level_severity_must_be_lowercase_name() -> None:
    err = error_of("# policy\n\nfail_on: High\n")
    assert err.line == 3
    assert "fail_on: 'High' is not one of critical" in str(err)


def test_unknown_top_level_key_names_it_and_its_line() -> None:
    err = error_of("fail_on: high\n\nfial_on: low\n")
    assert err.line == 3
    known = "_extends, checks, evidence, fail_on, fail_on_unscanned, ignore_paths, signoff, waivers"
    assert err.message == f"unknown key 'fial_on'; known keys: {known}"


def test_unknown_key_inside_a_check() -> None:
    err = error_of("checks:\n  secrets:\n    enabled: true\n    failon: low\n")
    assert err.line == 4
    assert err.message == "checks.secrets: unknown key 'failon'; known keys: enabled, fail_on, ignore_paths"


def test_unknown_check_lists_the_known_ones() -> None:
    err = error_of("checks:\n  secrets: true\n  secret-scanning: false\n")
    assert err.line == 3
    assert "unknown check 'secret-scanning'" in err.message
    assert f"known checks: {', '.join(check_names())}" in err.message


@pytest.mark.parametrize("key", ["commands"])
def test_future_keys_are_rejected_as_not_supported_yet(key: str) -> None:
    err = error_of(f"fail_on: high\n{key}:\n  teams: [ml-leads]\n")
    assert err.line == 2
    assert f"{key!r} is not supported yet" in err.message


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("checks:\n  iac: 'no'\n", 2, "checks.iac: expected true, false or a mapping"),
        ("checks:\n  iac:\n    enabled: maybe\n", 3, "checks.iac.enabled: expected true or false, got"),
        ("ignore_paths: vendor/**\n", 1, "ignore_paths: expected a list, got 'vendor/**'"),
        ("ignore_paths:\n  - ok/**\n  - 5\n", 3, "ignore_paths[1]: expected a string, got 5"),
        ("- fail_on\n", 1, "the policy: expected a mapping, got a list"),
        ("checks: [secrets]\n", 1, "checks: expected a mapping, got a list"),
    ],
)
def test_type_errors_are_explained_with_the_line(text: str, line: int, fragment: str) -> None:
    err = error_of(text)
    assert err.line == line
    assert fragment in err.message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "ignore_paths: [" + ",".join(["a"] * 501) + "]\n",
            "ignore_paths: 501 entries, at most 500 are allowed",
        ),
        ("ignore_paths: ['']\n", "ignore_paths[0]: must not be empty"),
        ("ignore_paths: ['" + "a" * 1001 + "']\n", "ignore_paths[0]: longer than 1000 characters"),
    ],
)
def test_limits_on_globs_are_explained_briefly(text: str, message: str) -> None:
    err = error_of(text)
    assert err.message == message
    assert err.line == 1


def test_every_problem_is_listed_in_line_order() -> None:
    err = error_of("fail_on: hgh\nchecks:\n  iac: 'no'\nextra: 1\n")
    assert [p.split(":")[0] for p in err.problems] == [
        f"{POLICY_PATH} line 1",
        f"{POLICY_PATH} line 3",
        f"{POLICY_PATH} line 4",
    ]
    assert err.line == 1


def test_duplicate_key_is_an_error_not_last_one_wins() -> None:
    err = error_of("fail_on: critical\nchecks:\n  iac: false\nfail_on: info\n")
    assert err.line == 4
    assert "fail_on: duplicate key (first on line 1)" in err.message


def test_yaml_boolean_keys_are_rejected() -> None:
    err = error_of("fail_on: high\non: push\n")  # YAML 1.1 reads `on` as true
    assert err.line == 2
    assert "'on' is not a plain name" in err.message


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("fail_on: high\nchecks:\n  secrets: {enabled: true\n", 4),
        ("fail_on: high\n  ignore_paths: [a]\n", 2),
        ("fail_on: high\nchecks:\n\tsecrets: true\n", 3),
        ("---\nfail_on: high\n---\nfail_on: low\n", 3),
    ],
)
def test_invalid_yaml_reports_the_line(text: str, line: int) -> None:
    err = error_of(text)
    assert err.message.startswith("invalid YAML")
    assert err.line == line


def test_unsafe_yaml_tags_are_refused() -> None:
    err = error_of("fail_on: !!python/object/apply:os.system ['touch /tmp/pwned']\n")
    assert err.line == 1
    assert "invalid YAML" in err.message


# --------------------------------------------------------------------------------- bounded resources


def test_huge_file_is_refused_before_parsing() -> None:
    text = "ignore_paths:\n" + '  - "a/**"\n' * (MAX_POLICY_BYTES // 10)
    started = time.perf_counter()
    err = error_of(text)
    assert time.perf_counter() - started < 0.5
    assert "policy too large" in err.message and str(MAX_POLICY_BYTES) in err.message
    assert err.line is None


def test_many_values_under_the_byte_cap_are_refused() -> None:
    text = "ignore_paths: [" + ",".join(["a"] * 12_000) + "]\n"
    assert len(text) < MAX_POLICY_BYTES
    err = error_of(text)
    assert "policy too large" in err.message


def test_alias_bomb_is_refused_quickly() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    started = time.perf_counter()
    err = error_of("\n".join(lines) + "\n")
    assert time.perf_counter() - started < 1
    assert "aliases are expanded" in err.message
    assert err.line is not None


def test_recursive_alias_is_refused() -> None:
    err = error_of("ignore_paths: &x [*x]\n")
    assert "refers to itself" in err.message
    assert err.line == 1


def test_too_many_aliases_are_refused() -> None:
    err = error_of("a: &a x\nb: [" + ",".join(["*a"] * 200) + "]\n")
    assert "aliases" in err.message
    assert err.line == 2


def test_deep_nesting_is_refused_without_recursion_error() -> None:
    err = error_of("[" * 5000 + "]" * 5000)
    assert "nested more than" in err.message


def test_small_anchors_and_aliases_still_work() -> None:
    policy = parse_policy(
        "ignore_paths: &vendored ['vendor/**', 'third_party/**']\n"
        "checks:\n  secrets:\n    ignore_paths: *vendored\n"
    )
    assert policy.check("secrets").ignore_paths == ("vendor/**", "third_party/**")


# --------------------------------------------------------------------------------------------- schema


def test_shipped_schema_is_valid_and_lists_exactly_the_registered_checks() -> None:
    data = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(data)
    jsonschema.Draft202012Validator.check_schema(schema())  # with every fragment merged in
    assert {k: v for k, v in schema()["properties"].items() if k in data["properties"]
            and k != "checks"} == {k: v for k, v in data["properties"].items() if k != "checks"}
    assert list(schema()["properties"]["checks"]["properties"]) == check_names()
    assert list(data["properties"]["checks"]["properties"]) == check_names()
    assert data["$defs"]["severity"]["enum"] == [s.value for s in Severity]


def test_docs_examples_are_valid_policies() -> None:
    """Every ```yaml block in docs/policy.md that is not marked as an error example must parse."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "policy.md").read_text()
    blocks = doc.split("```yaml\n")[1:]
    assert blocks, "docs/policy.md has no yaml examples"
    for block in blocks:
        body = block.split("```", 1)[0]
        if body.lstrip().startswith("# invalid"):
            with pytest.raises(PolicyError):
                parse_policy(body)
        else:
            parse_policy(body)
