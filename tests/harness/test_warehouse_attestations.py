"""The Warehouse fake verifies an upload's `attestations` field against the publisher its token was
minted for, and answers a refusal as Warehouse does (400, the text in the body and status line)."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest
import requests

from pypi_publish.attestations import sign_all
from pypi_publish.gha import Console
from pypi_publish.retry import RetryPolicy
from tests.fakes.attestation_check import PREFIX, AttestationCheck
from tests.fakes.github_oidc import GitHubOidc
from tests.fakes.sigstore.fixtures import SigstoreStandIns
from tests.fakes.warehouse import Warehouse
from tests.support.archives import write_wheel

WHEEL = "sample_project-1.2.3-py3-none-any.whl"


@pytest.fixture
def wheel(tmp_path: Path) -> Path:
    return write_wheel(tmp_path / "dist", "sample-project", "1.2.3")


def attestations_for(path: Path, github_oidc: GitHubOidc, stand_ins: SigstoreStandIns) -> str:
    signed = sign_all([path], lambda: github_oidc.token("sigstore"), stand_ins.trust_config,
                      RetryPolicy(attempts=2, base_delay=0.01), Console(out=io.StringIO()))
    return signed[path.name].form_value


def upload(warehouse: Warehouse, github_oidc: GitHubOidc, path: Path,
           attestations: str) -> requests.Response:
    minted = requests.post(f"{warehouse.url}/_/oidc/mint-token",
                           json={"token": github_oidc.token("pypi")}, timeout=10).json()["token"]
    fields = {":action": "file_upload", "protocol_version": "1", "name": "sample-project",
              "version": "1.2.3", "filetype": "bdist_wheel", "pyversion": "py3",
              "metadata_version": "2.1", "attestations": attestations,
              "sha256_digest": hashlib.sha256(path.read_bytes()).hexdigest()}
    return requests.post(warehouse.upload_url, data=fields,
                         files={"content": (path.name, path.read_bytes())},
                         auth=("__token__", minted), timeout=30)


def test_a_valid_attestation_is_verified_and_the_file_stored(
        warehouse: Warehouse, github_oidc: GitHubOidc, sigstore_stand_ins: SigstoreStandIns,
        wheel: Path, tmp_path: Path) -> None:
    warehouse.attestations = AttestationCheck(sigstore_stand_ins.trusted_root, tmp_path / "c")
    answer = upload(warehouse, github_oidc, wheel,
                    attestations_for(wheel, github_oidc, sigstore_stand_ins))
    assert answer.status_code == 200, answer.text
    assert warehouse.attestations.accepted == [(WHEEL, 1)]
    assert warehouse.files() == [WHEEL]


def test_an_attestation_for_other_bytes_is_refused_with_warehouses_400(
        warehouse: Warehouse, github_oidc: GitHubOidc, sigstore_stand_ins: SigstoreStandIns,
        wheel: Path, tmp_path: Path) -> None:
    warehouse.attestations = AttestationCheck(sigstore_stand_ins.trusted_root, tmp_path / "c")
    field = attestations_for(wheel, github_oidc, sigstore_stand_ins)
    wheel.write_bytes(wheel.read_bytes() + b"\0")
    answer = upload(warehouse, github_oidc, wheel, field)
    text = (f"{PREFIX}Could not verify the uploaded artifact using the included attestation: "
            "Verification failed: subject does not match distribution digest")
    assert (answer.status_code, answer.reason, answer.text) == (400, text, text)
    assert warehouse.files() == []


def test_an_attestation_from_another_workflow_is_refused(
        warehouse: Warehouse, github_oidc: GitHubOidc, sigstore_stand_ins: SigstoreStandIns,
        wheel: Path, tmp_path: Path) -> None:
    warehouse.attestations = AttestationCheck(sigstore_stand_ins.trusted_root, tmp_path / "c")
    field = attestations_for(wheel, github_oidc, sigstore_stand_ins)  # signed in `publish.yml`
    warehouse.publisher.workflow_file = "release.yml"  # the token is minted for `release.yml`
    github_oidc.workflow.workflow_file = "release.yml"
    answer = upload(warehouse, github_oidc, wheel, field)
    assert answer.status_code == 400
    assert "does not match expected Trusted Publisher (release.yml @ octo-org/sample-project)" \
        in answer.text
    assert warehouse.files() == []


def test_attestations_without_a_trusted_root_are_refused(
        warehouse: Warehouse, github_oidc: GitHubOidc, wheel: Path) -> None:
    answer = upload(warehouse, github_oidc, wheel, json.dumps([{}]))
    assert answer.status_code == 400
    assert warehouse.files() == []
