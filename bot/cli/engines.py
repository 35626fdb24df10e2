"""`prguard engines install|status`: the scanning engines that cannot share prguard's environment.

checkov pins `packaging<24`, downgrades `cyclonedx-python-lib` and installs `bc-detect-secrets` over
`detect_secrets` (which the secrets check uses), so it lives in its own virtualenv beside prguard's:
`<prefix>/engines/checkov` (`checks.iac.engines`). `install` creates it (idempotent: an existing engine of the
pinned version is kept); `status` says where each engine is and which version, or how to install it. zizmor
and semgrep are ordinary dependencies and need nothing here.

The same environment gets `helm-python-sdk` (Helm's Go SDK as a prebuilt shared library; there is no `helm`
binary or Go toolchain here) and `bin/helm`, prguard's shim over it (`checks/iac/helm_shim.py`), which
checkov's helm framework runs to render charts offline (see docs/iac.md#helm-charts).
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

from checks.iac import helm_shim, kustomize
from checks.iac.engines import (
    CHECKOV_REQUIREMENT,
    HELM_SDK_REQUIREMENT,
    EngineMissing,
    checkov_home,
    checkov_path,
    grammar_cache_dir,
    helm_shim_path,
    zizmor_path,
)


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
    else:
        if force and home.exists():
            shutil.rmtree(home)
        print(f"installing {CHECKOV_REQUIREMENT} into {home} (its own environment: it cannot share "
              "prguard's)")
        venv.EnvBuilder(with_pip=True, clear=True).create(home)
        if not _pip(home, CHECKOV_REQUIREMENT) or not _report("checkov", str(binary)):
            return 2
    if not any(grammar_cache_dir().glob(".lark_cache_*.tmp")):
        warm_grammar_cache(binary)
    return 0 if install_helm(home) else 2


def warm_grammar_cache(binary: Path) -> None:
    """Run checkov once on a one-line Terraform file prguard writes, with TMPDIR in the engines' grammar
    cache, so its HCL parser's compiled grammar is there for every scan (`seed_grammar_cache`)."""
    cache = grammar_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "main.tf").write_text('resource "aws_s3_bucket" "b" {\n  bucket = "b"\n}\n')
        env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": tmp, "TMPDIR": str(cache),
               "BC_SKIP_MAPPING": "TRUE", "SKIP_PACKAGE_UPDATE_CHECK": "true"}
        subprocess.run([str(binary), "-d", tmp, "--framework", "terraform", "--quiet", "-o", "json",
                        "--skip-download"], env=env, capture_output=True, timeout=300, check=False)
    found = len(list(cache.glob(".lark_cache_*.tmp")))
    print(f"checkov's Terraform grammar cache: {found} file(s) in {cache}")


def _pip(home: Path, requirement: str) -> bool:
    pip = [str(home / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
           requirement]
    if subprocess.run(pip).returncode != 0:
        print(f"prguard: installing {requirement} failed", file=sys.stderr)
        return False
    return True


def install_helm(home: Path) -> bool:
    """helm-python-sdk (pinned) in checkov's environment and the `helm` shim in its `bin`; idempotent."""
    wanted = HELM_SDK_REQUIREMENT.split("==", 1)[1]
    if _sdk_version(home) != wanted:
        print(f"installing {HELM_SDK_REQUIREMENT} into {home} (renders Helm charts for checkov, offline)")
        if not _pip(home, HELM_SDK_REQUIREMENT):
            return False
    _link_duplicates(home)
    shim = home / "bin" / "helm"
    text = f"#!{home / 'bin' / 'python'}\n" + Path(helm_shim.__file__).read_text(encoding="utf-8")
    if not shim.exists() or shim.read_text(encoding="utf-8") != text:
        partial = shim.with_name(".helm.partial")
        partial.write_text(text, encoding="utf-8")
        partial.chmod(0o755)
        os.replace(partial, shim)
    return _report_helm(str(shim))


def _sdk_version(home: Path) -> str | None:
    probe = "import importlib.metadata as m; print(m.version('helm-python-sdk'))"
    try:
        out = subprocess.run([str(home / "bin" / "python"), "-c", probe], capture_output=True, text=True,
                             timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _link_duplicates(home: Path) -> None:
    """The wheel holds its 85 MB library three times (`libhelm_c.so`, `.so.0`, `.so.0.2.2`: wheels cannot
    hold symlinks); identical copies become hard links of one, saving ~170 MB. Contents are unchanged,
    so pip's RECORD still matches."""
    for lib in sorted(home.glob("lib/python*/site-packages/helm_python/lib")):
        files = sorted((p for p in lib.iterdir() if p.is_file() and not p.is_symlink()), key=lambda p: p.name)
        if not files:
            continue
        first = files[0]
        for other in files[1:]:
            if os.path.samefile(first, other) or not filecmp.cmp(first, other, shallow=False):
                continue
            partial = other.with_name(other.name + ".partial")
            os.link(first, partial)
            os.replace(partial, other)


def _report_helm(binary: str) -> bool:
    """`helm version` of the shim, as checkov will see it."""
    try:
        out = subprocess.run([binary, "version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        out = None
    line = out.stdout.strip() if out is not None and out.returncode == 0 else ""
    if 'Version:"' not in line:
        print(f"helm: does not run ({binary})")
        return False
    version = line.split('Version:"', 1)[1].split('"', 1)[0]
    sdk = line.split('HelmPythonSDK:"', 1)[-1].split('"', 1)[0] if "HelmPythonSDK" in line else "?"
    print(f"helm: {version} (prguard's shim over helm-python-sdk {sdk}: renders charts for checkov, "
          f"offline) ({binary})")
    return True


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
    try:
        shim = helm_shim_path(checkov_path())
    except EngineMissing:
        shim = helm_shim_path()
    if shim is None:
        print("helm: not installed (Helm charts are not rendered): run `prguard engines install`")
        ok = False
    else:
        ok = _report_helm(str(shim)) and ok
    _report_kustomize()
    return 0 if ok else 1


def _report_kustomize() -> None:
    """The kustomize renderer found on PATH; not a failure when absent (prguard cannot install it, and
    kustomizations are then listed as not scanned)."""
    command = kustomize.renderer()
    if command is None:
        print("kustomize: not found (kustomizations are not rendered: needs kubectl or kustomize on PATH)")
        return
    try:
        out = subprocess.run([command[0], "version", "--client"] if command[1] == "kustomize"
                             else [command[0], "version"], capture_output=True, text=True, timeout=60)
        lines = out.stdout.splitlines() if out.returncode == 0 else []
    except (OSError, subprocess.TimeoutExpired):
        lines = []
    found = [line.split(":", 1)[1].strip() for line in lines if line.startswith("Kustomize Version:")]
    version = found[0] if found else (lines[0].strip() if lines else "version unknown")
    print(f"kustomize: {version} (`{' '.join(command)}`: renders kustomizations offline)")



