"""The IaC / CI-config check: checkov, zizmor and prguard's AI-infrastructure rules on what a change adds."""

from checks.iac.check import IacCheck

__all__ = ["IacCheck"]
