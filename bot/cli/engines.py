"""`prguard engines install|status`: the scanning engines that cannot share prguard's environment.

checkov pins `packaging<24`, downgrades `cyclonedx-python-lib` and installs `bc-detect-secrets` over
`detect_secrets` (which the secrets check uses), so it lives in its own virtualenv beside prguard's:
`<prefix>/engines/checkov` (`checks.iac.engines`). `install` creates it (idempotent: an existing engine of the
pinned version is kept); `status` says where each engine is and which version, or how to install it. zizmor
and semgrep are ordinary dependencies and need nothing here.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import venv

from checks.iac.engines import CHECKOV_REQUIREMENT, EngineMissing, checkov_home, checkov_path, zizmor_path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("install", "status"))
    parser.add_argument("--force", action="store_true", help="recreate the engine environments")


def run(args: argparse.Namespace) -> int:
    return install(force=args.force) if args.action == "install" else status()


def _version(binary: str) -> str | None:
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (out.stdout or out.stderr).strip().splitlines()[-1] if out.returncode == 0 else None


def install(force: bool = False) -> int:
    home = checkov_home()
    binary = home / "bin" / "checkov"
    wanted = CHECKOV_REQUIREMENT.split("==", 1)[1]
    if not force and binary.exists() and _version(str(binary)) == wanted:
        print(f"checkov {wanted}: already installed in {home}")
        return 0
    if force and home.exists():
        shutil.rmtree(home)
    print(f"installing {CHECKOV_REQUIREMENT} into {home} (its own environment: it cannot share prguard's)")
    venv.EnvBuilder(with_pip=True, clear=True).create(home)
    pip = [str(home / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
           CHECKOV_REQUIREMENT]
    if subprocess.run(pip).returncode != 0:
        print(f"prguard: installing {CHECKOV_REQUIREMENT} failed", file=sys.stderr)
        return 2
    return 0 if _report("checkov", str(binary)) else 2


def _report(name: str, binary: str) -> bool:
    version = _version(binary)
    print(f"{name}: {version or 'does not run'} ({binary})")
    return version is not None


def status() -> int:
    ok = True
    for name, find in (("checkov", checkov_path), ("zizmor", zizmor_path)):
        try:
            ok = _report(name, find()) and ok
        except EngineMissing as exc:
            print(f"{name}: {exc}")
            ok = False
    return 0 if ok else 1



