"""Maven `pom.xml`: the literal versions of `<dependencies>` and `<dependencyManagement>` entries.

XML is read with `defusedxml`'s SAX parser (no DTDs, entities or external resources, so no XML bombs or
XXE) because SAX reports the line of each element. `${property}` versions are filled from the same pom's
`<properties>` (and `${project.version}`); anything else stays a spec with no version. Maven records no
lockfile graph: every entry is a direct dependency. `<repositories>` become `registry` settings.
"""

from __future__ import annotations

import posixpath
import re
import xml.sax
from xml.sax.handler import ContentHandler

import defusedxml
import defusedxml.sax

from checks.dependencies.model import MAVEN, Package, Parsed, ParseError, ReadSibling, Setting
from checks.dependencies.sources._common import decode, guarded

_PROP = re.compile(r"\$\{([^}]+)\}")


class _PomHandler(ContentHandler):
    """Collects dependency elements (with start lines), properties and repository URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.text: list[str] = []
        self.deps: list[dict] = []
        self.props: dict[str, str] = {}
        self.repos: list[tuple[str, int]] = []
        self.locator = None

    def setDocumentLocator(self, locator) -> None:
        self.locator = locator

    def _line(self) -> int:
        return self.locator.getLineNumber() if self.locator else 0

    def startElement(self, name, attrs) -> None:
        local = name.split(":")[-1]
        self.stack.append(local)
        self.text = []
        if local == "dependency" and len(self.stack) >= 2 and self.stack[-2] == "dependencies":
            self.deps.append(
                {
                    "line": self._line(),
                    "managed": "dependencyManagement" in self.stack,
                    "plugin": "plugin" in self.stack,
                }
            )

    def characters(self, content) -> None:
        self.text.append(content)

    def endElement(self, name) -> None:
        local = self.stack.pop()
        value = "".join(self.text).strip()
        self.text = []
        parent = self.stack[-1] if self.stack else ""
        if (
            parent == "dependency"
            and self.deps
            and local in ("groupId", "artifactId", "version", "scope", "optional", "type", "classifier")
        ):
            self.deps[-1][local] = value
        elif parent == "properties" and len(self.stack) >= 2 and self.stack[-2] == "project":
            self.props[local] = value
        elif local == "version" and parent == "project":
            self.props["project.version"] = value
        elif local == "url" and parent in ("repository", "pluginRepository"):
            self.repos.append((value, self._line()))


def _resolve(value: str, props: dict[str, str]) -> str:
    for _ in range(5):  # properties may refer to properties; bounded
        new = _PROP.sub(lambda m: props.get(m.group(1), m.group(0)), value)
        if new == value:
            break
        value = new
    return value


class PomSource:
    ecosystem = MAVEN
    format = "pom.xml"

    def matches(self, path: str) -> bool:
        return posixpath.basename(path) == "pom.xml"

    @guarded
    def parse(self, path: str, data: bytes, read: ReadSibling) -> Parsed:
        decode(data)  # size bound and encoding check
        handler = _PomHandler()
        try:
            defusedxml.sax.parseString(data, handler, forbid_dtd=True)
        except xml.sax.SAXParseException as exc:
            raise ParseError(f"invalid XML: {exc.getMessage()}", exc.getLineNumber()) from None
        except defusedxml.DefusedXmlException as exc:
            raise ParseError(f"refused XML: {exc}") from None
        if handler.stack or (not handler.deps and "<project" not in data[:4096].decode("utf-8", "replace")):
            raise ParseError("not a Maven project file")
        packages = []
        for dep in handler.deps:
            if not dep.get("groupId") or not dep.get("artifactId"):
                raise ParseError("dependency without groupId/artifactId", dep["line"])
            spec = dep.get("version", "")
            literal = _resolve(spec, handler.props)
            version = (
                literal if literal and "${" not in literal and not literal.startswith(("[", "(")) else None
            )
            extra: dict[str, object] = {}
            if dep.get("scope"):
                extra["scope"] = dep["scope"]
                if dep["scope"] == "test":
                    extra["dev"] = True
            if dep["managed"]:
                extra["managed"] = True
            if dep["plugin"]:
                extra["plugin"] = True
            if dep.get("optional") == "true":
                extra["optional"] = True
            packages.append(
                Package(
                    ecosystem=MAVEN,
                    name=f"{dep['groupId']}:{dep['artifactId']}",
                    version=version,
                    path=path,
                    line=dep["line"],
                    direct=True,
                    spec=spec if spec != version else "",
                    extra=extra,
                )
            )
        settings = [Setting("registry", url, line) for url, line in handler.repos]
        return Parsed(path=path, ecosystem=MAVEN, packages=tuple(packages), settings=tuple(settings))
