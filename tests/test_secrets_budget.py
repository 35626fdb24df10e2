"""Issue 11 part 1: a PR's content must not set the CPU the secrets check spends on it.

Two costs used to grow with what a PR chose to contain: detect-secrets' generic detectors had a time budget
per *file* (ten keyword-heavy files cost ten budgets), and every short secret paid a ~10 ms PBKDF2 for its
fingerprint. Now the generic detectors share one budget per *change*, and short secrets are fingerprinted
with a keyed HMAC under an installation secret: cheap, and still not checkable by someone who guesses.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from pathlib import Path

import pytest

import checks.secrets.scanner as scanner_module
from checks.change import Change
from checks.engine import run_check
from checks.finding import make_fingerprint
from checks.secrets import SecretsCheck
from checks.secrets.fingerprint import derive_key, set_key
from tests.gitrepo import GitRepo
from tests.scanning import scan_json
from tests.secrets_keys import ALNUM, pick
from tests.secrets_keys import github_token as ghp
from tests.test_secrets import changed


def _weak_password() -> str:
    return "Q7" + pick(8, ALNUM)  # ~36 hidden bits after redaction: a weak secret


def test_with_an_installation_key_a_short_secret_is_fingerprinted_with_a_keyed_hash():
    password = _weak_password()
    content = f'db_password = "{password}"\n'
    set_key(derive_key("installation-one-webhook-secret"))
    [one] = run_check(SecretsCheck(), Change("b", "h", [changed("app.py", content)])).findings
    set_key(derive_key("installation-two-webhook-secret"))
    [two] = run_check(SecretsCheck(), Change("b", "h", [changed("app.py", content)])).findings
    set_key(derive_key("installation-one-webhook-secret"))
    [again] = run_check(SecretsCheck(), Change("b", "h", [changed("app.py", "\n\n" + content)])).findings
    # stable for one installation (moved lines included), different across installations
    assert one.fingerprint == again.fingerprint != two.fingerprint
    # the published formula on the bare value does not match, so a guess cannot be checked without the key
    assert one.fingerprint != make_fingerprint(one.rule_id, one.path, password)
    # an independent computation of the documented construction: HMAC-SHA256 of length-prefixed parts
    key = hmac.new(b"installation-one-webhook-secret", b"prguard fingerprint key v1", hashlib.sha256).digest()
    fields = (one.rule_id.encode(), b"app.py", password.encode())
    parts = b"".join(len(p).to_bytes(8, "big") + p for p in fields)
    keyed = "hmac:" + hmac.new(key, parts, hashlib.sha256).hexdigest()
    assert one.fingerprint == make_fingerprint(one.rule_id, "app.py", keyed)


def test_long_keys_keep_the_documented_fast_fingerprint_whatever_the_key():
    token = ghp()
    set_key(derive_key("some-installation"))
    change = Change("b", "h", [changed("a.py", f'TOKEN = "{token}"\n')])
    [finding] = run_check(SecretsCheck(), change).findings
    assert finding.fingerprint == make_fingerprint("secrets/github-token", "a.py", token)


def test_prguard_scan_keeps_a_private_per_user_key_so_fingerprints_are_stable(tmp_path, capsys):
    password = _weak_password()
    repo = GitRepo.on_feature_branch(tmp_path / "repo", {"README.md": "x\n"})
    repo.write("app.py", f'db_password = "{password}"\n')
    code, first, _ = scan_json(capsys, repo)
    set_key(None)  # as a new process would start
    code2, second, _ = scan_json(capsys, repo)
    assert code == code2  # the same verdict (keyword guesses are below the default fail_on)
    fingerprints = [f["fingerprint"] for f in first["findings"]]
    assert fingerprints == [f["fingerprint"] for f in second["findings"]] and len(fingerprints) == 1
    key_file = Path(os.environ["XDG_CONFIG_HOME"]) / "prguard" / "fingerprint.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(key_file.read_bytes()) == 32


def test_an_operator_key_gives_the_same_short_secret_fingerprint_in_every_checkout(tmp_path, capsys,
                                                                                   monkeypatch):
    password = _weak_password()
    results = []
    for name in ("one", "two"):
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / f"home-{name}"))  # different per-user keys
        monkeypatch.setenv("PRGUARD_FINGERPRINT_KEY", "shared-ci-and-app-secret")
        repo = GitRepo.on_feature_branch(tmp_path / name, {"README.md": "x\n"})
        repo.write("app.py", f'db_password = "{password}"\n')
        _, doc, _ = scan_json(capsys, repo)
        results.append([f["fingerprint"] for f in doc["findings"]])
        set_key(None)
    assert results[0] == results[1] and len(results[0]) == 1
    assert not (tmp_path / "home-one" / "prguard").exists()  # the operator's key needs no key file


def test_the_generic_detectors_share_one_budget_per_change(monkeypatch):
    token = ghp()
    files = [changed(f"conf{i}.py", "".join(f'password_{j} = "{pick(12, ALNUM)}"\n' for j in range(5))
                     + (f'TOKEN = "{token}"\n' if i == 2 else "")) for i in range(3)]
    generous = run_check(SecretsCheck(), Change("b", "h", files))
    assert not [s for s in generous.skipped if "partly scanned" in s.reason]
    keyword_files = {f.path for f in generous.findings if f.rule_id == "secrets/secret-keyword"}
    assert keyword_files == {"conf0.py", "conf1.py", "conf2.py"}

    monkeypatch.setattr(scanner_module, "DS_CHANGE_SECONDS", -1.0)  # the change's budget is already spent
    import checks.secrets.check as check_module

    monkeypatch.setattr(check_module, "DS_CHANGE_SECONDS", -1.0)
    spent = run_check(SecretsCheck(), Change("b", "h", files))
    partly = sorted(s.path for s in spent.skipped if "partly scanned" in s.reason)
    assert partly == ["conf0.py", "conf1.py", "conf2.py"]  # said loudly, file by file
    # the format-exact detectors still read every line: the key is found
    assert [(f.path, f.rule_id) for f in spent.findings] == [("conf2.py", "secrets/github-token")]


@pytest.mark.parametrize("bad", [b"", b"short"])
def test_a_key_too_short_to_be_secret_is_refused(bad):
    with pytest.raises(ValueError):
        set_key(bad)
