"""Regenerate `checkov_severities.json`, prguard's severity for every check the installed checkov knows.

Offline, checkov reports no severity (its severities come from the Prisma Cloud API), so prguard ships its
own table. This script lists every check of checkov's registries (`checkov.docs_generator.get_checks`, the
list `checkov --list` prints) and classifies each by what its name says, first match wins:

- critical: public exposure of data or endpoints, wildcard IAM, privileged containers, secrets in config;
- high: encryption or authentication off, logging/auditing off (on the resources checkov checks, which are
  the security-relevant ones);
- medium: network and data protection hygiene (security groups, backups, deletion protection, …) and
  anything not matched below;
- low: operational hygiene (descriptions, tags, probes, resource limits, pinned versions, lifecycle).

Entries in `OVERRIDES` win over the keywords. Run it with checkov's own interpreter after a checkov upgrade
(`.venv/engines/checkov/bin/python -m checks.iac.severity_gen` from the repository root) and review the diff;
`tests/test_iac_severities.py` fails while an installed check is missing from the table.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

TABLE = Path(__file__).with_name("checkov_severities.json")

#: (severity, why, pattern on the check's name), first match wins
RULES: list[tuple[str, str, re.Pattern[str]]] = [
    ("critical", "secret in config", re.compile(
        r"hard[- ]?coded|plain ?text|clear ?text|secrets? (?:are|is) not (?:stored|exposed|passed)|"
        r"(?:password|secret|credential|access key|api key)s? .*(?:environment variables|user ?data|in the "
        r"(?:template|provider|url|definition))|no (?:secrets|credentials)|expos\w* secrets?", re.I)),
    ("critical", "wildcard IAM", re.compile(
        r"wildcard|\"\*\"|'\*'|\*:\*|full (?:administrative|admin)|admin(?:istrator)? (?:access|privileges)|"
        r"cluster-admin|privilege escalation|iam:passrole|assume.*any|all (?:actions|resources|principals)|"
        r"star (?:actions|principal)", re.I)),
    ("critical", "privileged container", re.compile(
        r"privileged|host ?(?:network|pid|ipc|path)|docker\.sock|docker socket|sys_admin|\bas root\b", re.I)),
    ("critical", "public exposure", re.compile(
        r"public(?:ly)?|0\.0\.0\.0|::/0|internet|anonymous|unrestricted|open to the world|any ip|"
        r"all ip|exposed?\b|unauthenticated", re.I)),
    ("high", "encryption off", re.compile(
        r"encrypt|\bkms\b|\bcmk\b|customer[- ]managed key|\btls\b|\bssl\b|https|cipher|certificate|"
        r"in transit|at rest|double encryption|secure transfer", re.I)),
    ("high", "authentication off", re.compile(
        r"auth|\bmfa\b|multi[- ]factor|\biam\b|\brbac\b|password|token|credential|api key|access key|"
        r"active directory|\bsso\b|identity", re.I)),
    ("high", "logging off", re.compile(
        r"logg?(?:ing|s)?\b|audit|cloudtrail|trail|flow log|monitor|diagnostic|threat detection|"
        r"defender|guardduty|security (?:center|hub|alert)|vulnerability (?:assessment|scan)", re.I)),
    ("critical", "root user", re.compile(r"\broot\b", re.I)),
    ("low", "operational hygiene", re.compile(
        r"descri|\btags?\b|\blabels?\b|healthcheck|probe|limits?\b|requests? should|lifecycle|notification|"
        r"replication|latest|digest|version|naming|name\b|tag\b|backup retention|retention|"
        r"deletion protection|termination protection|auto ?scal|update|upgrade|maintenance|apt-get|yum|"
        r"\bpip\b|\bnpm\b|copy|maintainer|workdir|timeout|concurrency|memory|cpu", re.I)),
]

#: hand-reviewed exceptions to the keyword rules: id → (severity, why)
OVERRIDES: dict[str, tuple[str, str]] = {
    "CKV_DOCKER_2": ("low", "operational hygiene"),      # HEALTHCHECK missing
    "CKV_DOCKER_3": ("medium", "runs as root"),           # no USER: container runs as root by default
    "CKV_DOCKER_8": ("medium", "runs as root"),           # last USER is root
    "CKV_K8S_23": ("medium", "runs as root"),             # root containers admitted
    "CKV_K8S_40": ("low", "operational hygiene"),        # high UID
    "CKV_K8S_21": ("low", "operational hygiene"),        # default namespace
    "CKV_K8S_14": ("low", "operational hygiene"),        # image tag latest
    "CKV_K8S_43": ("low", "operational hygiene"),        # image digest
    "CKV_AWS_23": ("low", "operational hygiene"),        # security group rule descriptions
    "CKV_AWS_18": ("high", "logging off"),               # S3 access logging
    "CKV_AWS_20": ("critical", "public exposure"),       # S3 public-read ACL
    "CKV_AWS_24": ("critical", "public exposure"),       # SSH open to 0.0.0.0/0
    "CKV_AWS_25": ("critical", "public exposure"),       # RDP open to 0.0.0.0/0
    "CKV_AWS_260": ("critical", "public exposure"),      # HTTP open to 0.0.0.0/0
    "CKV_K8S_16": ("critical", "privileged container"),
    "CKV_K8S_20": ("high", "privilege escalation allowed"),
    "CKV_AWS_1": ("critical", "wildcard IAM"),
    "CKV_AWS_41": ("critical", "secret in config"),      # hard-coded AWS keys in the provider
    "CKV_AWS_45": ("critical", "secret in config"),      # secrets in Lambda environment
    "CKV_AWS_46": ("critical", "secret in config"),      # secrets in EC2 user data
}
#: id prefixes whose every check has one severity: checkov's secrets framework finds keys in files
PREFIX_OVERRIDES: dict[str, tuple[str, str]] = {"CKV_SECRET_": ("critical", "secret in config")}
DEFAULT = ("medium", "default: security hygiene")


def classify(check_id: str, name: str) -> tuple[str, str]:
    if check_id in OVERRIDES:
        return OVERRIDES[check_id]
    for prefix, verdict in PREFIX_OVERRIDES.items():
        if check_id.startswith(prefix):
            return verdict
    if re.search(r"signature|untrusted|--no-check|insecure|verification", name, re.I):
        return "high", "integrity checks off"
    for severity, why, pattern in RULES:
        if pattern.search(name):
            return severity, why
    return DEFAULT


def installed_checks() -> list[tuple[str, str, str]]:
    """(id, name, framework) of every check in the installed checkov's registries (needs checkov)."""
    from checkov.docs_generator import get_checks

    seen: dict[str, tuple[str, str, str]] = {}
    for check_id, _type, _entity, name, framework, _link in get_checks(["all"]):
        seen.setdefault(check_id, (check_id, name, framework))
    return sorted(seen.values())


def main() -> int:
    import checkov.version

    checks = {}
    for check_id, name, framework in installed_checks():
        severity, why = classify(check_id, name)
        checks[check_id] = {"severity": severity, "why": why, "framework": framework, "name": name}
    TABLE.write_text(json.dumps({"checkov_version": checkov.version.version, "checks": checks},
                                indent=0, sort_keys=True) + "\n")
    print(f"{len(checks)} checks written to {TABLE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
