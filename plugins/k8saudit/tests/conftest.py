from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def traces(upstream: Path) -> Path:
    """Falco's k8s audit trace files (JSON Lines of real audit events)."""
    return upstream / "falco-tests" / "trace_files" / "k8s_audit"


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="session")
def pki(tmp_path_factory) -> Path:
    """A CA, a server certificate for 127.0.0.1 (cert+key in one PEM, as sslCertificate wants)
    and a client certificate, made with the openssl command."""
    d = tmp_path_factory.mktemp("pki")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
             "ca.pem", "-days", "2", "-subj", "/CN=test-ca", cwd=d)
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1"),
                      ("client", "extendedKeyUsage=clientAuth")):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out",
                 f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
        (d / f"{name}.ext").write_text(ext + "\n")
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile",
                 f"{name}.ext", cwd=d)
        (d / f"{name}.pem").write_bytes((d / f"{name}.crt").read_bytes()
                                        + (d / f"{name}.key").read_bytes())
    return d


@pytest.fixture(scope="session")
def tls_client(pki: Path):
    """``tls_client(with_cert)``: a client SSL context trusting the test CA."""

    def make(with_cert: bool) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
        if with_cert:
            ctx.load_cert_chain(str(pki / "client.crt"), str(pki / "client.key"))
        return ctx

    return make
