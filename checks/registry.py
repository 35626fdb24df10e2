"""The single place checks are registered.

Adding a check is one module implementing `checks.base.Check` and one line here. Names listed with `None`
are announced but not built yet: the App reports them as `neutral` "not yet available", never `success`.
"""

from __future__ import annotations

from collections.abc import Callable

from checks.base import Check


def _secrets() -> Check:
    from checks.secrets import SecretsCheck

    return SecretsCheck()


def _dependencies() -> Check:
    from checks.dependencies.check import DependenciesCheck

    return DependenciesCheck()


def _iac() -> Check:
    from checks.iac import IacCheck

    return IacCheck()


def _prompt_safety() -> Check:
    from checks.prompt_safety import PromptSafetyCheck

    return PromptSafetyCheck()


#: Every check prguard knows, in reporting order. `None` = not available yet.
REGISTRY: dict[str, Callable[[], Check] | None] = {
    "secrets": _secrets,
    "dependencies": _dependencies,
    "iac": _iac,
    "prompt-safety": _prompt_safety,
}

TITLES: dict[str, str] = {
    "secrets": "Secrets",
    "dependencies": "Dependencies",
    "iac": "IaC / CI config",
    "prompt-safety": "Prompt safety / AI supply chain",
}


def check_names() -> list[str]:
    return list(REGISTRY)


def is_available(name: str) -> bool:
    return REGISTRY.get(name) is not None


def create(name: str) -> Check:
    factory = REGISTRY.get(name)
    if factory is None:
        raise KeyError(f"check {name!r} is not available")
    return factory()

