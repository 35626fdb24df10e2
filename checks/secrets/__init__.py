"""The secrets check: detect-secrets' detectors plus prguard's LLM / AI provider key detectors.

`SecretsCheck` is what the registry creates; `scanner.scan_bytes` is the per-file engine behind it.
"""

from checks.secrets.check import SecretsCheck, SecretsScanError

__all__ = ["SecretsCheck", "SecretsScanError"]
