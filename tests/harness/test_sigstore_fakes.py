"""The Sigstore stand-ins are good enough for the real `sigstore` client, and their faults work."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import requests
from cryptography import x509
from pypi_attestations import Attestation, Distribution, GitHubPublisher
from sigstore._internal.fulcio.client import FulcioClientError
from sigstore._internal.rekor import RekorClientError
from sigstore.errors import VerificationError
from sigstore.models import ClientTrustConfig
from sigstore.oidc import IdentityToken
from sigstore.sign import SigningContext
from sigstore.verify import Verifier

from tests.fakes.github_oidc import GitHubOidc
from tests.fakes.sigstore.fixtures import SigstoreStandIns
from tests.fakes.sigstore.fulcio import INVALID_IDENTITY_TOKEN, Fulcio
from tests.fakes.sigstore.rekor import Rekor
from tests.fakes.sigstore.trust import write_trust_config

pytest_plugins = ["tests.fakes.sigstore.fixtures"]

WHEEL = "sample_project-1.2.3-py3-none-any.whl"
PUBLISHER = GitHubPublisher(repository="octo-org/sample-project", workflow="publish.yml")


def config_of(stand_ins: SigstoreStandIns) -> ClientTrustConfig:
    return ClientTrustConfig.from_json(stand_ins.trust_config.read_text())


def sign(stand_ins: SigstoreStandIns, token: str, path: Path) -> Attestation:
    context = SigningContext.from_trust_config(config_of(stand_ins))
    with context.signer(IdentityToken(token)) as signer:
        return Attestation.sign(signer, Distribution.from_file(path))


@pytest.fixture
def wheel(tmp_path: Path) -> Path:
    path = tmp_path / WHEEL
    path.write_bytes(b"not really a wheel, but its digest is what gets signed")
    return path


def test_real_client_signs_and_verifies_a_publish_attestation(
        sigstore_stand_ins: SigstoreStandIns, github_oidc: GitHubOidc, wheel: Path) -> None:
    attestation = sign(sigstore_stand_ins, github_oidc.token("sigstore"), wheel)
    verifier = Verifier(trusted_root=config_of(sigstore_stand_ins).trusted_root)
    kind, payload = verifier.verify_dsse(attestation.to_bundle(), PUBLISHER._as_policy())
    assert kind == "application/vnd.in-toto+json"
    assert json.loads(payload)["predicateType"] == "https://docs.pypi.org/attestations/publish/v1"


def test_real_client_signs_and_verifies_an_artifact(
        sigstore_stand_ins: SigstoreStandIns, github_oidc: GitHubOidc) -> None:
    context = SigningContext.from_trust_config(config_of(sigstore_stand_ins))
    with context.signer(IdentityToken(github_oidc.token("sigstore"))) as signer:
        bundle = signer.sign_artifact(b"some bytes")
    verifier = Verifier(trusted_root=config_of(sigstore_stand_ins).trusted_root)
    verifier.verify_artifact(b"some bytes", bundle, PUBLISHER._as_policy())
    with pytest.raises(VerificationError):
        verifier.verify_artifact(b"other bytes", bundle, PUBLISHER._as_policy())


def test_certificate_names_the_workflow_as_fulcio_does(
        sigstore_stand_ins: SigstoreStandIns, github_oidc: GitHubOidc, wheel: Path) -> None:
    attestation = sign(sigstore_stand_ins, github_oidc.token("sigstore"), wheel)
    leaf = x509.load_der_x509_certificate(attestation.verification_material.certificate)
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    workflow = github_oidc.workflow
    assert san.critical
    assert san.value.get_values_for_type(x509.UniformResourceIdentifier) == [
        f"https://github.com/{workflow.job_workflow_ref}"]
    assert attestation.certificate_claims["1.3.6.1.4.1.57264.1.12"] == \
        f"https://github.com/{workflow.repository}"
    assert attestation.certificate_claims["1.3.6.1.4.1.57264.1.14"] == workflow.ref
    assert (leaf.not_valid_after_utc - leaf.not_valid_before_utc).total_seconds() == 600


def test_certificate_lifetime_follows_the_knob(
        sigstore_stand_ins: SigstoreStandIns, github_oidc: GitHubOidc, wheel: Path) -> None:
    sigstore_stand_ins.fulcio.lifetime = 7
    attestation = sign(sigstore_stand_ins, github_oidc.token("sigstore"), wheel)
    leaf = x509.load_der_x509_certificate(attestation.verification_material.certificate)
    assert (leaf.not_valid_after_utc - leaf.not_valid_before_utc).total_seconds() == 7


def test_fulcio_refuses_a_token_for_another_audience(
        sigstore_stand_ins: SigstoreStandIns, github_oidc: GitHubOidc) -> None:
    fulcio = sigstore_stand_ins.fulcio
    answer = requests.post(fulcio.url + "/api/v2/signingCert", json={},
                           headers={"Authorization": f"Bearer {github_oidc.token('pypi')}"},
                           timeout=10)
    assert (answer.status_code, answer.json()["message"]) == (401, INVALID_IDENTITY_TOKEN)
    assert fulcio.issued == 0


def test_fulcio_refuses_a_token_from_an_unknown_key(
        sigstore_stand_ins: SigstoreStandIns, wheel: Path) -> None:
    with GitHubOidc() as stranger, pytest.raises(FulcioClientError):  # same issuer, another key
        sign(sigstore_stand_ins, stranger.token("sigstore"), wheel)
    assert sigstore_stand_ins.fulcio.issued == 0


def test_verifier_refuses_an_attestation_from_another_instance(
        sigstore_stand_ins: SigstoreStandIns, github_oidc: GitHubOidc, wheel: Path,
        tmp_path: Path) -> None:
    with Fulcio({github_oidc.issuer: github_oidc.key.public_key()}) as fulcio, Rekor() as rekor:
        other = write_trust_config(tmp_path / "other.json", fulcio, rekor)
        context = SigningContext.from_trust_config(ClientTrustConfig.from_json(other.read_text()))
        with context.signer(IdentityToken(github_oidc.token("sigstore"))) as signer:
            attestation = Attestation.sign(signer, Distribution.from_file(wheel))
    verifier = Verifier(trusted_root=config_of(sigstore_stand_ins).trusted_root)
    with pytest.raises(VerificationError):
        verifier.verify_dsse(attestation.to_bundle(), PUBLISHER._as_policy())


def test_log_proves_each_entry_against_a_growing_tree(
        sigstore_stand_ins: SigstoreStandIns, github_oidc: GitHubOidc, wheel: Path) -> None:
    token = github_oidc.token("sigstore")
    first, second, third = (sign(sigstore_stand_ins, token, wheel) for _ in range(3))
    verifier = Verifier(trusted_root=config_of(sigstore_stand_ins).trusted_root)
    for attestation in (first, second, third):
        verifier.verify_dsse(attestation.to_bundle(), PUBLISHER._as_policy())
    proof = third.verification_material.transparency_entries[0]["inclusionProof"]
    assert (proof["logIndex"], proof["treeSize"], len(proof["hashes"])) == ("2", "3", 1)
    log = requests.get(sigstore_stand_ins.rekor.url + "/api/v1/log", timeout=10).json()
    assert log["treeSize"] == 3
    assert log["rootHash"] == base64.b64decode(proof["rootHash"]).hex()


def test_verifier_refuses_a_log_entry_with_a_changed_body(
        sigstore_stand_ins: SigstoreStandIns, github_oidc: GitHubOidc, wheel: Path) -> None:
    attestation = sign(sigstore_stand_ins, github_oidc.token("sigstore"), wheel)
    entry = attestation.verification_material.transparency_entries[0]
    body = json.loads(base64.b64decode(entry["canonicalizedBody"]))
    body["spec"]["payloadHash"]["value"] = "0" * 64
    entry["canonicalizedBody"] = base64.b64encode(json.dumps(body).encode()).decode()
    verifier = Verifier(trusted_root=config_of(sigstore_stand_ins).trusted_root)
    with pytest.raises(VerificationError, match="inclusion proof"):
        verifier.verify_dsse(attestation.to_bundle(), PUBLISHER._as_policy())


def test_log_answers_the_next_requests_with_502_then_logs(
        sigstore_stand_ins: SigstoreStandIns, github_oidc: GitHubOidc, wheel: Path) -> None:
    rekor = sigstore_stand_ins.rekor
    rekor.faults.fail_next = 2
    token = github_oidc.token("sigstore")
    for _ in range(2):
        with pytest.raises(RekorClientError, match="HTTP 502"):
            sign(sigstore_stand_ins, token, wheel)
    sign(sigstore_stand_ins, token, wheel)
    assert (rekor.faults.requests, rekor.faults.faulted, len(rekor.entries)) == (3, 2, 1)


def test_down_service_answers_every_request_with_503(
        sigstore_stand_ins: SigstoreStandIns, github_oidc: GitHubOidc, wheel: Path) -> None:
    sigstore_stand_ins.fulcio.faults.down = True
    for _ in range(2):
        with pytest.raises(FulcioClientError) as raised:
            sign(sigstore_stand_ins, github_oidc.token("sigstore"), wheel)
        cause = raised.value.__cause__
        assert isinstance(cause, requests.HTTPError)
        assert cause.response is not None and cause.response.status_code == 503
    assert sigstore_stand_ins.fulcio.issued == 0
