"""A `helm` executable for checkov's helm framework, over Helm's Go SDK (`helm-python-sdk`), offline.

There is no `helm` binary where prguard runs, and the real one would download a chart's dependencies
(`helm template --dependency-update`). `prguard engines install` copies this file to `bin/helm` of checkov's
environment (with that environment's interpreter on the `#!` line), and the IaC check puts that `bin` first
on checkov's PATH. It is run by checkov, not imported by prguard: standard library, PyYAML and `helm_python`
only.

It implements exactly what checkov 3.3's `checkov/helm/runner.py` calls:

- `helm version` — one line checkov parses (`Version:"v4…",`);
- `helm dependency list CHART` — the dependency table;
- `helm template [--dependency-update] [--values FILE]… CHART` — the chart rendered with Helm's own
  template engine, printed as `helm template` does (`---` / `# Source: chart/templates/x.yaml` / document);
  nothing for a subchart vendored under another chart's `charts/`, which its parent's render includes.

It never touches the network: `--dependency-update` only *checks* that every dependency is vendored under
`charts/` and fails, naming it, when one is not; no repository index is read and nothing is pulled. Each
`template` run appends one JSON line to `$PRGUARD_HELM_REPORT` (chart, ok, error) so prguard can tell a
chart that rendered clean from one that did not render (checkov only logs that). A render is stopped after
`$PRGUARD_HELM_TIMEOUT` seconds (default 120) by SIGALRM's default action, which also interrupts Go code.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
from typing import Any

#: what `helm dependency list` calls a dependency that is present in `charts/`
_PRESENT = ("ok", "unpacked")
#: Helm's own document separator (`releaseutil.SplitManifests`)
_SEPARATOR = re.compile(r"(?:^|\s*\n)---\s*")
_USAGE = "usage: helm version | helm dependency list CHART | helm template [--dependency-update] " \
         "[--values FILE]... CHART"


class ShimError(Exception):
    """A one-line reason printed as `Error: …`, with exit status 1, as helm does."""


def main(argv: list[str]) -> int:
    signal.alarm(int(os.environ.get("PRGUARD_HELM_TIMEOUT", "120") or 120))  # SIG_DFL: the process ends
    try:
        if argv[:1] == ["version"]:
            return _version()
        if argv[:2] in (["dependency", "list"], ["dep", "list"], ["dependencies", "list"]):
            return _dependency_list(argv[2:])
        if argv[:1] == ["template"]:
            return _template(argv[1:])
        raise ShimError(f"prguard's helm shim does not implement `helm {' '.join(argv[:2])}` ({_USAGE})")
    except ShimError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1


def _version() -> int:
    import helm_python as helm

    print(f'version.BuildInfo{{Version:"{helm.helm_sdk_version()}", GitCommit:"", GitTreeState:"", '
          f'GoVersion:"", HelmPythonSDK:"{helm.__version__}", Implementation:"prguard helm shim"}}')
    return 0


def _dependency_list(args: list[str]) -> int:
    import helm_python as helm

    if len(args) != 1 or args[0].startswith("-"):
        raise ShimError(f"`helm dependency list` takes one chart directory ({_USAGE})")
    try:
        deps = helm.dependency_list(args[0])
    except helm.HelmError as exc:
        raise ShimError(_one_line(exc)) from None
    print("NAME\tVERSION\tREPOSITORY\tSTATUS")
    for dep in deps:
        print(f"{dep.get('name', '')}\t{dep.get('version', '')}\t{dep.get('repository', '')}\t"
              f"{dep.get('status', '')}")
    print()
    return 0


def _template(args: list[str]) -> int:
    values_files: list[str] = []
    charts: list[str] = []
    items = iter(args)
    for arg in items:
        if arg == "--dependency-update":
            continue  # only checked, never fetched: see `_check_dependencies`
        if arg in ("--values", "-f"):
            values_files.append(next(items, ""))
        elif arg.startswith("--values="):
            values_files.append(arg.split("=", 1)[1])
        elif arg.startswith("-"):
            raise ShimError(f"prguard's helm shim does not implement `helm template {arg}` ({_USAGE})")
        else:
            charts.append(arg)
    if len(charts) != 1 or "" in values_files:
        raise ShimError(f"`helm template` takes one chart directory ({_USAGE})")
    chart = charts[0]
    if _vendored(chart):
        # checkov renders every Chart.yaml it finds, a subchart too, into the same file as its parent's
        # render of it (appending): rendered on its own, without its parent's values, it would hide them
        _report(chart, True, "", 0)
        return 0
    try:
        text, count = _render(chart, values_files)
    except ShimError as exc:
        _report(chart, False, str(exc))
        raise
    _report(chart, True, "", count)
    sys.stdout.write(text)
    return 0


def _render(chart_dir: str, values_files: list[str]) -> tuple[str, int]:
    """`helm template`'s output for `chart_dir`, and how many documents it holds."""
    import helm_python as helm
    import yaml

    try:
        _check_dependencies(helm, chart_dir)
        values: dict[str, Any] = {}
        for path in values_files:
            with open(path, encoding="utf-8") as fh:
                values = _merge(values, helm.values_from_yaml(fh.read()))
        with helm.Chart.load(chart_dir) as chart:
            rendered = chart.render(values or None, name="release-name", namespace="default",
                                    is_install=True)
    except helm.HelmError as exc:
        raise ShimError(_one_line(exc)) from None
    except OSError as exc:
        raise ShimError(f"cannot read a values file: {exc}") from None
    out: list[str] = []
    for source in sorted(rendered):
        if source.endswith("NOTES.txt") or os.path.basename(source).startswith("_"):
            continue
        for document in _SEPARATOR.split(rendered[source]):
            document = document.strip()
            if not document:
                continue
            if any(line.startswith("# Source: ") for line in document.splitlines()):
                # checkov reads such a line as the start of another file: it would drop the chart
                raise ShimError(f"{source}: a rendered line starts with '# Source: ', which marks file "
                                "boundaries in helm's output")
            try:
                yaml.safe_load(document)
            except yaml.YAMLError as exc:
                raise ShimError(f"YAML parse error on {source}: {_one_line(exc)}") from None
            out.append(f"---\n# Source: {source}\n{document}\n")
    return "".join(out), len(out)


def _vendored(chart_dir: str) -> bool:
    """Whether `chart_dir` is a subchart vendored in another chart's `charts/` (rendered with it)."""
    parent = os.path.dirname(os.path.abspath(chart_dir))
    return os.path.basename(parent) == "charts" and os.path.isfile(
        os.path.join(os.path.dirname(parent), "Chart.yaml"))


def _check_dependencies(helm: Any, chart_dir: str) -> None:
    """Every dependency Chart.yaml declares must be vendored in `charts/`: nothing is downloaded."""
    missing = [d for d in helm.dependency_list(chart_dir) if d.get("status") not in _PRESENT]
    if missing:
        named = ", ".join(f"{d.get('name')} {d.get('version', '')} from {d.get('repository') or '?'} "
                          f"({d.get('status')})" for d in missing)
        raise ShimError(f"dependencies not vendored in charts/: {named}; prguard renders charts offline "
                        "and never downloads dependencies (run `helm dependency build` and commit charts/)")


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` deep-merged over `base`, as helm merges successive `--values` files."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:600]


def _report(chart: str, ok: bool, error: str, documents: int = 0) -> None:
    """One JSON line for prguard, appended in one write (several renders may run at once)."""
    target = os.environ.get("PRGUARD_HELM_REPORT")
    if not target:
        return
    line = json.dumps({"chart": os.path.abspath(chart), "ok": ok, "error": error, "documents": documents})
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
