"""The prguard dev container feature (devcontainer/src/prguard), run for real.

`install.sh` runs as the dev container tooling runs it (options as upper-cased environment variables,
`_REMOTE_USER` / `_REMOTE_USER_HOME` set, the feature's folder as the working directory) in an environment the
test makes: its own HOME, install prefix and link directory (the installPath and binDir options), so nothing
is written to /opt or /usr/local, and `source` = a copy of this checkout (a copy: pip builds in the source
tree, and other work goes on in this one). pip installs prguard and its dependencies for real (~430 MB,
50-60 s on the 2-core machine; the test's deadlines allow four times that). Then a real repository gets the
hooks from `prguard-install-hooks` (what the feature's postCreateCommand runs) and real `git commit` and
`git push` fire them.

devcontainer-feature.json is checked against the properties the Dev Container Features spec documents
(containers.dev/implementors/features); the checker is written here from the spec's tables and is itself
tested on broken documents, so a typo in the file cannot pass as valid.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.gitrepo import GitRepo
from tests.secrets_keys import TOKEN, rand, seed_note

PROJECT = Path(__file__).resolve().parents[1]
FEATURE = PROJECT / "devcontainer" / "src" / "prguard"
#: Seconds `install.sh` may take: pip installs ~430 MB of packages (50-60 s measured here; 9 s again).
INSTALL_DEADLINE = 240
#: Seconds a hook or the hook installer may take: one scan of a small repository (under a second measured).
HOOK_DEADLINE = 60

# --- the spec's fields (containers.dev/implementors/features, "devcontainer-feature.json properties") ------

LIFECYCLE_TYPES = (str, list, dict)
#: Every top-level property the spec documents, with the JSON types it allows.
SPEC_PROPERTIES: dict[str, tuple[type, ...]] = {
    "id": (str,),
    "version": (str,),
    "name": (str,),
    "description": (str,),
    "documentationURL": (str,),
    "licenseURL": (str,),
    "keywords": (list,),
    "options": (dict,),
    "containerEnv": (dict,),
    "privileged": (bool,),
    "init": (bool,),
    "capAdd": (list,),
    "securityOpt": (list,),
    "entrypoint": (str,),
    "customizations": (dict,),
    "dependsOn": (dict,),
    "installsAfter": (list,),
    "legacyIds": (list,),
    "deprecated": (bool,),
    "mounts": (list,),
    "onCreateCommand": LIFECYCLE_TYPES,
    "updateContentCommand": LIFECYCLE_TYPES,
    "postCreateCommand": LIFECYCLE_TYPES,
    "postStartCommand": LIFECYCLE_TYPES,
    "postAttachCommand": LIFECYCLE_TYPES,
}
#: "All properties are optional except for id, version, and name."
REQUIRED = ("id", "version", "name")
#: The properties of one option ("The options property").
OPTION_PROPERTIES: dict[str, tuple[type, ...]] = {
    "type": (str,),
    "proposals": (list,),
    "enum": (list,),
    "default": (str, bool),
    "description": (str,),
}
OPTION_TYPES = {"string": str, "boolean": bool}
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")


def option_env_name(option_id: str) -> str:
    """The environment variable an option reaches install.sh in (the spec's "Option Resolution")."""
    return re.sub(r"^[\d_]+", "_", re.sub(r"[^\w_]", "_", option_id)).upper()


def spec_problems(doc: Any, directory: str) -> list[str]:
    """What in a devcontainer-feature.json breaks the spec (empty when nothing does)."""
    if not isinstance(doc, dict):
        return ["the document is not a JSON object"]
    problems = [f"{key} is required" for key in REQUIRED if not doc.get(key)]
    for key, value in doc.items():
        if key not in SPEC_PROPERTIES:
            problems.append(f"{key} is not a property of devcontainer-feature.json")
        elif not isinstance(value, SPEC_PROPERTIES[key]):
            problems.append(f"{key} must be {' or '.join(t.__name__ for t in SPEC_PROPERTIES[key])}")
    if isinstance(doc.get("id"), str) and doc["id"] != directory:
        problems.append(f"id {doc['id']!r} must match its directory {directory!r}")
    if isinstance(doc.get("id"), str) and doc["id"] != doc["id"].lower():
        problems.append("id should be lowercase")
    if isinstance(doc.get("version"), str) and not SEMVER.match(doc["version"]):
        problems.append(f"version {doc['version']!r} is not a semantic version")
    for option_id, option in (doc.get("options") or {}).items():
        where = f"options.{option_id}"
        if not isinstance(option, dict):
            problems.append(f"{where} must be an object")
            continue
        for key, value in option.items():
            if key not in OPTION_PROPERTIES:
                problems.append(f"{where}.{key} is not a property of an option")
            elif not isinstance(value, OPTION_PROPERTIES[key]):
                problems.append(f"{where}.{key} has the wrong type")
        kind = OPTION_TYPES.get(option.get("type"))  # type: ignore[arg-type]
        if kind is None:
            problems.append(f"{where}.type must be string or boolean")
        elif "default" in option and type(option["default"]) is not kind:
            problems.append(f"{where}.default must be a {option['type']}")
        if "enum" in option and "proposals" in option:
            problems.append(f"{where}: give enum or proposals, not both")
        for key in ("enum", "proposals"):
            if not all(isinstance(v, str) for v in option.get(key, [])):
                problems.append(f"{where}.{key} must list strings")
        if "enum" in option and "default" in option and option["default"] not in option["enum"]:
            problems.append(f"{where}.default is not in its enum")
    for ref in doc.get("installsAfter") or []:
        if not isinstance(ref, str) or "@" in ref or ":" in ref.rsplit("/", 1)[-1]:
            problems.append(f"installsAfter {ref!r} must be a Feature id without a version or digest")
    for key in ("keywords", "capAdd", "securityOpt", "legacyIds"):
        if not all(isinstance(v, str) for v in doc.get(key) or []):
            problems.append(f"{key} must list strings")
    return problems


def load_feature() -> dict[str, Any]:
    return json.loads((FEATURE / "devcontainer-feature.json").read_text(encoding="utf-8"))


def test_feature_metadata_follows_the_spec() -> None:
    doc = load_feature()

    assert spec_problems(doc, FEATURE.name) == []
    # Every option reaches install.sh, under the name the spec's option resolution gives it.
    script = (FEATURE / "install.sh").read_text(encoding="utf-8")
    for option_id in doc["options"]:
        assert f"${{{option_env_name(option_id)}" in script, f"install.sh never reads option {option_id}"
    assert doc["options"]["installPath"]["default"] == "/opt/prguard"
    # The lifecycle hook runs a program install.sh links onto PATH.
    assert doc["postCreateCommand"] == "prguard-install-hooks"
    assert "for name in prguard prguard-install-hooks; do" in script
    # The editor starts `prguard lsp` through the generic LSP client the feature adds.
    vscode = doc["customizations"]["vscode"]
    assert vscode["extensions"] == ["zsol.vscode-glspc"]
    assert vscode["settings"]["glspc.server.command"] == "prguard"
    assert vscode["settings"]["glspc.server.commandArguments"] == ["lsp"]
    assert "python" in vscode["settings"]["glspc.server.languageId"]


def test_the_spec_check_rejects_broken_metadata() -> None:
    """The checker above must fail documents the spec rejects, or the test before proves nothing."""
    good = load_feature()
    without_version = {k: v for k, v in good.items() if k != "version"}
    assert spec_problems(without_version, "prguard") == ["version is required"]
    assert spec_problems({**good, "id": "PrGuard"}, "PrGuard") == ["id should be lowercase"]
    assert spec_problems(good, "other") == ["id 'prguard' must match its directory 'other'"]
    assert spec_problems({**good, "version": "1.0"}, "prguard") == ["version '1.0' is not a semantic version"]
    assert spec_problems({**good, "postInstall": "x"}, "prguard") == [
        "postInstall is not a property of devcontainer-feature.json"
    ]
    bad_options = {"hooks": {"type": "list", "default": "x"}, "on": {"type": "boolean", "default": "true"}}
    assert spec_problems({**good, "options": bad_options}, "prguard") == [
        "options.hooks.type must be string or boolean",
        "options.on.default must be a boolean",
    ]
    pinned = "ghcr.io/devcontainers/features/python:1"
    assert spec_problems({**good, "installsAfter": [pinned]}, "prguard") == [
        f"installsAfter {pinned!r} must be a Feature id without a version or digest"
    ]
    assert option_env_name("installPath") == "INSTALLPATH"
    assert option_env_name("9lives-x") == "_LIVES_X"


def test_scripts_are_posix_sh() -> None:
    """The spec runs install.sh directly (its shebang picks the shell); images without bash must work."""
    for name in ("install.sh", "install-hooks.sh"):
        script = FEATURE / name
        assert script.read_text(encoding="utf-8").startswith("#!/bin/sh\n"), name
        assert os.access(script, os.X_OK), f"{name} is not executable"
        dash = shutil.which("dash") or shutil.which("sh")
        assert dash
        proc = subprocess.run([dash, "-n", str(script)], capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, proc.stderr


# --- install.sh, for real ---------------------------------------------------------------------------------


def copy_checkout(dest: Path) -> Path:
    """This checkout's files (tracked and untracked, not ignored) copied to `dest`: pip may write there."""
    listed = subprocess.run(
        ["git", "-C", str(PROJECT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()
    for rel in filter(None, listed.split("\0")):
        src = PROJECT / rel
        if src.is_file() and not src.is_symlink():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


def feature_env(root: Path, **options: str) -> dict[str, str]:
    """The environment the dev container tooling gives install.sh, with the test's HOME and directories."""
    home = root / "home"
    home.mkdir(exist_ok=True)
    drop = ("GIT_", "PIP_CACHE_DIR", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    user = getpass.getuser()
    env.update(
        HOME=str(home),
        _REMOTE_USER=user,
        _REMOTE_USER_HOME=str(home),
        _CONTAINER_USER=user,
        _CONTAINER_USER_HOME=str(home),
        # every option, as the tooling exports defaults for the ones devcontainer.json leaves out
        SOURCE="prguard",
        VERSION="latest",
        HOOKS="pre-commit,pre-push",
        PYTHON="",
        INSTALLPATH=str(root / "opt" / "prguard"),
        BINDIR=str(root / "bin"),
    )
    env.update(options)
    return env


def run_install(env: dict[str, str], deadline: float = INSTALL_DEADLINE) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [str(FEATURE / "install.sh")],
            cwd=FEATURE,
            env=env,
            capture_output=True,
            text=True,
            timeout=deadline,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(
            f"install.sh did not finish within {deadline} s: {exc.stdout!r} {exc.stderr!r}"
        ) from None


@dataclass
class Installed:
    root: Path
    env: dict[str, str]
    prefix: Path
    bindir: Path
    seconds: float
    output: str


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The feature installed once for this module: pip's install is the slow part (50-60 s)."""
    root = tmp_path_factory.mktemp("feature")
    env = feature_env(root, SOURCE=str(copy_checkout(root / "src")))
    started = time.monotonic()
    proc = run_install(env)
    seconds = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout + proc.stderr
    print(f"install.sh took {seconds:.1f} s")
    return Installed(root, env, Path(env["INSTALLPATH"]), Path(env["BINDIR"]), seconds, proc.stdout)


def hook_env(installed: Installed) -> dict[str, str]:
    """What git (and so the hooks) run with: the test's HOME, no global or system git config."""
    return {"HOME": installed.env["HOME"]}


def install_hooks(installed: Installed, repo: GitRepo, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "HOME": installed.env["HOME"],
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    return subprocess.run(
        [str(installed.bindir / "prguard-install-hooks"), *args],
        cwd=repo.path,
        env=env,
        capture_output=True,
        text=True,
        timeout=HOOK_DEADLINE,
    )


def openai_line() -> tuple[str, str]:
    key = f"sk-proj-{rand(74, TOKEN)}T3BlbkFJ{rand(74, TOKEN)}"
    return key, f'client = OpenAI(api_key="{key}")\n'


@pytest.mark.timeout(INSTALL_DEADLINE + 60)
def test_install_makes_a_venv_and_links_prguard_onto_path(installed: Installed) -> None:
    prefix, bindir = installed.prefix, installed.bindir

    for name in ("prguard", "prguard-install-hooks"):
        link = bindir / name
        assert link.is_symlink() and link.resolve() == (prefix / "bin" / name).resolve()
    assert (prefix / "pyvenv.cfg").is_file()
    proc = subprocess.run(
        [str(bindir / "prguard"), "scan", "--help"], capture_output=True, text=True, timeout=HOOK_DEADLINE
    )
    assert proc.returncode == 0 and "--staged" in proc.stdout
    settings = (prefix / "feature.env").read_text()
    installer = (prefix / "bin" / "prguard-install-hooks").read_bytes()
    assert installer == (FEATURE / "install-hooks.sh").read_bytes()
    assert "PRGUARD_HOOKS='pre-commit pre-push'" in settings
    assert f"hooks for {installed.env['_REMOTE_USER']}: pre-commit pre-push" in installed.output
    assert installed.seconds < INSTALL_DEADLINE


@pytest.mark.timeout(INSTALL_DEADLINE + 60)
def test_pre_commit_hook_refuses_a_key_and_passes_a_clean_commit(
    installed: Installed, tmp_path: Path
) -> None:
    repo = GitRepo.init(tmp_path / "workspace")
    repo.commit({"README.md": "hello\n"}, "initial")
    proc = install_hooks(installed, repo)
    assert proc.returncode == 0, proc.stderr
    hooks = repo.path / ".git" / "hooks"
    assert os.access(hooks / "pre-commit", os.X_OK) and os.access(hooks / "pre-push", os.X_OK)

    key, line = openai_line()
    repo.write("app.py", line)
    repo.add()
    before = repo.head()
    started = time.monotonic()
    refused = repo.run_git("commit", "-m", "add the client", env=hook_env(installed))
    seconds = time.monotonic() - started
    output = (refused.stdout + refused.stderr).decode()

    assert refused.returncode != 0, f"the commit went through {seed_note()}\n{output}"
    assert repo.head() == before
    assert "secrets/openai-project-key" in output and "1 blocking" in output, output
    assert key not in output, "the hook printed the whole key"
    print(f"pre-commit hook refused the commit in {seconds:.2f} s")

    repo.write("app.py", 'client = OpenAI(api_key=os.environ["OPENAI_API_KEY"])\n')
    repo.add()
    passed = repo.run_git("commit", "-m", "add the client", env=hook_env(installed))
    assert passed.returncode == 0, (passed.stdout + passed.stderr).decode()
    assert repo.head() != before


@pytest.mark.timeout(INSTALL_DEADLINE + 60)
def test_pre_push_hook_refuses_a_key_committed_with_no_verify(installed: Installed, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "--quiet", "--bare", str(remote)], check=True, timeout=HOOK_DEADLINE)
    repo = GitRepo.init(tmp_path / "workspace")
    repo.commit({"README.md": "hello\n"}, "initial")
    repo.git("remote", "add", "origin", str(remote))
    assert install_hooks(installed, repo).returncode == 0
    pushed = repo.run_git("push", "--quiet", "origin", "main", env=hook_env(installed))
    assert pushed.returncode == 0, pushed.stderr.decode()

    # A key committed past the pre-commit hook, then deleted: the net change is clean, the history is not.
    key, line = openai_line()
    repo.commit({"app.py": line}, "add the client")  # GitRepo.commit uses --no-verify
    repo.commit({"app.py": "client = OpenAI()\n"}, "read the key from the environment")
    refused = repo.run_git("push", "origin", "main", env=hook_env(installed))
    output = (refused.stdout + refused.stderr).decode()

    assert refused.returncode != 0, f"the push went through {seed_note()}\n{output}"
    assert "secrets/openai-project-key" in output, output
    assert key not in output
    assert repo.git("ls-remote", str(remote), "refs/heads/main").split()[0] != repo.head()

    # A new branch with a clean commit is pushed.
    repo.branch("docs", "origin/main")
    repo.commit({"docs.md": "how to\n"}, "docs")
    clean = repo.run_git("push", "origin", "docs", env=hook_env(installed))
    assert clean.returncode == 0, (clean.stdout + clean.stderr).decode()


@pytest.mark.timeout(INSTALL_DEADLINE + 60)
def test_hook_installer_keeps_foreign_hooks_honours_hookspath_and_is_idempotent(
    installed: Installed, tmp_path: Path
) -> None:
    repo = GitRepo.init(tmp_path / "workspace")
    repo.commit({"README.md": "hello\n"}, "initial")
    repo.git("config", "core.hooksPath", ".githooks")
    own = repo.write(".githooks/pre-commit", "#!/bin/sh\necho mine\n")

    first = install_hooks(installed, repo)
    hooks = {p.name: p.read_text() for p in (repo.path / ".githooks").iterdir()}
    second = install_hooks(installed, repo)

    assert first.returncode == 0 and second.returncode == 0
    assert own.read_text() == "#!/bin/sh\necho mine\n"
    assert "is not prguard's: left alone" in first.stderr
    assert "prguard-install-hooks" in hooks["pre-push"]
    assert {p.name: p.read_text() for p in (repo.path / ".githooks").iterdir()} == hooks
    assert not (repo.path / ".git" / "hooks" / "pre-push").exists()

    outside = install_hooks(installed, repo, str(tmp_path))  # not a repository: a note, not a failure
    assert outside.returncode == 0 and "not a git repository" in outside.stderr


@pytest.mark.timeout(INSTALL_DEADLINE + 60)
def test_hook_installer_run_from_the_checkout_uses_the_prguard_on_path(
    installed: Installed, tmp_path: Path
) -> None:
    """Without the feature (the script run where it lies) the hooks call the prguard found on PATH."""
    repo = GitRepo.init(tmp_path / "workspace")
    repo.commit({"README.md": "hello\n"}, "initial")
    script = [str(FEATURE / "install-hooks.sh")]
    env = {**os.environ, "PATH": f"{installed.bindir}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(
        script, cwd=repo.path, env=env, capture_output=True, text=True, timeout=HOOK_DEADLINE
    )
    assert proc.returncode == 0, proc.stderr
    pre_push = (repo.path / ".git" / "hooks" / "pre-push").read_text()
    assert f"prguard='{installed.bindir / 'prguard'}'" in pre_push
    # --history when this prguard has it (`prguard scan --help` names it)
    help_text = subprocess.run(
        [str(installed.bindir / "prguard"), "scan", "--help"], capture_output=True, text=True, timeout=60
    ).stdout
    has_history = "--history" in help_text
    assert ("history=--history" in pre_push) == has_history

    no_prguard = {**os.environ, "PATH": "/usr/bin:/bin"}
    missing = subprocess.run(
        script, cwd=repo.path, env=no_prguard, capture_output=True, text=True, timeout=HOOK_DEADLINE
    )
    assert missing.returncode == 1 and "prguard is not installed" in missing.stderr


@pytest.mark.timeout(INSTALL_DEADLINE + 60)
def test_install_again_reuses_the_venv_and_drops_a_hook_no_longer_asked_for(
    installed: Installed, tmp_path: Path
) -> None:
    repo = GitRepo.init(tmp_path / "workspace")
    repo.commit({"README.md": "hello\n"}, "initial")
    assert install_hooks(installed, repo).returncode == 0
    python_before = (installed.prefix / "bin" / "python").resolve()

    started = time.monotonic()
    again = run_install({**installed.env, "HOOKS": "pre-commit"})
    seconds = time.monotonic() - started
    assert again.returncode == 0, again.stdout + again.stderr
    print(f"install.sh again took {seconds:.1f} s")
    assert "reusing the virtualenv" in again.stdout
    assert (installed.prefix / "bin" / "python").resolve() == python_before
    assert (installed.bindir / "prguard").resolve() == (installed.prefix / "bin" / "prguard").resolve()

    proc = install_hooks(installed, repo)
    assert proc.returncode == 0
    assert "removed prguard's pre-push hook" in proc.stderr
    assert (repo.path / ".git" / "hooks" / "pre-commit").exists()
    assert not (repo.path / ".git" / "hooks" / "pre-push").exists()
    # Put the module's installation back as the other tests expect it.
    assert run_install(installed.env).returncode == 0


# --- install.sh refuses clearly, before touching anything ------------------------------------------------


def test_install_fails_clearly_without_python_3_11(tmp_path: Path) -> None:
    # A PATH that has what install.sh needs before its Python check, and no Python at all.
    tools = tmp_path / "tools"
    tools.mkdir()
    for tool in ("dirname",):
        (tools / tool).symlink_to(shutil.which(tool) or f"/usr/bin/{tool}")
    proc = run_install({**feature_env(tmp_path), "PATH": str(tools)}, deadline=60)
    assert proc.returncode == 1
    assert "Python 3.11 or newer was not found on PATH" in proc.stderr
    assert "ghcr.io/devcontainers/features/python" in proc.stderr

    missing = run_install(feature_env(tmp_path, PYTHON=str(tmp_path / "no-python")), deadline=60)
    assert missing.returncode == 1 and "was not found; prguard needs Python 3.11 or newer" in missing.stderr

    old = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    older = sorted(old.glob("3.10*/bin/python3")) + sorted(old.glob("3.9*/bin/python3"))
    if older:  # a real older interpreter when the machine has one (pyenv here)
        proc = run_install(feature_env(tmp_path, PYTHON=str(older[0])), deadline=60)
        assert proc.returncode == 1 and "prguard needs Python 3.11 or newer" in proc.stderr
        assert re.search(r"is Python 3\.(9|10);", proc.stderr), proc.stderr
    assert not (tmp_path / "opt").exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"INSTALLPATH": "opt/prguard"}, "installPath must be an absolute directory"),
        ({"INSTALLPATH": "/"}, "installPath must be an absolute directory other than /"),
        ({"BINDIR": "bin"}, "binDir must be an absolute directory"),
        ({"HOOKS": "pre-commit,post-merge"}, "hooks: unknown hook 'post-merge'"),
        ({"SOURCE": "./nowhere"}, "does not exist"),
        ({"SOURCE": "prguard>=0.1", "VERSION": "0.2.0"}, "already pins a version"),
    ],
)
def test_install_refuses_bad_options(tmp_path: Path, options: dict[str, str], message: str) -> None:
    proc = run_install(feature_env(tmp_path, **options), deadline=60)
    assert proc.returncode == 1 and message in proc.stderr, proc.stderr
    assert not (tmp_path / "opt").exists() and not (tmp_path / "bin").exists()


def test_install_refuses_a_directory_it_did_not_make(tmp_path: Path) -> None:
    prefix = tmp_path / "opt" / "prguard"
    prefix.mkdir(parents=True)
    (prefix / "precious.txt").write_text("keep me\n")
    proc = run_install(feature_env(tmp_path), deadline=60)
    assert proc.returncode == 1 and "was not made by this feature" in proc.stderr
    assert (prefix / "precious.txt").read_text() == "keep me\n"
