"""HTTPS to an index with a private CA: trusted through SSL_CERT_FILE, explained when not."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import BuiltDists, RunAction
from tests.support.canned_index import CannedAnswer, CannedIndex
from tests.support.index_server import IndexServer
from tests.support.secret_sweep import new_secret
from tests.support.tls_proxy import TlsRelay, make_ca_and_server_cert


def workspace_for(built_dists: BuiltDists, tmp_path: Path) -> Path:
    workspace = tmp_path / "ws"
    shutil.copytree(built_dists(), workspace / "dist")
    return workspace


def test_untrusted_certificate_is_explained_and_not_retried(
    index: IndexServer, built_dists: BuiltDists, run_action: RunAction, tmp_path: Path
) -> None:
    _, cert, key = make_ca_and_server_cert(tmp_path)
    with TlsRelay(index.port, cert, key) as relay:
        run = run_action(workspace_for(built_dists, tmp_path), {"repository-url": relay.url},
                         {"PYPI_API_TOKEN": index.password})
    assert run.returncode == 1
    # Found by the listing's first request: no file is sent to a host that cannot be trusted.
    assert (f"Could not reach the index at {relay.url}: TLS verification failed: the certificate "
            "is not signed by a trusted authority; nothing was uploaded.") in run.stdout
    assert "point `SSL_CERT_FILE` or `REQUESTS_CA_BUNDLE` at its CA bundle" in run.stdout
    assert index.files() == []


def test_private_ca_from_ssl_cert_file_is_trusted(
    index: IndexServer, built_dists: BuiltDists, run_action: RunAction, tmp_path: Path
) -> None:
    ca, cert, key = make_ca_and_server_cert(tmp_path)
    with TlsRelay(index.port, cert, key) as relay:
        run = run_action(workspace_for(built_dists, tmp_path), {"repository-url": relay.url},
                         {"PYPI_API_TOKEN": index.password, "SSL_CERT_FILE": str(ca)})
    assert run.returncode == 0, run.text
    assert len(index.files()) == 2


def test_https_to_a_plain_http_port_says_so(
    built_dists: BuiltDists, run_action: RunAction, tmp_path: Path
) -> None:
    with CannedIndex(CannedAnswer(200, "OK")) as plain:
        url = plain.url.replace("http://", "https://")
        run = run_action(workspace_for(built_dists, tmp_path), {"repository-url": url},
                         {"PYPI_API_TOKEN": new_secret("pypi-")})
        assert plain.posts == 0
    assert run.returncode == 1
    assert "the server does not speak TLS on that port (plain http?)" in run.stdout
