"""The prompt-safety and AI supply-chain check (`prguard/prompt-safety`): see `check.py`."""

from checks.prompt_safety.check import PromptSafetyCheck

__all__ = ["PromptSafetyCheck"]
