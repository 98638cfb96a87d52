"""PEP 740 attestations: signed with the real `sigstore` client against loopback stand-ins,
verified as Warehouse verifies them, retried, renewed, brought along, never written to disk."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from pypi_attestations import Attestation, GitHubPublisher

from pypi_publish.attestations import (
    AttestationError,
    Identity,
    Signed,
    attest_all,
    sign_all,
    verify_given,
)
from pypi_publish.gha import Console
from pypi_publish.retry import RetryPolicy
from tests.conftest import BuiltDists
from tests.fakes.attestation_check import check_attestations
from tests.fakes.github_oidc import GitHubOidc
from tests.fakes.sigstore.fixtures import SigstoreStandIns

pytest_plugins = ["tests.fakes.sigstore.fixtures"]

POLICY = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05, total_budget=20,
                     connect_timeout=2, read_timeout=5)
PUBLISHER = GitHubPublisher(repository="octo-org/sample-project", workflow="publish.yml",
                            environment="pypi")
IDENTITY = Identity("octo-org/sample-project", "publish.yml", "pypi")


@pytest.fixture
def dists(built_dists: BuiltDists) -> list[Path]:
    """A real sdist and wheel, and a second wheel (same bytes, another tag)."""
    directory = built_dists()
    wheel = next(directory.glob("*.whl"))
    shutil.copy(wheel, wheel.with_name(wheel.name.replace("py3-none-any", "py2.py3-none-any")))
    return sorted(p for p in directory.iterdir() if p.suffix in (".whl", ".gz"))


@pytest.fixture
def console() -> Console:
    return Console(out=io.StringIO())


def tokens(github_oidc: GitHubOidc) -> Callable[[], str]:
    return lambda: github_oidc.token("sigstore")


def warehouse_verdict(signed: Signed, path: Path, stand_ins: SigstoreStandIns,
                      cache: Path) -> str | None:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return check_attestations(signed.form_value, path.name, digest, PUBLISHER,
                              stand_ins.trusted_root, cache)


def written(console: Console) -> str:
    out = console.out
    assert isinstance(out, io.StringIO)
    return out.getvalue()


def test_every_file_gets_an_attestation_warehouse_accepts(
        dists: list[Path], sigstore_stand_ins: SigstoreStandIns, github_oidc: GitHubOidc,
        console: Console, tmp_path: Path) -> None:
    signed = sign_all(dists, tokens(github_oidc), sigstore_stand_ins.trust_config, POLICY, console)
    assert list(signed) == [p.name for p in dists]
    for path in dists:
        assert warehouse_verdict(signed[path.name], path, sigstore_stand_ins, tmp_path) is None


def test_report_names_predicate_and_log_entry(
        dists: list[Path], sigstore_stand_ins: SigstoreStandIns, github_oidc: GitHubOidc,
        console: Console) -> None:
    signed = sign_all(dists[:1], tokens(github_oidc), sigstore_stand_ins.trust_config, POLICY,
                      console)
    only = signed[dists[0].name]
    assert (only.predicate_type, only.log_index, only.source) == (
        "https://docs.pypi.org/attestations/publish/v1", 0, "signed")
    assert only.log_url == f"{sigstore_stand_ins.rekor.url}/api/v1/log/entries?logIndex=0"
    assert "Attestations: 1 signed (1 signing certificate(s)), 0 given, all verified in " \
        in written(console)


def test_log_answering_502_twice_is_retried(
        dists: list[Path], sigstore_stand_ins: SigstoreStandIns, github_oidc: GitHubOidc,
        console: Console) -> None:
    sigstore_stand_ins.rekor.faults.fail_next = 2
    signed = sign_all(dists, tokens(github_oidc), sigstore_stand_ins.trust_config, POLICY, console)
    assert len(signed) == len(dists)
    assert sigstore_stand_ins.rekor.faults.faulted == 2
    assert written(console).count("Rekor (Sigstore's transparency log): HTTP 502 (`502 Bad "
                                  "Gateway`); retrying in ") == 2


def test_certificate_authority_answering_503_once_is_retried(
        dists: list[Path], sigstore_stand_ins: SigstoreStandIns, github_oidc: GitHubOidc,
        console: Console) -> None:
    sigstore_stand_ins.fulcio.faults.fail_next, sigstore_stand_ins.fulcio.faults.fail_status = 1, 503
    sign_all(dists[:1], tokens(github_oidc), sigstore_stand_ins.trust_config, POLICY, console)
    assert (sigstore_stand_ins.fulcio.faults.requests, sigstore_stand_ins.fulcio.issued) == (2, 1)


def test_log_that_does_not_answer_in_time_is_retried(
        dists: list[Path], sigstore_stand_ins: SigstoreStandIns, github_oidc: GitHubOidc,
        console: Console) -> None:
    faults = sigstore_stand_ins.rekor.faults
    faults.slow_next, faults.slow_for = 1, 1.5
    impatient = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, read_timeout=0.5)
    sign_all(dists[:1], tokens(github_oidc), sigstore_stand_ins.trust_config, impatient, console)
    assert "Rekor (Sigstore's transparency log): the server did not answer in time; retrying" \
        in written(console)


def test_log_down_stops_the_run_naming_the_service_and_its_answer(
        dists: list[Path], sigstore_stand_ins: SigstoreStandIns, github_oidc: GitHubOidc,
        console: Console) -> None:
    sigstore_stand_ins.rekor.faults.down = True
    with pytest.raises(AttestationError) as raised:
        sign_all(dists, tokens(github_oidc), sigstore_stand_ins.trust_config, POLICY, console)
    assert raised.value.message == (
        f"Rekor (Sigstore's transparency log) at {sigstore_stand_ins.rekor.url} answered HTTP 503 "
        "(`503 Service Unavailable`) after 4 attempts; no file was uploaded.")
    assert "https://status.sigstore.dev" in raised.value.hint
    assert sigstore_stand_ins.rekor.entries == []


def test_log_unreachable_stops_the_run_at_once(
        dists: list[Path], sigstore_stand_ins: SigstoreStandIns, github_oidc: GitHubOidc,
        console: Console) -> None:
    sigstore_stand_ins.rekor.http.stop()
    with pytest.raises(AttestationError, match="could not be reached: connection refused; no file"):
        sign_all(dists, tokens(github_oidc), sigstore_stand_ins.trust_config, POLICY, console)


def test_refused_token_is_reported_with_fulcios_answer_and_not_retried(
        dists: list[Path], sigstore_stand_ins: SigstoreStandIns, console: Console) -> None:
    # GitHub's issuer name, a key Fulcio does not know
    with GitHubOidc() as stranger, pytest.raises(AttestationError) as raised:
        sign_all(dists, tokens(stranger), sigstore_stand_ins.trust_config, POLICY, console)
    assert raised.value.message == (
        f"Fulcio (Sigstore's certificate authority) at {sigstore_stand_ins.fulcio.url} answered "
        "HTTP 401 (`There was an error processing the identity token`); no file was uploaded.")
    assert sigstore_stand_ins.fulcio.faults.requests == 1


def test_short_certificates_are_renewed_during_a_long_run(
        built_dists: BuiltDists, sigstore_stand_ins: SigstoreStandIns, github_oidc: GitHubOidc,
        console: Console, tmp_path: Path) -> None:
    wheel = next(built_dists().glob("*.whl"))
    files = []
    for number in range(30):  # 30 files, each taking a slow log's 0.1 s: longer than one certificate
        files.append(wheel.with_name(wheel.name.replace("py3-none-any", f"cp3{number}-none-any")))
        shutil.copy(wheel, files[-1])
    sigstore_stand_ins.fulcio.lifetime = 2
    sigstore_stand_ins.rekor.faults.latency = 0.1
    handed: list[str] = []

    def token() -> str:
        handed.append(github_oidc.token("sigstore"))
        return handed[-1]

    signed = sign_all(files, token, sigstore_stand_ins.trust_config, POLICY, console)
    assert len(signed) == 30
    assert sigstore_stand_ins.fulcio.issued >= 2
    assert len(set(handed)) == sigstore_stand_ins.fulcio.issued  # a fresh token per certificate
    for path in (files[0], files[-1]):
        assert warehouse_verdict(signed[path.name], path, sigstore_stand_ins, tmp_path) is None


def test_nothing_is_written_next_to_the_files_and_a_second_run_works(
        dists: list[Path], sigstore_stand_ins: SigstoreStandIns, github_oidc: GitHubOidc,
        console: Console) -> None:
    before = sorted(p.name for p in dists[0].parent.iterdir())
    first = sign_all(dists, tokens(github_oidc), sigstore_stand_ins.trust_config, POLICY, console)
    second = sign_all(dists, tokens(github_oidc), sigstore_stand_ins.trust_config, POLICY, console)
    assert sorted(p.name for p in dists[0].parent.iterdir()) == before
    assert [s.log_index for s in second.values()] == [s.log_index + len(dists)
                                                       for s in first.values()]


def make_given(path: Path, stand_ins: SigstoreStandIns, github_oidc: GitHubOidc) -> Path:
    """`<file>.publish.attestation` as pypa's action leaves it: the attestation's JSON."""
    signed = sign_all([path], tokens(github_oidc), stand_ins.trust_config, POLICY,
                      Console(out=io.StringIO()))
    given = path.with_name(path.name + ".publish.attestation")
    given.write_text(Attestation.model_validate(signed[path.name].attestation).model_dump_json())
    return given


def test_given_attestation_is_used_instead_of_signing(
        dists: list[Path], sigstore_stand_ins: SigstoreStandIns, github_oidc: GitHubOidc,
        console: Console, tmp_path: Path) -> None:
    given = make_given(dists[0], sigstore_stand_ins, github_oidc)
    issued = sigstore_stand_ins.fulcio.issued
    result = attest_all([(dists[0], given), (dists[1], None)], tokens(github_oidc),
                        sigstore_stand_ins.trust_config, POLICY, console)
    assert [s.source for s in result.values()] == ["given", "signed"]
    assert sigstore_stand_ins.fulcio.issued == issued + 1  # only the second file was signed
    assert warehouse_verdict(result[dists[0].name], dists[0], sigstore_stand_ins, tmp_path) is None


def test_given_attestation_for_other_bytes_is_refused(
        dists: list[Path], sigstore_stand_ins: SigstoreStandIns, github_oidc: GitHubOidc) -> None:
    given = make_given(dists[0], sigstore_stand_ins, github_oidc)
    signed_digest = hashlib.sha256(dists[0].read_bytes()).hexdigest()
    dists[0].write_bytes(dists[0].read_bytes() + b"\0")
    actual = hashlib.sha256(dists[0].read_bytes()).hexdigest()
    with pytest.raises(AttestationError) as raised:
        verify_given(dists[0], given, IDENTITY, sigstore_stand_ins.trust_config)
    assert raised.value.message == (
        f"The attestation in `{given.name}` for `{dists[0].name}` was refused: it is for a file "
        f"with SHA-256 `{signed_digest}`, and `{dists[0].name}` has `{actual}`; no file was "
        "uploaded.")


def test_given_attestation_from_another_workflow_is_refused(
        dists: list[Path], sigstore_stand_ins: SigstoreStandIns, github_oidc: GitHubOidc) -> None:
    github_oidc.workflow.workflow_file = "nightly.yml"
    given = make_given(dists[0], sigstore_stand_ins, github_oidc)
    with pytest.raises(AttestationError, match="does not match expected Trusted Publisher "
                                               r"\(publish.yml @ octo-org/sample-project\)"):
        verify_given(dists[0], given, IDENTITY, sigstore_stand_ins.trust_config)


def test_reusable_workflow_is_refused_before_any_certificate(
        dists: list[Path], sigstore_stand_ins: SigstoreStandIns, github_oidc: GitHubOidc,
        console: Console) -> None:
    github_oidc.workflow.reusable_workflow = \
        "octo-org/shared/.github/workflows/release.yml@refs/heads/main"
    with pytest.raises(AttestationError, match=r"Trusted Publisher's workflow `release\.yml`"):
        sign_all(dists, tokens(github_oidc), sigstore_stand_ins.trust_config, POLICY, console)
    assert sigstore_stand_ins.fulcio.faults.requests == 0


def test_every_id_token_is_masked_before_anything_prints(
        dists: list[Path], sigstore_stand_ins: SigstoreStandIns, github_oidc: GitHubOidc) -> None:
    console = Console(actions=True, out=io.StringIO())
    handed: list[str] = []

    def token() -> str:
        handed.append(github_oidc.token("sigstore"))
        return handed[-1]

    sign_all(dists, token, sigstore_stand_ins.trust_config, POLICY, console)
    lines = written(console).splitlines()
    assert handed and lines[:len(handed)] == [f"::add-mask::{t}" for t in handed]


def test_unreadable_trust_config_names_the_variable(
        dists: list[Path], github_oidc: GitHubOidc, console: Console, tmp_path: Path) -> None:
    broken = tmp_path / "trust.json"
    broken.write_text("{}")
    with pytest.raises(AttestationError, match="from `PYPI_PUBLISH_SIGSTORE_TRUST_CONFIG`"):
        sign_all(dists, tokens(github_oidc), broken, POLICY, console)


def test_signing_config_without_a_rekor_v1_log_is_refused(
        dists: list[Path], sigstore_stand_ins: SigstoreStandIns, github_oidc: GitHubOidc,
        console: Console, tmp_path: Path) -> None:
    config = json.loads(sigstore_stand_ins.trust_config.read_text())
    config["signingConfig"]["rekorTlogUrls"][0]["majorApiVersion"] = 2
    only_v2 = tmp_path / "only-v2.json"
    only_v2.write_text(json.dumps(config))
    with pytest.raises(AttestationError, match="No valid Rekor transparency log found"):
        sign_all(dists, tokens(github_oidc), only_v2, POLICY, console)
    assert sigstore_stand_ins.fulcio.faults.requests == 0


def test_importing_the_module_does_not_import_sigstore() -> None:
    probe = ("import sys, pypi_publish.attestations; "
             "print(sorted({m.split('.')[0] for m in sys.modules} & "
             "{'sigstore', 'pypi_attestations', 'pydantic', 'tuf', 'rfc3161_client'}))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.strip() == "[]"
