"""prguard's severity table for checkov: it covers every check the installed checkov knows, and its classes
say what docs/iac.md says they say."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from checks.finding import Severity
from checks.iac import severities
from checks.iac.engines import checkov_path

#: lists every check of checkov's registries (resource, data, provider, module and graph checks of every
#: framework): the list `checkov --list` prints
ENUMERATE = ("import json; from checkov.docs_generator import get_checks; "
             "print(json.dumps(sorted({c[0] for c in get_checks(['all'])})))")


def installed_checkov_ids() -> set[str]:
    python = Path(checkov_path()).with_name("python")
    done = subprocess.run([str(python), "-c", ENUMERATE], capture_output=True, timeout=100, check=True)
    return set(json.loads(done.stdout))


def test_the_table_covers_every_check_of_the_installed_checkov() -> None:
    installed = installed_checkov_ids()
    assert len(installed) > 1000  # the registries really were loaded
    missing = sorted(installed - severities.table_ids())
    assert not missing, f"{len(missing)} checkov ids have no severity: {missing[:20]} (run severity_gen)"


def test_the_issue_s_critical_classes() -> None:
    critical = {
        "CKV_AWS_20": "S3 bucket ACL allows public read",
        "CKV_AWS_24": "SSH open to 0.0.0.0/0",
        "CKV_AWS_1": "IAM policy document allows *:*",
        "CKV_K8S_16": "privileged container",
        "CKV_AWS_41": "AWS keys hard-coded in the provider",
        "CKV_SECRET_6": "a high-entropy secret in a file",
    }
    assert {i: severities.checkov_severity(i) for i in critical} == dict.fromkeys(critical, Severity.CRITICAL)


def test_encryption_auth_and_logging_off_are_high_and_hygiene_is_low() -> None:
    assert severities.checkov_severity("CKV_AWS_19") is Severity.HIGH  # S3 not encrypted at rest
    assert severities.checkov_severity("CKV_AWS_18") is Severity.HIGH  # S3 access logging off
    assert severities.checkov_severity("CKV_K8S_8") is Severity.LOW  # liveness probe
    assert severities.checkov_severity("CKV_DOCKER_2") is Severity.LOW  # HEALTHCHECK


def test_an_id_the_table_does_not_know_gets_its_documented_default() -> None:
    assert severities.checkov_severity("CKV_SECRET_999") is Severity.CRITICAL
    assert severities.checkov_severity("CKV_DOCKER_999") is Severity.LOW
    assert severities.checkov_severity("CKV_NEWCLOUD_1") is Severity.MEDIUM


def test_zizmor_severity_is_kept_and_lowered_one_step_on_low_confidence() -> None:
    assert severities.zizmor_severity("High", "High") is Severity.HIGH
    assert severities.zizmor_severity("High", "Low") is Severity.MEDIUM
    assert severities.zizmor_severity("Informational", "Medium") is Severity.INFO
    assert severities.zizmor_cicd("template-injection") == "CICD-SEC-4"
    assert severities.zizmor_cicd("some-future-audit") == severities.CICD_DEFAULT
    assert set(severities.ZIZMOR_CICD.values()) <= set(severities.CICD_RISKS)


def test_remediation_is_written_from_the_check_name() -> None:
    fix = severities.remediation_from_name(
        "Ensure that S3 bucket has a Public Access block", "aws_s3_bucket.a")
    assert fix == "Change `aws_s3_bucket.a` so that S3 bucket has a Public Access block."
    assert severities.remediation_from_name("Ensure the last USER is not root", "") == (
        "Make sure that the last USER is not root.")
