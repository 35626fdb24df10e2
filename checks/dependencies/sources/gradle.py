"""Gradle dependency locking: `gradle.lockfile` (and per-configuration `gradle/dependency-locks/*.lockfile`).

One `group:artifact:version=configuration,…` line per resolved module. The file records no graph and does
not say which modules are declared directly, so every entry is reported as direct with
`extra["graph"] = False`.
"""

from __future__ import annotations

import posixpath
import re

from checks.dependencies.model import MAVEN, Package, Parsed, ParseError, ReadSibling
from checks.dependencies.sources._common import decode, guarded

_LINE = re.compile(r"^([^:\s=]+):([^:\s=]+):([^:\s=]+)(?::[^=\s]*)?=(.*)$")


class GradleLockSource:
    ecosystem = MAVEN
    format = "gradle.lockfile"

    def matches(self, path: str) -> bool:
        base = posixpath.basename(path)
        return (
            base == "gradle.lockfile"
            or (base.endswith(".lockfile") and "/dependency-locks/" in f"/{path}")
            or base == "buildscript-gradle.lockfile"
        )

    @guarded
    def parse(self, path: str, data: bytes, read: ReadSibling) -> Parsed:
        text = decode(data)
        packages = []
        for no, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#") or line.startswith("empty="):
                continue
            m = _LINE.match(line)
            if not m:
                raise ParseError(
                    "unreadable lockfile line (expected group:artifact:version=configurations)", no
                )
            group, artifact, version, configs = m.groups()
            conf = [c for c in configs.split(",") if c]
            extra: dict[str, object] = {"graph": False, "configurations": conf}
            if conf and all("test" in c.lower() for c in conf):
                extra["dev"] = True
            packages.append(
                Package(
                    ecosystem=MAVEN,
                    name=f"{group}:{artifact}",
                    version=version,
                    path=path,
                    line=no,
                    direct=True,
                    extra=extra,
                )
            )
        return Parsed(path=path, ecosystem=MAVEN, packages=tuple(packages), lockfile=True)
