"""Issue 11: `REDIS_URL=rediss://…` really works — the App over TLS to a redis-server that only speaks TLS.

A throwaway CA and a server certificate for 127.0.0.1 are made with `cryptography`; redis-server listens on a
TLS port only (`--port 0`). `prguard serve` and `prguard worker` run as subprocesses with
`REDIS_URL=rediss://127.0.0.1:PORT/0?ssl_ca_certs=CA.pem` (redis-py's URL query parameters, which every
prguard client is built from) and a delivered PR gets its four runs. A plain `redis://` client on the same
port gets a connection error, and a `rediss://` client that does not trust the CA fails verification: the
traffic is TLS, and the certificate is checked.
"""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.app_processes import AppProcesses, all_completed, wait_for
from tests.e2e_stack import pr_payload
from tests.github_double.double import GitHubDouble
from tests.redis_server import free_port, reachable


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def _builder(subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey
             ) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1)))


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """(ca.pem, server.pem, server.key): a self-signed CA and a server certificate for 127.0.0.1."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    usage = x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                          key_encipherment=False, data_encipherment=False, key_agreement=False,
                          encipher_only=False, decipher_only=False)
    ca = (_builder(_name("prguard test CA"), _name("prguard test CA"), ca_key)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(usage, critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (_builder(_name("127.0.0.1"), ca.subject, key)
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_pem, cert_pem, key_pem = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key_pem, key)
    return ca_pem, cert_pem, key_pem


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """(TLS port, CA file) of a private redis-server that listens on TLS only."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed (.ci/run installs it with apt-get)"
    ca, cert, key = make_certificates(tmp_path)
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1", "--tls-cert-file", str(cert),
         "--tls-key-file", str(key), "--tls-ca-cert-file", str(ca), "--tls-auth-clients", "no",
         "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 10
        while not reachable("127.0.0.1", port):
            if proc.poll() is not None:  # a build without TLS stops at once: say so, never skip
                pytest.fail("this redis-server cannot serve TLS (a build without BUILD_TLS=yes?): "
                            + (proc.stdout.read() if proc.stdout else "")[-800:])
            assert time.monotonic() < deadline, "redis-server did not open its TLS port in 10 s"
            time.sleep(0.02)
        yield port, ca
    finally:
        proc.kill()
        proc.wait(5)


def test_a_plain_client_cannot_talk_to_the_tls_port_and_the_ca_is_checked(
    tls_redis: tuple[int, Path],
) -> None:
    port, ca = tls_redis
    plain = redis.Redis.from_url(f"redis://127.0.0.1:{port}/0", socket_timeout=3, socket_connect_timeout=3)
    with pytest.raises(redis.ConnectionError):
        plain.ping()
    plain.close()
    untrusted = redis.Redis.from_url(f"rediss://127.0.0.1:{port}/0", socket_timeout=3,
                                     socket_connect_timeout=3)
    with pytest.raises(redis.ConnectionError, match=r"(?i)certificate verify failed"):
        untrusted.ping()  # the system's CAs do not know this one: verification is on
    untrusted.close()
    trusted = redis.Redis.from_url(f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={ca}", socket_timeout=3)
    assert trusted.ping() is True
    trusted.close()


@pytest.mark.timeout(90)
def test_the_app_runs_over_rediss_with_its_ca(github_double: GitHubDouble, tls_redis: tuple[int, Path],
                                               tmp_path: Path) -> None:
    port, ca = tls_redis
    url = f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={ca}"
    prefix = f"prguard-tls-{uuid.uuid4().hex[:8]}"
    inst = github_double.add_installation("octo")
    github_double.add_repo("octo/repo", installation_id=inst, files={"README.md": b"hello\n"})
    pr = github_double.create_pull_request("octo/repo", changes={"src/app.py": (None, b"VALUE = 1\n")})
    with AppProcesses(github_double, url, prefix, tmp_path, concurrency=1) as app:
        reply = app.deliver(pr_payload(pr, inst))
        assert reply.status_code == 202, reply.text
        wait_for(lambda: all_completed(github_double, pr.head_sha), 45, "the PR's four runs over TLS")
        app.assert_running()
    # the jobs really went through this server: the App's stream and its consumer group are there
    client = redis.Redis.from_url(url)
    try:
        assert client.xlen(f"{prefix}:jobs") >= 1
        assert client.xinfo_groups(f"{prefix}:jobs")
    finally:
        client.close()
