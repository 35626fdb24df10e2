"""Running the renderer on one kustomization (`checks.iac.kustomize`): `kubectl kustomize`, else
`kustomize build`, over a private tree holding only the files its closure read, never the network.

Kept apart from finding and mapping because it is the one part that starts a process: its bounds (time,
memory, output size) and its error text (kubectl's log header stripped, the private tree's path hidden) live
here.
"""

from __future__ import annotations

import re
import shutil
from typing import TYPE_CHECKING, Any

from checks.context import write_file
from checks.iac.engines import KUSTOMIZE_OFFLINE_ENV
from checks.tools import CheckTimeout

if TYPE_CHECKING:
    from checks.context import CheckContext
    from checks.iac.kustomize_find import Render

#: bytes of rendered output one kustomization may produce
MAX_OUTPUT = 16 * 1024 * 1024
#: seconds one render may take
RENDER_TIMEOUT = 60
MISSING_RENDERER = "Kustomize overlay not rendered: needs kubectl or kustomize on PATH"

#: kubectl's log header (`E1202 17:20:37.859227 23574 run.go:72] "command failed" err=`): not the reason
_KLOG = re.compile(r'^[EWIF]\d{4} [\d:.]+\s+\d+ \S+:\d+\] (?:"command failed" err=)?', re.MULTILINE)


def renderer() -> list[str] | None:
    """The render command before the directory: `kubectl kustomize`, else `kustomize build`; None."""
    kubectl = shutil.which("kubectl")
    if kubectl:
        return [kubectl, "kustomize"]
    kustomize = shutil.which("kustomize")
    return [kustomize, "build"] if kustomize else None


def render_into(render: Render, command: list[str], ctx: CheckContext, memory_mb: int,
                contents: dict[str, bytes]) -> str:
    """Render into `contents` (at `render.output_path`); "" when it rendered, else the reason."""
    files = render.closure.files

    def fill(root: Any) -> None:
        for path, data in files.items():
            write_file(root, path, data)

    tree = ctx.workspace.tree(("kustomize", ctx.side, (render.path, *sorted(files))), fill)
    target = str(tree / render.directory) if render.directory else str(tree)
    timeout = min(float(RENDER_TIMEOUT), max(1.0, ctx.remaining()))
    try:
        done = ctx.run_tool([*command, target], cwd=tree, env=KUSTOMIZE_OFFLINE_ENV, timeout=timeout,
                            memory_mb=memory_mb)
    except CheckTimeout as exc:
        return f"the render did not finish: {exc}"
    except OSError as exc:
        return f"the renderer could not run: {exc}"
    if done.returncode != 0:
        text = _KLOG.sub("", done.stderr.decode("utf-8", "replace").replace(str(tree) + "/", ""))
        tail = " ".join(text.split())
        return f"{' '.join(c.rsplit('/', 1)[-1] for c in command)} failed: {tail[:500] or 'no message'}"
    if len(done.stdout) > MAX_OUTPUT:
        return f"the rendered manifests are larger than {MAX_OUTPUT} bytes"
    contents[render.output_path] = done.stdout
    return ""
