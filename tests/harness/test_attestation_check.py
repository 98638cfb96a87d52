"""The fixture index's attestation check accepts what Warehouse accepts and answers its 400 texts."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from pypi_attestations import Attestation, Distribution, GitHubPublisher
from sigstore.models import ClientTrustConfig
from sigstore.oidc import IdentityToken
from sigstore.sign import SigningContext

from tests.fakes.attestation_check import PREFIX, check_attestations
from tests.fakes.github_oidc import GitHubOidc
from tests.fakes.sigstore.fixtures import SigstoreStandIns

pytest_plugins = ["tests.fakes.sigstore.fixtures"]

WHEEL = "sample_project-1.2.3-py3-none-any.whl"
PUBLISHER = GitHubPublisher(repository="octo-org/sample-project", workflow="publish.yml",
                            environment="pypi")


@pytest.fixture
def signed(sigstore_stand_ins: SigstoreStandIns, github_oidc: GitHubOidc,
           tmp_path: Path) -> tuple[Path, str]:
    """A wheel and the `attestations` field a client sends for it."""
    path = tmp_path / WHEEL
    path.write_bytes(b"wheel bytes")
    config = ClientTrustConfig.from_json(sigstore_stand_ins.trust_config.read_text())
    with SigningContext.from_trust_config(config).signer(
            IdentityToken(github_oidc.token("sigstore"))) as signer:
        attestation = Attestation.sign(signer, Distribution.from_file(path))
    return path, json.dumps([attestation.model_dump(mode="json")])


def check(field: str, path: Path, stand_ins: SigstoreStandIns, tmp_path: Path,
          publisher: GitHubPublisher | None = PUBLISHER, digest: str | None = None) -> str | None:
    sha256 = digest or hashlib.sha256(path.read_bytes()).hexdigest()
    return check_attestations(field, path.name, sha256, publisher, stand_ins.trusted_root,
                              tmp_path / "tuf-cache")


def test_accepts_an_attestation_for_the_file_and_publisher(
        signed: tuple[Path, str], sigstore_stand_ins: SigstoreStandIns, tmp_path: Path) -> None:
    path, field = signed
    assert check(field, path, sigstore_stand_ins, tmp_path) is None


def test_refuses_an_attestation_for_other_bytes(
        signed: tuple[Path, str], sigstore_stand_ins: SigstoreStandIns, tmp_path: Path) -> None:
    path, field = signed
    assert check(field, path, sigstore_stand_ins, tmp_path, digest="0" * 64) == (
        f"{PREFIX}Could not verify the uploaded artifact using the included attestation: "
        "Verification failed: subject does not match distribution digest")


def test_refuses_an_attestation_from_another_workflow(
        signed: tuple[Path, str], sigstore_stand_ins: SigstoreStandIns, tmp_path: Path) -> None:
    path, field = signed
    other = GitHubPublisher(repository="octo-org/sample-project", workflow="release.yml")
    answer = check(field, path, sigstore_stand_ins, tmp_path, publisher=other)
    assert answer is not None
    assert answer.startswith(f"{PREFIX}Could not verify the uploaded artifact")
    assert "does not match expected Trusted Publisher (release.yml @ octo-org/sample-project)" \
        in answer


def test_refuses_an_attestation_under_another_trusted_root(
        signed: tuple[Path, str], sigstore_stand_ins: SigstoreStandIns, tmp_path: Path) -> None:
    path, field = signed
    root = sigstore_stand_ins.trusted_root
    root["ctlogs"] = root["tlogs"]  # the SCT no longer verifies
    answer = check_attestations(field, path.name, hashlib.sha256(path.read_bytes()).hexdigest(),
                                PUBLISHER, root, tmp_path / "cache")
    assert answer is not None and "failed to verify SCT" in answer


def test_refuses_attestations_without_trusted_publishing(
        signed: tuple[Path, str], sigstore_stand_ins: SigstoreStandIns, tmp_path: Path) -> None:
    path, field = signed
    assert check(field, path, sigstore_stand_ins, tmp_path, publisher=None) == (
        f"{PREFIX}Attestations are only supported when using Trusted Publishing")


def test_refuses_an_empty_set(signed: tuple[Path, str], sigstore_stand_ins: SigstoreStandIns,
                              tmp_path: Path) -> None:
    path, _ = signed
    assert check("[]", path, sigstore_stand_ins, tmp_path) == (
        f"{PREFIX}Malformed attestations: an empty attestation set is not permitted")


def test_refuses_two_attestations_of_one_predicate_type(
        signed: tuple[Path, str], sigstore_stand_ins: SigstoreStandIns, tmp_path: Path) -> None:
    path, field = signed
    twice = json.dumps(json.loads(field) * 2)
    assert check(twice, path, sigstore_stand_ins, tmp_path) == (
        f"{PREFIX}Multiple attestations for the same file with the same predicate type "
        "(https://docs.pypi.org/attestations/publish/v1) are not supported")


def test_refuses_more_attestations_than_predicate_types(
        signed: tuple[Path, str], sigstore_stand_ins: SigstoreStandIns, tmp_path: Path) -> None:
    path, field = signed
    thrice = json.dumps(json.loads(field) * 3)
    assert check(thrice, path, sigstore_stand_ins, tmp_path) == (
        f"{PREFIX}A maximum of 2 attestations per file are supported")


def test_refuses_malformed_json(signed: tuple[Path, str], sigstore_stand_ins: SigstoreStandIns,
                                tmp_path: Path) -> None:
    path, _ = signed
    answer = check('{"version": 1}', path, sigstore_stand_ins, tmp_path)
    assert answer is not None and answer.startswith(f"{PREFIX}Malformed attestations: ")
