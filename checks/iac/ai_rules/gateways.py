"""AI gateway configs: LiteLLM proxy config.yaml, Kong declarative configs and CRDs (PRG-AI-032…038)."""

from __future__ import annotations

from typing import Any

from checks.finding import Finding
from checks.iac.ai_rules.catalog import BY_ID
from checks.iac.ai_rules.keys import describe, literal_key
from checks.iac.ai_rules.model import finding
from checks.iac.ai_rules.yamldoc import LDict, LList, line_of, scalar, seq

_BUDGET_KEYS = {
    "max_budget",
    "rpm",
    "tpm",
    "rpm_limit",
    "tpm_limit",
    "max_parallel_requests",
    "budget_duration",
    "default_key_generate_params",
    "upperbound_key_generate_params",
    "default_team_settings",
}
_CALLBACK_KEYS = ("success_callback", "callbacks", "failure_callback", "service_callback")


def _logs(settings: Any) -> bool:
    """A callback in litellm_settings, or in every default team's settings (per-team logging)."""
    if not isinstance(settings, dict):
        return False
    if any(settings.get(k) for k in _CALLBACK_KEYS):
        return True
    teams = [t for t in seq(settings.get("default_team_settings")) if isinstance(t, dict)]
    return bool(teams) and all(any(t.get(k) for k in _CALLBACK_KEYS) for t in teams)


def looks_like_gateway(text: str) -> bool:
    """Cheap test before parsing an embedded value: LiteLLM or Kong top-level keys."""
    return "model_list" in text or "_format_version" in text


def is_litellm(root: Any) -> bool:
    return (
        isinstance(root, LDict)
        and isinstance(root.get("model_list"), list)
        and any(isinstance(m, dict) and "litellm_params" in m for m in root["model_list"])
    )


def litellm(root: LDict, path: str) -> list[Finding]:
    out: list[Finding] = []
    general = root.get("general_settings") if isinstance(root.get("general_settings"), LDict) else None
    settings = root.get("litellm_settings") if isinstance(root.get("litellm_settings"), LDict) else None
    anchor = line_of(root, "model_list")
    end = root.end_line

    def add(rule_id: str, line: int, resource: str, message: str) -> None:
        out.append(finding(BY_ID[rule_id], path, line, end, resource, message))

    master = general.get("master_key") if general else None
    if not master:
        add(
            "PRG-AI-032",
            line_of(root, "general_settings", anchor),
            "litellm/general_settings/master_key",
            "general_settings.master_key is not set: the proxy serves every model to anyone who can "
            "reach it, "
            "with no virtual keys, budgets or audit of who called what.",
        )
    elif isinstance(master, str) and not master.startswith("os.environ/"):
        add(
            "PRG-AI-033",
            line_of(general, "master_key"),
            "litellm/general_settings/master_key",
            f"general_settings.master_key is written in the file ({describe(master)}): use "
            "os.environ/LITELLM_MASTER_KEY and rotate it.",
        )
    limited = False
    for index, model in enumerate(root["model_list"]):
        if not isinstance(model, LDict):
            continue
        params = model.get("litellm_params")
        params = params if isinstance(params, LDict) else LDict()
        info = model.get("model_info") if isinstance(model.get("model_info"), dict) else {}
        limited = limited or any(k in params or k in info for k in ("rpm", "tpm", "max_parallel_requests"))
        for key in ("api_key", "aws_secret_access_key", "vertex_credentials", "azure_ad_token"):
            secret = literal_key(key, params.get(key), key_setting=True)
            if secret:
                name = model.get("model_name", index)
                add(
                    "PRG-AI-033",
                    line_of(params, key),
                    f"litellm/model_list/{name}/{key}",
                    f"Model {name} has its provider {key} written in the config ({describe(secret)}): use "
                    "os.environ/NAME or a secret manager reference, and rotate the key.",
                )
    for section in (settings, general, root.get("router_settings")):
        if isinstance(section, dict) and _BUDGET_KEYS & set(section):
            limited = True
    if not limited:
        add(
            "PRG-AI-034",
            anchor,
            "litellm/limits",
            "No model has rpm/tpm limits and no budget (max_budget, default_key_generate_params) is "
            "set: one key "
            "can consume unlimited tokens.",
        )
    if not _logs(settings):
        add(
            "PRG-AI-035",
            line_of(root, "litellm_settings", anchor),
            "litellm/callbacks",
            "litellm_settings has no success_callback/callbacks: requests through the proxy are not "
            "logged anywhere "
            "but stdout.",
        )
    return out


# --- Kong -----------------------------------------------------------------------------------------------
_AI_PLUGINS = {"ai-proxy", "ai-proxy-advanced"}
_AUTH_PLUGINS = {
    "key-auth",
    "key-auth-enc",
    "jwt",
    "oauth2",
    "openid-connect",
    "basic-auth",
    "hmac-auth",
    "ldap-auth",
    "ldap-auth-advanced",
    "mtls-auth",
    "oauth2-introspection",
    "jwe-decrypt",
}
_RATE_PLUGINS = {
    "rate-limiting",
    "rate-limiting-advanced",
    "ai-rate-limiting-advanced",
    "response-ratelimiting",
}
_LOG_PLUGINS = {
    "http-log",
    "file-log",
    "tcp-log",
    "udp-log",
    "syslog",
    "loggly",
    "datadog",
    "opentelemetry",
    "kafka-log",
    "statsd",
    "prometheus",
}
_CRED_KEYS = (
    "header_value",
    "param_value",
    "gcp_service_account_json",
    "aws_secret_access_key",
    "azure_client_secret",
    "api_key",
)


def is_kong(root: Any) -> bool:
    return isinstance(root, LDict) and "_format_version" in root


def inline_credentials(plugin: LDict, path: str, owner: str, end: int) -> list[Finding]:
    """PRG-AI-036: literal credentials in an AI plugin's config (declarative entry or KongPlugin CRD)."""
    out: list[Finding] = []

    def walk(node: Any, trail: str) -> None:
        if isinstance(node, LDict):
            for key, value in node.items():
                if key in _CRED_KEYS and isinstance(value, str) and value.strip() and not _vault(value):
                    out.append(
                        finding(
                            BY_ID["PRG-AI-036"],
                            path,
                            line_of(node, key),
                            end,
                            f"{owner}{trail}.{key}",
                            f"{plugin.get('name') or plugin.get('plugin')} plugin of {owner} holds "
                            f"{key} inline ({describe(value)}): use a {{vault://…}} reference and "
                            "rotate the credential.",
                        )
                    )
                else:
                    walk(value, f"{trail}.{key}")
        elif isinstance(node, LList):
            for i, item in enumerate(node):
                walk(item, f"{trail}[{i}]")

    walk(plugin.get("config"), "")
    return out


def _vault(value: str) -> bool:
    return value.strip().startswith("{vault://") or "${" in value


def _names(plugins: Any) -> set[str]:
    return {str(p.get("name")) for p in seq(plugins) if isinstance(p, dict)}


def kong(root: LDict, path: str) -> list[Finding]:
    out: list[Finding] = []
    end = root.end_line
    scoped: dict[str, set[str]] = {"global": set()}
    ai: list[tuple[LDict, str, list[str]]] = []  # (plugin, owner, scopes that apply)
    for plugin in seq(root.get("plugins")):
        if isinstance(plugin, LDict):
            scope = (
                f"route:{plugin['route']}"
                if plugin.get("route")
                else (f"service:{plugin['service']}" if plugin.get("service") else "global")
            )
            scoped.setdefault(scope, set()).add(str(plugin.get("name")))
            if scalar(plugin.get("name")) in _AI_PLUGINS:
                ai.append((plugin, scope, ["global", scope]))
    routes: list[tuple[LDict, str | None]] = [
        (r, None) for r in seq(root.get("routes")) if isinstance(r, LDict)
    ]
    for service in seq(root.get("services")):
        if not isinstance(service, LDict):
            continue
        sname = f"service:{service.get('name')}"
        scoped.setdefault(sname, set()).update(_names(service.get("plugins")))
        ai.extend(
            (p, sname, ["global", sname])
            for p in seq(service.get("plugins"))
            if isinstance(p, LDict) and scalar(p.get("name")) in _AI_PLUGINS
        )
        routes.extend((r, sname) for r in seq(service.get("routes")) if isinstance(r, LDict))
    for route, sname in routes:
        rname = f"route:{route.get('name')}"
        sname = sname or (f"service:{route['service']}" if isinstance(route.get("service"), str) else None)
        scoped.setdefault(rname, set()).update(_names(route.get("plugins")))
        scopes = ["global", rname, *([sname] if sname else [])]
        ai.extend(
            (p, rname, scopes)
            for p in seq(route.get("plugins"))
            if isinstance(p, LDict) and scalar(p.get("name")) in _AI_PLUGINS
        )
    for plugin, owner, scopes in ai:
        out.extend(inline_credentials(plugin, path, owner, end))
        active = set().union(*(scoped.get(s, set()) for s in scopes))
        line = line_of(plugin, "name", plugin.line)
        if not active & _AUTH_PLUGINS:
            out.append(
                finding(
                    BY_ID["PRG-AI-037"],
                    path,
                    line,
                    plugin.end_line,
                    f"kong/{owner}/auth",
                    f"{plugin.get('name')} on {owner} has no auth plugin on its route, service or "
                    "globally: anyone can spend the upstream model key.",
                )
            )
        if not active & _RATE_PLUGINS:
            out.append(
                finding(
                    BY_ID["PRG-AI-038"],
                    path,
                    line,
                    plugin.end_line,
                    f"kong/{owner}/rate",
                    f"{plugin.get('name')} on {owner} has no rate-limiting plugin on its route, service "
                    "or globally.",
                )
            )
        if not (active & _LOG_PLUGINS or _logs_statistics(plugin)):
            out.append(
                finding(
                    BY_ID["PRG-AI-040"],
                    path,
                    line,
                    plugin.end_line,
                    f"kong/{owner}/logging",
                    f"{plugin.get('name')} on {owner} keeps no request log: config.logging."
                    "log_statistics is off (the default) and no log plugin applies.",
                )
            )
    return out


def _logs_statistics(plugin: LDict) -> bool:
    config = plugin.get("config")
    logging = config.get("logging") if isinstance(config, dict) else None
    return isinstance(logging, dict) and logging.get("log_statistics") is True
