"""What a kustomization names (`checks.iac.kustomize`): its file names, the local files and directories its
keys refer to, which references are remote, and how a reference becomes a repository path.

Pure functions of the parsed document and the paths: nothing here reads a file, so the finder
(`checks.iac.kustomize_find`) decides what to read and the rules of a reference are testable on their own.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from typing import Any

from checks.change import check_repo_path

NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")

REMOTE = re.compile(r"^[a-z][a-z0-9+.-]*://|^git@|^git::|^(?:github|gitlab)\.com/|^bitbucket\.org/"
                    r"|\?(?:.*&)?(?:ref|version|timeout|submodules)=", re.IGNORECASE)
#: keys whose entries are kustomization directories or whole manifests
RESOURCE_KEYS = ("resources", "bases", "components", "crds")
#: keys whose entries are files (or kustomization directories) that change what renders
PLUGIN_KEYS = ("generators", "transformers", "validators")


def is_kustomization(path: str) -> bool:
    return posixpath.basename(path) in NAMES


def join_ref(directory: str, ref: str) -> str | None:
    """`ref` relative to `directory` as a repository path; None when absolute or above the root."""
    if ref.startswith("/") or "\\" in ref:
        return None
    joined = posixpath.normpath(posixpath.join(directory, ref))
    if joined == ".." or joined.startswith("../"):
        return None
    if joined == ".":
        return ""
    try:
        return check_repo_path(joined)
    except ValueError:
        return None


def references(doc: dict[str, Any]) -> Iterable[tuple[str, str]]:
    """(key, path) of every file or directory a kustomization names (inline patches left out)."""
    def paths(value: Any) -> list[str]:
        items = value if isinstance(value, list) else [value]
        return [v.strip() for v in items if isinstance(v, str) and v.strip() and "\n" not in v]

    for key in (*RESOURCE_KEYS, *PLUGIN_KEYS, "patchesStrategicMerge", "configurations"):
        for ref in paths(doc.get(key)):
            yield key, ref
    for key in ("patches", "patchesJson6902", "replacements"):
        for entry in doc.get(key) or []:
            if isinstance(entry, dict):
                yield from ((key, p) for p in paths(entry.get("path")))
            elif key == "patches":
                yield from ((key, p) for p in paths(entry))
    for key in ("configMapGenerator", "secretGenerator"):
        for entry in doc.get(key) or []:
            if not isinstance(entry, dict):
                continue
            for ref in [*paths(entry.get("files")), *paths(entry.get("envs")), *paths(entry.get("env"))]:
                yield key, ref.split("=", 1)[1] if "=" in ref else ref
    openapi = doc.get("openapi")
    if isinstance(openapi, dict):
        yield from (("openapi", p) for p in paths(openapi.get("path")))
