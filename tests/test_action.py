"""The composite GitHub Action (action.yml): audited by zizmor, and its steps run locally.

zizmor (a test dependency) audits the action offline with its most thorough persona and no configuration or
ignore comments: it must find nothing. A copy with one input interpolated into a `run:` script must be
flagged, so a zizmor that audits nothing cannot pass the first test.

The local run does what the runner does with a composite action, minus the network: it parses action.yml
with PyYAML, evaluates the small part of GitHub's expression language the action uses (context paths,
string literals, `||`, `&&`, `==`, `!=`, `always()`, `success()`), and runs each `run:` step as the runner
does (`bash --noprofile --norc -eo pipefail FILE`, a fresh GITHUB_OUTPUT file per step, GITHUB_* and RUNNER_*
variables of a pull_request event) in a real repository holding a PR's merge commit, as actions/checkout with
`fetch-depth: 0` leaves it. `uses:` steps (setup-python, the SARIF upload) cannot run here: their conditions
are evaluated and recorded instead. The install step pip-installs this checkout (a copy) into a virtualenv
once per module (~40 s here); the later runs reuse it, as a second use of the action in one job does.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.gitrepo import GitRepo
from tests.secrets_keys import TOKEN, rand, seed_note
from tests.test_devcontainer_feature import copy_checkout
from tests.test_formats import validate_sarif

PROJECT = Path(__file__).resolve().parents[1]
ACTION = PROJECT / "action.yml"
#: Seconds one step may take: the install step pip-installs ~430 MB (about 40 s measured here).
STEP_DEADLINE = 240
#: Seconds zizmor may take on one file (well under one here).
ZIZMOR_DEADLINE = 120
SHA = re.compile(r"^[0-9a-f]{40}$")


def load_action(path: Path = ACTION) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# --- static checks ------------------------------------------------------------------------------------------


def zizmor(*args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("zizmor")
    assert exe.exists() or shutil.which("zizmor"), "zizmor is missing: pip install -e '.[test]'"
    try:
        return subprocess.run(
            [str(exe) if exe.exists() else "zizmor", *args],
            capture_output=True,
            text=True,
            timeout=ZIZMOR_DEADLINE,
            env={**os.environ, "NO_COLOR": "1"},
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"zizmor did not finish within {ZIZMOR_DEADLINE} s") from exc


def audit(path: Path) -> list[dict[str, Any]]:
    """zizmor's findings on `path`: offline, the auditor persona (everything, pedantic findings included),
    no configuration file and no ignore comments honoured."""
    proc = zizmor(
        "--offline", "--no-config", "--no-ignores", "--persona", "auditor", "--format", "json", str(path)
    )
    assert proc.returncode in (0, 10, 11, 12, 13, 14), proc.stderr  # 1x: findings; anything else: no audit
    return json.loads(proc.stdout)


def test_zizmor_finds_nothing_in_the_action() -> None:
    findings = audit(ACTION)
    assert findings == [], [(f["ident"], f["determinations"]["severity"], f["desc"]) for f in findings]


def test_zizmor_would_flag_an_input_interpolated_into_a_script(tmp_path: Path) -> None:
    text = ACTION.read_text(encoding="utf-8")
    marker = '        sarif=${PRGUARD_SARIF:-$RUNNER_TEMP/prguard.sarif}\n'
    assert marker in text
    bad = tmp_path / "action.yml"
    bad.write_text(text.replace(marker, marker + '        echo "${{ inputs.base }}"\n'), encoding="utf-8")
    assert "template-injection" in {f["ident"] for f in audit(bad)}


def test_action_pins_actions_and_keeps_expressions_out_of_scripts() -> None:
    action = load_action()
    steps = action["runs"]["steps"]
    assert action["runs"]["using"] == "composite"
    for step in steps:
        if "uses" in step:
            ref = step["uses"].rsplit("@", 1)[1]
            assert SHA.match(ref), f"{step['uses']} is not pinned to a full commit SHA"
        else:
            assert "${{" not in step["run"], f"{step['name']}: an expression inside run: (template injection)"
            assert step["shell"] == "bash"
    upload = next(s for s in steps if "upload-sarif" in s.get("uses", ""))
    assert upload["uses"].startswith("github/codeql-action/upload-sarif@")
    assert "always()" in upload["if"] and "inputs.upload-sarif == 'true'" in upload["if"]
    assert action["inputs"]["upload-sarif"]["default"] == "false"
    assert "github.event.pull_request.base.sha" in action["inputs"]["base"]["default"]


# --- a local runner for the composite action ----------------------------------------------------------------


class Expressions:
    """GitHub's expression language, the part action.yml uses. Anything else raises, so a new construct in
    action.yml makes this test fail until the runner here understands it."""

    TOKENS = re.compile(r"\s*(\|\||&&|==|!=|\(\)|'(?:[^']|'')*'|[A-Za-z_][\w.-]*)")

    def __init__(self, contexts: Mapping[str, Any], failed: bool = False) -> None:
        self.contexts = contexts
        self.failed = failed

    def interpolate(self, text: str) -> str:
        return re.sub(r"\$\{\{(.*?)\}\}", lambda m: self.value(m.group(1)), text)

    def condition(self, text: str) -> bool:
        """A step's `if:`; without a status function it is `success() && (…)`, as on the runner."""
        expr = text.strip()
        if expr.startswith("${{"):
            expr = expr[3:-2]
        truthy = self._truthy(self._eval(expr))
        if not re.search(r"\b(always|success|failure|cancelled)\(\)", expr):
            return truthy and not self.failed
        return truthy

    def value(self, expr: str) -> str:
        result = self._eval(expr)
        return "" if result is None else str(result)

    def _eval(self, expr: str) -> Any:
        tokens = self._tokenize(expr)
        result, rest = self._or(tokens)
        if rest:
            raise ValueError(f"cannot evaluate {expr!r}: {rest!r} left over")
        return result

    def _tokenize(self, expr: str) -> list[str]:
        tokens, pos = [], 0
        while expr[pos:].strip():
            match = self.TOKENS.match(expr, pos)
            if not match:
                raise ValueError(f"cannot evaluate {expr!r} at {expr[pos:]!r}")
            tokens.append(match.group(1))
            pos = match.end()
        return tokens

    @staticmethod
    def _truthy(value: Any) -> bool:
        return value not in (None, "", False, 0)

    def _or(self, tokens: list[str]) -> tuple[Any, list[str]]:
        left, tokens = self._and(tokens)
        while tokens[:1] == ["||"]:
            right, tokens = self._and(tokens[1:])
            left = left if self._truthy(left) else right
        return left, tokens

    def _and(self, tokens: list[str]) -> tuple[Any, list[str]]:
        left, tokens = self._compare(tokens)
        while tokens[:1] == ["&&"]:
            right, tokens = self._compare(tokens[1:])
            left = right if self._truthy(left) else left
        return left, tokens

    def _compare(self, tokens: list[str]) -> tuple[Any, list[str]]:
        left, tokens = self._atom(tokens)
        if tokens[:1] in (["=="], ["!="]):
            op, (right, tokens) = tokens[0], self._atom(tokens[1:])
            # GitHub compares strings ignoring case
            equal = str(left or "").lower() == str(right or "").lower()
            return equal if op == "==" else not equal, tokens
        return left, tokens

    def _atom(self, tokens: list[str]) -> tuple[Any, list[str]]:
        if not tokens:
            raise ValueError("an expression ended early")
        token, rest = tokens[0], tokens[1:]
        if token.startswith("'"):
            return token[1:-1].replace("''", "'"), rest
        if rest[:1] == ["()"]:
            status = {"always": True, "success": not self.failed, "failure": self.failed, "cancelled": False}
            if token not in status:
                raise ValueError(f"unknown function {token}()")
            return status[token], rest[1:]
        head, *path = token.split(".")
        if head not in self.contexts:
            raise ValueError(f"unknown context {head!r} in {token!r}")
        value: Any = self.contexts[head]
        for part in path:
            value = value.get(part) if isinstance(value, Mapping) else None
        return value, rest


def read_outputs(path: Path) -> dict[str, str]:
    """A step's GITHUB_OUTPUT file: `name=value` lines and `name<<DELIMITER` blocks."""
    outputs: dict[str, str] = {}
    lines = iter(path.read_text(encoding="utf-8").splitlines()) if path.exists() else iter(())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = []
            for inner in lines:
                if inner == delimiter:
                    break
                body.append(inner)
            outputs[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs


@dataclass
class StepRun:
    id: str
    name: str
    status: str  # success, failure, or skipped
    code: int = 0
    output: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    #: For a `uses:` step: whether its `if:` held (the runner would have run it).
    would_run: bool = False


@dataclass
class ActionRun:
    steps: list[StepRun]
    outputs: dict[str, str]
    summary: str

    def step(self, id_or_name: str) -> StepRun:
        return next(s for s in self.steps if id_or_name in (s.id, s.name))

    @property
    def failed_with(self) -> int:
        """The exit status the job fails with (0 when every step succeeded)."""
        return next((s.code for s in self.steps if s.status == "failure"), 0)

    @property
    def log(self) -> str:
        return "\n".join(s.output for s in self.steps)


def run_action(
    *,
    workspace: Path,
    action_path: Path,
    runner_temp: Path,
    github: dict[str, Any],
    inputs: Mapping[str, str] | None = None,
) -> ActionRun:
    """Run action.yml's steps as the runner runs a composite action in a job (network steps recorded only)."""
    action = load_action(action_path / "action.yml")
    event_path = runner_temp / "event.json"
    event_path.write_text(json.dumps(github["event"]), encoding="utf-8")
    summary = runner_temp / "step_summary.md"
    summary.write_text("", encoding="utf-8")
    for name in ("env", "path"):
        (runner_temp / name).write_text("", encoding="utf-8")
    drop = ("GITHUB_", "RUNNER_", "GIT_", "VIRTUAL_ENV", "PYTHONPATH")
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    base_env.update(
        CI="true",
        GITHUB_ACTIONS="true",
        GITHUB_EVENT_NAME=github["event_name"],
        GITHUB_EVENT_PATH=str(event_path),
        GITHUB_SHA=github["sha"],
        GITHUB_REF=github["ref"],
        GITHUB_WORKSPACE=str(workspace),
        GITHUB_ACTION_PATH=str(action_path),
        GITHUB_STEP_SUMMARY=str(summary),
        GITHUB_ENV=str(runner_temp / "env"),
        GITHUB_PATH=str(runner_temp / "path"),
        RUNNER_TEMP=str(runner_temp),
        RUNNER_OS="Linux",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
    )
    contexts: dict[str, Any] = {"github": github, "inputs": {}, "steps": {}}
    given = dict(inputs or {})
    for name, spec in action.get("inputs", {}).items():
        default = Expressions(contexts).interpolate(str(spec.get("default", "")))
        contexts["inputs"][name] = given.pop(name, default)
    assert not given, f"inputs the action does not declare: {sorted(given)}"

    runs: list[StepRun] = []
    failed = False
    for index, step in enumerate(action["runs"]["steps"]):
        expressions = Expressions(contexts, failed)
        run = StepRun(id=step.get("id", f"step{index}"), name=step["name"], status="skipped")
        runs.append(run)
        if not expressions.condition(step.get("if", "success()")):
            continue
        if "uses" in step:
            run.would_run = True  # a network action: recorded, not run
            continue
        assert step["shell"] == "bash"
        script = runner_temp / f"step{index}.sh"
        script.write_text(step["run"], encoding="utf-8")
        output_file = runner_temp / f"output{index}"
        output_file.write_text("", encoding="utf-8")
        env = {**base_env, "GITHUB_OUTPUT": str(output_file)}
        env.update({k: expressions.interpolate(str(v)) for k, v in (step.get("env") or {}).items()})
        try:
            proc = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                cwd=workspace / step.get("working-directory", "."),
                env=env,
                capture_output=True,
                text=True,
                timeout=STEP_DEADLINE,
            )
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"step {step['name']!r} did not finish within {STEP_DEADLINE} s") from exc
        run.code, run.output = proc.returncode, proc.stdout + proc.stderr
        run.outputs = read_outputs(output_file)
        run.status = "success" if proc.returncode == 0 else "failure"
        failed = failed or proc.returncode != 0
        if "id" in step:
            contexts["steps"][step["id"]] = {"outputs": run.outputs, "outcome": run.status}
    final = Expressions(contexts, failed)
    outputs = {name: final.interpolate(str(out["value"])) for name, out in action.get("outputs", {}).items()}
    return ActionRun(runs, outputs, summary.read_text(encoding="utf-8"))


def test_the_expression_subset_behaves_as_on_github() -> None:
    contexts = {"inputs": {"a": "", "b": "x", "flag": "TRUE"}, "github": {"event": {}}, "steps": {}}
    ok, failed = Expressions(contexts), Expressions(contexts, failed=True)
    assert ok.value("inputs.a || inputs.b") == "x"
    assert ok.value("github.event.pull_request.base.sha || github.event.before") == ""
    assert ok.condition("inputs.flag == 'true'") and not failed.condition("inputs.flag == 'true'")
    assert failed.condition("always() && inputs.b != ''")
    assert not failed.condition("always() && inputs.a != ''")
    assert ok.interpolate("v=${{ inputs.b }}.") == "v=x."
    with pytest.raises(ValueError):
        ok.value("fromJSON(inputs.b)")
    with pytest.raises(ValueError):
        ok.value("secrets.TOKEN")


# --- the action, run ---------------------------------------------------------------------------------------


@dataclass
class Runner:
    action_path: Path
    temp: Path


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Runner:
    """The action's checkout (a copy of this one: pip builds in it) and one RUNNER_TEMP for the module, so
    the virtualenv the first run installs is reused by the others."""
    root = tmp_path_factory.mktemp("action")
    temp = root / "runner-temp"
    temp.mkdir()
    return Runner(copy_checkout(root / "action"), temp)


@dataclass
class PullRequest:
    repo: GitRepo
    base: str
    head: str
    merge: str

    def github(self) -> dict[str, Any]:
        """The `github` context of a pull_request event on the PR's merge commit."""
        event = {
            "action": "synchronize",
            "number": 7,
            "pull_request": {
                "number": 7,
                "base": {"ref": "main", "sha": self.base},
                "head": {"ref": "feature", "sha": self.head},
            },
        }
        return {
            "event_name": "pull_request",
            "event": event,
            "sha": self.merge,
            "ref": "refs/pull/7/merge",
            "workspace": str(self.repo.path),
        }


def pull_request(path: Path, files: Mapping[str, str]) -> PullRequest:
    """A repository as actions/checkout (fetch-depth: 0) leaves it for a pull_request event: main, the PR's
    branch, and GitHub's merge commit of the two checked out (detached)."""
    repo = GitRepo.init(path)
    repo.commit({"README.md": "hello\n"}, "initial")
    base = repo.head()
    repo.branch("feature")
    head = repo.commit(files, "the pull request")
    repo.git("switch", "--quiet", "--detach", base)
    repo.git("merge", "--quiet", "--no-ff", "--no-edit", "-m", f"Merge {head} into {base}", head)
    return PullRequest(repo, base, head, repo.head())


def act(runner: Runner, pr: PullRequest, **inputs: str) -> ActionRun:
    started = time.monotonic()
    result = run_action(
        workspace=pr.repo.path,
        action_path=runner.action_path,
        runner_temp=runner.temp,
        github=pr.github(),
        inputs=inputs,
    )
    steps = [(s.name, s.status) for s in result.steps]
    print(f"the action ran in {time.monotonic() - started:.1f} s: {steps}")
    return result


def sarif_of(result: ActionRun) -> dict[str, Any]:
    path = Path(result.outputs["sarif-file"])
    assert path.is_file(), result.log
    doc = json.loads(path.read_text(encoding="utf-8"))
    validate_sarif(doc)
    return doc


@pytest.mark.timeout(STEP_DEADLINE + 60)
def test_a_planted_key_fails_the_job_with_sarif_and_the_upload_still_runs(
    runner: Runner, tmp_path: Path
) -> None:
    key = f"sk-proj-{rand(74, TOKEN)}T3BlbkFJ{rand(74, TOKEN)}"
    pr = pull_request(tmp_path / "workspace", {"app.py": f'client = OpenAI(api_key="{key}")\n'})

    result = act(runner, pr, **{"upload-sarif": "true"})

    assert result.step("install").status == "success", result.log
    assert result.failed_with == 1, f"{seed_note()}\n{result.log}"
    assert result.outputs["exit-code"] == "1"
    doc = sarif_of(result)
    rules = [r["ruleId"] for r in doc["runs"][0]["results"]]
    assert rules == ["secrets/openai-project-key"], seed_note()
    assert key not in json.dumps(doc) and key not in result.log
    # One log line per finding, printed with workflow commands off.
    scan_log = result.step("scan").output
    token = re.search(r"^::stop-commands::(\w+)$", scan_log, re.M)
    assert token and f"::{token.group(1)}::" in scan_log
    assert "app.py:1: error secrets/openai-project-key" in scan_log
    assert "Blocking findings" in result.summary
    assert "1 result(s) in the SARIF report.\n- `secrets/openai-project-key`: 1" in result.summary
    # The upload follows a failed scan (always()), because upload-sarif is true and the report exists.
    assert result.step("Upload the SARIF report to code scanning").would_run
    assert not result.step("Set up Python for prguard").would_run  # python-version is empty by default


@pytest.mark.timeout(STEP_DEADLINE + 60)
def test_a_clean_range_passes_with_an_empty_report(runner: Runner, tmp_path: Path) -> None:
    clean = 'client = OpenAI(api_key=os.environ["OPENAI_API_KEY"])\n'
    pr = pull_request(tmp_path / "workspace", {"app.py": clean})

    result = act(runner, pr)

    assert result.failed_with == 0, result.log
    assert result.outputs["exit-code"] == "0"
    assert sarif_of(result)["runs"][0]["results"] == []
    assert "No blocking findings." in result.summary and "0 result(s)" in result.summary
    assert not result.step("Upload the SARIF report to code scanning").would_run  # upload-sarif is false


@pytest.mark.timeout(STEP_DEADLINE + 60)
def test_a_shallow_clone_or_a_missing_base_is_an_error_not_a_pass(runner: Runner, tmp_path: Path) -> None:
    pr = pull_request(tmp_path / "workspace", {"app.py": "print(1)\n"})
    shallow = tmp_path / "shallow"
    clone = ["git", "-c", "advice.detachedHead=false", "clone", "--quiet", "--depth", "1"]
    subprocess.run(
        [*clone, f"file://{pr.repo.path}", str(shallow)],
        check=True,
        timeout=60,
        env={**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"},
    )
    shallow_pr = PullRequest(GitRepo(shallow), pr.base, pr.head, GitRepo(shallow).head())

    result = act(runner, shallow_pr, **{"upload-sarif": "true"})
    assert result.failed_with == 2 and result.outputs["exit-code"] == "2"
    assert "the clone is shallow: check out with actions/checkout's fetch-depth: 0" in result.log
    assert result.outputs["sarif-file"] == ""
    assert not result.step("Upload the SARIF report to code scanning").would_run  # no report to upload

    missing = act(runner, pr, base="0123456789abcdef0123456789abcdef01234567")
    assert missing.failed_with == 2
    assert "is not in the clone: check out with actions/checkout's fetch-depth: 0" in missing.log

    created = act(runner, pr, base="0" * 40)  # a push that created its branch has no "before"
    assert created.failed_with == 2
    assert "no base commit: on this event set the action's base input" in created.log
