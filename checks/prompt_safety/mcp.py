"""MCP server configurations and coding-agent settings, parsed statically (nothing started or fetched).

An MCP config is a list of programs an agent will start, and of remote servers it will trust; agent settings
decide what it may do without asking. Each server entry is read from the shapes in use (`mcpServers`,
VS Code `servers`, Zed `context_servers`, Codex TOML `mcp_servers`) and judged on: an unpinned package
(`npx -y pkg`, `@latest`, `uvx pkg`, `docker run image:latest`), plain-HTTP remote servers, hosts nobody
vetted, credentials written inline instead of `${env:...}` references, and auto-approval of tools. Settings
are judged on wildcard permissions (`Bash(*)`), bypass modes and auto-approve switches.

JSON with comments and trailing commas (VS Code's JSONC) is parsed with `json5`, TOML with `tomllib`. A file
that does not parse is a finding ("could not check" is never "clean"). Line numbers come from locating the
offending value in the text after parsing, so findings sit on the line a reviewer must look at.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import json5

from checks.finding import Severity
from checks.paths import PathMatcher
from checks.prompt_safety import agent_rules
from checks.prompt_safety.injection import HostPolicy
from checks.prompt_safety.owasp import Rule
from checks.redact import redact

UNPINNED = Rule("mcp-unpinned-server", "MCP server started from an unpinned package or "
                                       "image", Severity.MEDIUM,
                "LLM03", "Pin an exact version (`pkg@1.2.3`, `uvx pkg==1.2.3`, `image@sha256:...`): "
                         "whatever is "
                "published next runs with the agent's access.")
PLAIN_HTTP = Rule("mcp-plain-http", "Remote MCP server over plain HTTP", Severity.HIGH, "LLM03",
                  "Use https:// (plain HTTP lets anyone on the path rewrite tool descriptions and results).")
UNKNOWN_HOST = Rule("mcp-unknown-host", "MCP server on a host that is not on the allowed "
                                        "list", Severity.MEDIUM,
                    "LLM03", "Vet the host, then add it to checks.prompt-safety.allowed_hosts.")
INLINE_SECRET = Rule("mcp-inline-credential", "Credential written inline in an agent config", Severity.HIGH,
                     "LLM02", "Reference an environment variable or input (`${env:NAME}`, `${input:id}`) "
                              "instead.")
AUTO_APPROVE = Rule("mcp-auto-approve", "Tools auto-approved without confirmation", Severity.MEDIUM, "LLM06",
                    "Let the user confirm tool calls; approve single read-only tools at most.")
WILDCARD = Rule("agent-wildcard-permission", "Agent granted blanket permission", Severity.HIGH, "LLM06",
                "Grant narrow, named permissions (`Bash(npm test)`), never wildcards or bypass modes.")
UNPARSEABLE = Rule("config-unparseable", "Agent or MCP config could not be parsed", Severity.HIGH, "LLM03",
                   "Fix the syntax: prguard could not check this file, so it cannot pass it.")

_ENV_REF = re.compile(r"^\s*(?:\$\{?[A-Za-z_][\w:.-]*\}?|\$\{(?:env|input):[^}]+\}|\{\{[^}]+\}\}|<[^>]+>|"
                      r"%[A-Za-z_]\w*%)\s*$")
_SECRET_NAME = re.compile(r"(?i)(?:key|token|secret|passw(?:or)?d|pwd|auth|credential|bearer|cookie|session)")
_VALUE_SECRETISH = re.compile(r"(?i)^(?:bearer\s+|token\s+|basic\s+)?[A-Za-z0-9_\-./+=:]{12,}$")
_PLACEHOLDER_WORDS = re.compile(r"(?i)your[-_ "
                                r"]|xxx|changeme|placeholder|example|<|\*\*\*|redacted|dummy|todo")
_INLINE_ARG = re.compile(r"(?i)^--?(?:api[-_]?key|token|secret|password|auth(?:orization)?)(?:=(?P<v>.+))?$")
_RUNNERS = {"npx": "npm", "bunx": "npm", "pnpx": "npm", "uvx": "pypi", "pipx": "pypi"}
_LOCAL = {"localhost", "127.0.0.1", "::1", "0.0.0.0", "host.docker.internal"}
#: well-known remote MCP endpoints that are not "unknown" (the policy adds its own)
KNOWN_MCP_HOSTS = ("api.githubcopilot.com", "mcp.atlassian.com", "mcp.linear.app", "mcp.notion.com",
                   "mcp.stripe.com", "mcp.sentry.dev", "mcp.context7.com", "mcp.deepwiki.com",
                   "mcp.cloudflare.com", "*.mcp.cloudflare.com", "huggingface.co")

_KNOWN_MCP = PathMatcher(KNOWN_MCP_HOSTS)


@dataclass(frozen=True)
class Hit:
    rule: Rule
    line: int
    message: str
    key: str
    severity: Severity | None = None


def parse(path: str, text: str) -> Any:
    """The config as Python data (TOML for `.toml`, JSON5/JSONC otherwise); ValueError if it won't parse."""
    if path.lower().endswith(".toml"):
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(str(exc)) from None
    try:
        return json5.loads(text)
    except Exception as exc:  # json5 raises ValueError and friends; any failure means "not parsed"
        raise ValueError(str(exc)[:200]) from None


class Locator:
    """Finds the 1-based line of a value in the raw text, searching forward from an anchor (a server name)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def line(self, needle: str, after: str | None = None) -> int:
        start = 0
        if after:
            found = self.text.find(after)
            start = found if found >= 0 else 0
        at = self.text.find(needle, start)
        if at < 0:
            at = self.text.find(needle)
        if at < 0:
            return 0 if not after else self.line(after)
        return self.text.count("\n", 0, at) + 1


def servers(data: Any) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(name, entry) for each MCP server in any of the known shapes (nested one level for Zed/Codex)."""
    if not isinstance(data, Mapping):
        return
    for key in ("mcpServers", "servers", "context_servers", "mcp_servers", "mcp"):
        block = data.get(key)
        if isinstance(block, Mapping):
            if key == "mcp" and isinstance(block.get("servers"), Mapping):
                block = block["servers"]
            for name, entry in block.items():
                if isinstance(entry, Mapping):
                    yield str(name), _flatten(entry)


def _flatten(entry: Mapping[str, Any]) -> Mapping[str, Any]:
    """Zed's older shape nests `{"command": {"path", "args", "env"}}`: lift it to the common shape."""
    command = entry.get("command")
    if isinstance(command, Mapping):
        return {**entry, "command": command.get("path"), "args": command.get("args"),
                "env": command.get("env")}
    return entry


def _pinned_npm(spec: str) -> bool:
    scoped = spec.startswith("@")
    name, _, version = spec.rpartition("@") if spec.count("@") > (1 if scoped else 0) else (spec, "", "")
    return bool(name) and bool(re.fullmatch(r"v?\d+\.\d+\.\d+[\w.+-]*", version))


def _package_arg(args: list[str]) -> str | None:
    skip_next = {"-p", "--package", "--from", "--with", "--python", "--registry"}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in skip_next:
            if arg in ("-p", "--package", "--from"):
                return args[i + 1] if i + 1 < len(args) else None
            i += 2
            continue
        if arg.startswith("-") or arg == "run":
            i += 1
            continue
        return arg
    return None


_DOCKER_VALUE_FLAGS = ("-e", "--env", "-v", "--volume", "--name", "-p", "--network", "--env-file", "-w",
                       "--user", "-u", "--mount", "--entrypoint", "--platform")


def unpinned(command: str, args: list[str]) -> str | None:
    """Why the server's package or image is not pinned, or None."""
    runner = command.rsplit("/", 1)[-1].removesuffix(".cmd").removesuffix(".exe").lower()
    if runner in ("pnpm", "yarn", "bun") and args[:1] == ["dlx"]:
        runner, args = "npx", args[1:]
    if runner == "uv" and args[:2] == ["tool", "run"]:
        runner, args = "uvx", args[2:]
    if runner in _RUNNERS:
        pkg = _package_arg(args)
        if pkg is None:
            return None
        if _RUNNERS[runner] == "npm":
            if pkg.endswith(("@latest", "@next")) or not _pinned_npm(pkg):
                return f"`{runner} {pkg}` runs whatever version is published when the agent starts"
            return None
        if re.search(r"==\d|@\d", pkg):
            return None
        return f"`{runner} {pkg}` has no pinned version"
    if runner in ("docker", "podman") and "run" in args:
        rest = args[args.index("run") + 1:]
        image = next((a for i, a in enumerate(rest) if not a.startswith("-")
                      and not (i > 0 and rest[i - 1] in _DOCKER_VALUE_FLAGS)), None)
        if image and "@sha256:" not in image:
            tag = image.rsplit("/", 1)[-1].partition(":")[2]
            if not tag or tag == "latest":
                return f"image `{image}` has no fixed tag or digest"
    return None


def _secretish(value: str) -> bool:
    return (bool(_VALUE_SECRETISH.match(value)) and not _ENV_REF.match(value)
            and not _PLACEHOLDER_WORDS.search(value) and value.lower() not in ("true", "false"))


def _remote(name: str, url: str, loc: Locator, anchor: str, hosts: HostPolicy) -> Iterator[Hit]:
    """A remote server's URL (its `url`, or one a stdio bridge is given): plain HTTP, unknown host."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return
    line = loc.line(url, anchor)
    if parts.scheme == "http" and host not in _LOCAL:
        yield Hit(PLAIN_HTTP, line, f"MCP server `{name}` is reached over plain HTTP ({host})",
                  f"{name}:http:{host}")
    if host and host not in _LOCAL and not hosts.known(host) and not _KNOWN_MCP(host):
        yield Hit(UNKNOWN_HOST, line, f"MCP server `{name}` points at `{host}`, which is not on the allowed "
                  "list", f"{name}:host:{host}")


def check_server(name: str, entry: Mapping[str, Any], loc: Locator, hosts: HostPolicy) -> Iterator[Hit]:
    anchor = f'"{name}"' if f'"{name}"' in loc.text else name
    command = entry.get("command")
    args = [str(a) for a in entry.get("args") or [] if isinstance(a, str | int | float)]
    if isinstance(command, str):
        parts = command.split()
        why = unpinned(parts[0], parts[1:] + args) if parts else None
        if why:
            needle = next((a for a in args if a in why), parts[0])
            yield Hit(UNPINNED, loc.line(needle, anchor), f"MCP server `{name}`: {why}", f"{name}:{why}")
    url = entry.get("url") or entry.get("serverUrl") or entry.get("httpUrl") or entry.get("endpoint")
    urls = [url] if isinstance(url, str) and url.strip() else []
    urls += [a for a in args if a.startswith(("http://", "https://"))]  # `npx mcp-remote https://...`
    for target in urls:
        yield from _remote(name, target.strip(), loc, anchor, hosts)
    for field_name in ("env", "headers", "requestInit", "http_headers", "environment"):
        block = entry.get(field_name)
        if field_name == "requestInit" and isinstance(block, Mapping):
            block = block.get("headers")
        if isinstance(block, Mapping):
            for key, value in block.items():
                if isinstance(value, str) and _SECRET_NAME.search(str(key)) and _secretish(value):
                    yield Hit(INLINE_SECRET, loc.line(value, anchor),
                              f"MCP server `{name}` has `{key}` = {redact(value)} written inline",
                              f"{name}:{key}")
    for i, arg in enumerate(args):
        m = _INLINE_ARG.match(arg)
        if m:
            value = m.group("v") or (args[i + 1] if i + 1 < len(args) else "")
            if value and _secretish(value):
                yield Hit(INLINE_SECRET, loc.line(arg, anchor),
                          f"MCP server `{name}` passes {arg.split('=')[0]} {redact(value)} on its command "
                          f"line",
                          f"{name}:{arg.split('=')[0]}")
    for key in ("alwaysAllow", "autoApprove", "auto_approve", "trust", "autoApproveTools"):
        value = entry.get(key)
        if value in (None, False, [], {}):
            continue
        wildcard = value is True or (isinstance(value, list) and any(str(v).strip() == "*" for v in value))
        yield Hit(AUTO_APPROVE, loc.line(f'"{key}"', anchor) or loc.line(key, anchor),
                  f"MCP server `{name}`: `{key}` = {str(value)[:120]} approves tool calls without asking",
                  f"{name}:{key}", Severity.HIGH if wildcard else None)


_WILD_PERMISSION = re.compile(r"^(?:\*|Bash|Bash\(\s*\*?\s*(?::\s*\*)?\s*\)|"
                              r"Bash\((?:curl|wget|sh|bash|sudo|rm|"
                              r"python3?|node|npx|eval)\b[^)]*\*[^)]*\)|(?:Write|Edit|WebFetch|mcp__\w*)\(\*\)|"
                              r"mcp__\*|(?:Read|Write|Edit)\(/\*\*\))$")
_SETTINGS_FLAGS: tuple[tuple[str, Any, str], ...] = (
    ("defaultMode", "bypassPermissions", "permission checks are bypassed"),
    ("enableAllProjectMcpServers", True, "every MCP server a project lists starts without approval"),
    ("chat.tools.autoApprove", True, "every tool call is approved without asking"),
    ("chat.tools.global.autoApprove", True, "every tool call is approved without asking"),
    ("chat.agent.autoApprove", True, "every agent action is approved without asking"),
    ("github.copilot.chat.agent.autoApprove", True, "every agent action is approved without asking"),
    ("approval_policy", "never", "the agent never asks before running commands"),
    ("sandbox_mode", "danger-full-access", "the agent runs without a sandbox"),
    ("autoAccept", True, "tool calls are accepted without asking"),
    ("yolo", True, "tool calls are accepted without asking"),
    ("dangerouslySkipPermissions", True, "permission checks are skipped"),
)


def _walk(data: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(data, Mapping):
        for key, value in data.items():
            dotted = f"{prefix}.{key}" if prefix else str(key)
            yield dotted, value
            yield from _walk(value, dotted)


def _hook_commands(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _hook_commands(item)
    elif isinstance(value, list):
        for item in value:
            yield from _hook_commands(item)


def check_settings(data: Any, loc: Locator) -> Iterator[Hit]:
    """Blanket permissions and bypass switches in agent settings (Claude, VS Code, Codex, Gemini), and hook
    commands (run on every tool call or session) that pipe downloads into a shell or weaken checks."""
    if isinstance(data, Mapping) and isinstance(data.get("hooks"), Mapping | list):
        for command in _hook_commands(data["hooks"]):
            for signal in agent_rules.scan_line(command):
                yield Hit(signal.rule, loc.line(command[:60]) or loc.line('"hooks"'),
                          f"hook command: {signal.rule.title.lower()}: `{command[:160]}`",
                          f"hook:{signal.text}")
    for dotted, value in _walk(data):
        leaf = dotted.rsplit(".", 1)[-1]
        for key, bad, why in _SETTINGS_FLAGS:
            if (dotted == key or leaf == key or dotted.endswith("." + key)) and value == bad:
                yield Hit(WILDCARD, loc.line(f'"{leaf}"') or loc.line(leaf), f"`{dotted}` = {value!r}: {why}",
                          f"{dotted}={value}")
        if leaf == "chat.tools.terminal.autoApprove" and isinstance(value, Mapping):
            for pattern, allowed in value.items():
                if allowed is True and str(pattern).strip("/") in ("*", ".*", ""):
                    yield Hit(WILDCARD, loc.line(f'"{pattern}"'), f"terminal commands matching `{pattern}` "
                                                                  f"are "
                              "approved without asking", f"terminal:{pattern}")
        if leaf == "allow" and isinstance(value, list) and "permissions" in dotted:
            for item in value:
                if isinstance(item, str) and _WILD_PERMISSION.match(item.strip()):
                    yield Hit(WILDCARD, loc.line(f'"{item}"') or loc.line(item),
                              f"permission `{item}` lets the agent run any such action without asking",
                              f"allow:{item}")


def scan_config(path: str, text: str, hosts: HostPolicy, *, settings: bool) -> Iterator[Hit]:
    """All findings for one MCP config or agent settings file; a parse failure is a file-level hit."""
    try:
        data = parse(path, text)
    except ValueError as exc:
        yield Hit(UNPARSEABLE, 0, f"{path} does not parse ({exc}), so its servers and permissions were not "
                  "checked", "unparseable")
        return
    loc = Locator(text)
    for name, entry in servers(data):
        yield from check_server(name, entry, loc, hosts)
    if settings or isinstance(data, Mapping):
        yield from check_settings(data, loc)
