"""PEP 740 attestations through the action's front door: signed against loopback Sigstore stand-ins,
sent with every upload, verified by the Warehouse fake as PyPI verifies them, before any upload."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from pypi_attestations import Attestation

from pypi_publish.attestations import sign_all
from pypi_publish.gha import Console
from pypi_publish.retry import RetryPolicy
from tests.conftest import BuiltDists, Run, RunAction, RunCli
from tests.fakes.attestation_check import AttestationCheck
from tests.fakes.github_oidc import GitHubOidc
from tests.fakes.sigstore.fixtures import SigstoreStandIns
from tests.fakes.warehouse import Warehouse
from tests.support.index_server import IndexServer

PUBLISH_V1 = "https://docs.pypi.org/attestations/publish/v1"
SIGNING_POLICY = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.05)


@pytest.fixture
def workspace(built_dists: BuiltDists, tmp_path: Path) -> Path:
    """`dist/` with a real sdist and wheel, and a second wheel (the same bytes, another tag)."""
    dist = tmp_path / "ws" / "dist"
    shutil.copytree(built_dists(), dist)
    wheel = next(dist.glob("*.whl"))
    shutil.copy(wheel, wheel.with_name(wheel.name.replace("py3-none-any", "py2.py3-none-any")))
    return dist.parent


def files_of(workspace: Path) -> list[str]:
    return sorted(p.name for p in (workspace / "dist").iterdir())


def verifying(warehouse: Warehouse, stand_ins: SigstoreStandIns, cache: Path) -> AttestationCheck:
    """Make `warehouse` verify attestations against the stand-ins' trusted root, as PyPI does."""
    warehouse.attestations = AttestationCheck(stand_ins.trusted_root, cache)
    return warehouse.attestations


@dataclass
class Job:
    """One GitHub Actions job: its token endpoint, Sigstore, and the index it publishes to."""

    run_action: RunAction
    workspace: Path
    github: GitHubOidc
    sigstore: SigstoreStandIns
    warehouse: Warehouse
    check: AttestationCheck

    def publish(self, inputs: dict[str, str] | None = None, env: dict[str, str] | None = None,
                warehouse: Warehouse | None = None) -> Run:
        target = warehouse or self.warehouse
        return self.run_action(
            self.workspace, {"repository-url": target.upload_url, **(inputs or {})},
            {**self.github.env(), **self.sigstore.env(), "GITHUB_REF": "refs/tags/v1.2.3",
             "GITHUB_EVENT_NAME": "push", "PYPI_PUBLISH_RETRY_BASE_DELAY": "0.02",
             "PYPI_PUBLISH_RETRY_MAX_DELAY": "0.1", **(env or {})})


@pytest.fixture
def job(run_action: RunAction, workspace: Path, github_oidc: GitHubOidc,
        sigstore_stand_ins: SigstoreStandIns, warehouse: Warehouse, tmp_path: Path) -> Job:
    check = verifying(warehouse, sigstore_stand_ins, tmp_path / "warehouse-cache")
    return Job(run_action, workspace, github_oidc, sigstore_stand_ins, warehouse, check)


def attestation_notices(run: Run) -> list[str]:
    return [line for line in run.stdout.splitlines()
            if line.startswith("::notice") and "attestation" in line.lower()]


def make_given(path: Path, job: Job) -> Path:
    """`<file>.publish.attestation` as pypa's action leaves it: the attestation's JSON."""
    signed = sign_all([path], lambda: job.github.token("sigstore"), job.sigstore.trust_config,
                      SIGNING_POLICY, Console(out=io.StringIO()))
    given = path.with_name(path.name + ".publish.attestation")
    given.write_text(Attestation.model_validate(signed[path.name].attestation).model_dump_json())
    return given


# -- the happy path -------------------------------------------------------------------------------------


def test_every_upload_carries_one_attestation_the_index_verified(job: Job) -> None:
    run = job.publish()
    assert run.returncode == 0, run.text
    assert job.warehouse.files() == files_of(job.workspace)
    assert sorted(job.check.accepted) == [(name, 1) for name in files_of(job.workspace)]
    assert job.check.refused == []


def test_output_names_each_files_predicate_type_and_log_index(job: Job) -> None:
    run = job.publish()
    assert run.returncode == 0, run.text
    attested = json.loads(run.outputs["attestations"])
    assert sorted(attested) == files_of(job.workspace)
    assert {a["predicate_type"] for a in attested.values()} == {PUBLISH_V1}
    assert sorted(a["log_index"] for a in attested.values()) == [0, 1, 2]


def test_summary_links_each_file_to_its_log_entry(job: Job) -> None:
    run = job.publish()
    assert run.returncode == 0, run.text
    assert "| File | Size | SHA-256 | Result | Attestation |" in run.summary
    for name, entry in json.loads(run.outputs["attestations"]).items():
        link = f"{job.sigstore.rekor.url}/api/v1/log/entries?logIndex={entry['log_index']}"
        row = next(line for line in run.summary.splitlines() if line.startswith(f"| `{name}` |"))
        assert row.endswith(f"| [log entry {entry['log_index']}]({link}) |")


def test_log_gives_the_total_signing_time(job: Job) -> None:
    run = job.publish()
    assert run.returncode == 0, run.text
    assert "Attestations: 3 signed (1 signing certificate(s)), 0 given, all verified in " \
        in run.stdout


def test_nothing_is_written_into_the_packages_dir(job: Job) -> None:
    before = files_of(job.workspace)
    assert job.publish().returncode == 0
    assert files_of(job.workspace) == before


def test_two_publishes_in_one_job_both_succeed(job: Job, fresh_index: IndexServer,
                                               tmp_path: Path) -> None:
    with Warehouse(fresh_index, job.github.key.public_key()) as second:
        second_check = verifying(second, job.sigstore, tmp_path / "second-cache")
        first_run = job.publish()  # TestPyPI, say
        second_run = job.publish(warehouse=second)  # then PyPI, from the same `dist/`
        assert (first_run.returncode, second_run.returncode) == (0, 0), second_run.text
        assert second.files() == job.warehouse.files() == files_of(job.workspace)
        assert len(second_check.accepted) == len(job.check.accepted) == 3


# -- when attestations are not made ---------------------------------------------------------------------


def test_token_publish_makes_no_attestations_and_says_why_once(
        run_action: RunAction, workspace: Path, index: IndexServer,
        sigstore_stand_ins: SigstoreStandIns) -> None:
    run = run_action(workspace, {"repository-url": index.url},
                     {"PYPI_API_TOKEN": index.password, **sigstore_stand_ins.env()})
    assert run.returncode == 0, run.text
    assert attestation_notices(run) == [
        "::notice title=No attestations::No PEP 740 attestations were made: Warehouse (PyPI's "
        "index software) accepts attestations only from uploads that use Trusted Publishing, and "
        "this one uses an API token (from `PYPI_API_TOKEN`). Publish with Trusted Publishing to "
        "have the files attested, or set `attestations: false` to drop this notice."]
    assert sigstore_stand_ins.fulcio.faults.requests == 0
    assert json.loads(run.outputs["attestations"]) == {}


def test_attestations_false_sends_none_and_says_nothing(job: Job) -> None:
    run = job.publish({"attestations": "false"})
    assert run.returncode == 0, run.text
    assert job.warehouse.files() == files_of(job.workspace)
    assert (job.check.accepted, job.sigstore.fulcio.faults.requests) == ([], 0)
    assert attestation_notices(run) == []
    assert "Attestation |" not in run.summary


# -- Sigstore's failures ----------------------------------------------------------------------------------


def test_log_answering_502_twice_is_retried_and_the_release_published(job: Job) -> None:
    job.sigstore.rekor.faults.fail_next = 2
    run = job.publish()
    assert run.returncode == 0, run.text
    assert run.stdout.count("Rekor (Sigstore's transparency log): HTTP 502 (`502 Bad Gateway`); "
                            "retrying in ") == 2
    assert len(job.check.accepted) == 3


def test_log_down_stops_the_run_before_any_upload(job: Job) -> None:
    job.sigstore.rekor.faults.down = True
    run = job.publish(env={"PYPI_PUBLISH_RETRY_ATTEMPTS": "3"})
    assert run.returncode == 1
    message = (f"Rekor (Sigstore's transparency log) at {job.sigstore.rekor.url} answered HTTP 503 "
               "(`503 Service Unavailable`) after 3 attempts; no file was uploaded.")
    assert f"::error title=Attestation failed::{message}" in run.stdout
    assert message in run.summary and "https://status.sigstore.dev" in run.summary
    assert job.warehouse.files() == [] and job.warehouse.upload_connections == []


def test_thirty_files_outlasting_a_certificate_are_all_signed(job: Job) -> None:
    dist = job.workspace / "dist"
    wheel = next(dist.glob("*-py3-none-any.whl"))
    for number in range(27):
        shutil.copy(wheel, wheel.with_name(wheel.name.replace("py3-none-any",
                                                              f"cp3{number}-none-any")))
    job.sigstore.fulcio.lifetime = 2  # seconds; 30 files at a slow log's 0.1 s take longer
    job.sigstore.rekor.faults.latency = 0.1
    run = job.publish()
    assert run.returncode == 0, run.text
    assert job.sigstore.fulcio.issued >= 2
    assert "The signing certificate is about to expire; renewing it." in run.stdout
    assert sorted(job.check.accepted) == [(name, 1) for name in files_of(job.workspace)]
    assert len(job.check.accepted) == 30


# -- attestations brought along ---------------------------------------------------------------------------


def test_given_attestation_is_used_after_verification(job: Job) -> None:
    wheel = next((job.workspace / "dist").glob("*-py3-none-any.whl"))
    given = make_given(wheel, job)
    given_index = json.loads(given.read_text())["verification_material"][
        "transparency_entries"][0]["logIndex"]
    certificates = job.sigstore.fulcio.issued
    run = job.publish()
    assert run.returncode == 0, run.text
    assert "Attestations: 2 signed (1 signing certificate(s)), 1 given, all verified in " \
        in run.stdout
    assert json.loads(run.outputs["attestations"])[wheel.name]["log_index"] == int(given_index)
    assert job.sigstore.fulcio.issued == certificates + 1
    assert sorted(job.check.accepted) == [(n, 1) for n in job.warehouse.files()]
    assert given.name not in job.warehouse.files() and given.name not in run.stdout


def test_given_attestation_for_other_bytes_stops_before_any_upload(job: Job) -> None:
    wheel = next((job.workspace / "dist").glob("*-py3-none-any.whl"))
    given = make_given(wheel, job)
    signed_for = hashlib.sha256(wheel.read_bytes()).hexdigest()
    with zipfile.ZipFile(wheel, "a") as archive:  # the wheel rebuilt: still valid, other bytes
        archive.comment = b"rebuilt"
    actual = hashlib.sha256(wheel.read_bytes()).hexdigest()
    run = job.publish()
    assert run.returncode == 1
    assert (f"The attestation in `{given.name}` for `{wheel.name}` was refused: it is for a file "
            f"with SHA-256 `{signed_for}`, and `{wheel.name}` has `{actual}`; no file was "
            "uploaded.") in run.summary
    assert job.warehouse.files() == [] and job.warehouse.upload_connections == []


def test_release_without_attestations_does_not_load_sigstore(
        run_action: RunAction, workspace: Path, index: IndexServer) -> None:
    run = run_action(workspace, {"repository-url": index.url},
                     {"PYPI_API_TOKEN": index.password, "PYTHONPROFILEIMPORTTIME": "1"},
                     process=True)
    assert run.returncode == 0, run.text
    imported = {line.rsplit("|", 1)[-1].strip() for line in run.stderr.splitlines()
                if line.startswith("import time:")}
    assert "pypi_publish.upload" in imported  # the probe saw the upload's imports
    assert {m.split(".")[0] for m in imported} & {"sigstore", "pypi_attestations", "tuf"} == set()


def test_command_names_its_flag_when_sigstore_is_down(job: Job, run_cli: RunCli) -> None:
    job.sigstore.rekor.faults.down = True
    run = run_cli(["--repository-url", job.warehouse.upload_url, "--skip-build"], job.workspace,
                  {"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "octo-org/sample-project",
                   **job.github.env(), **job.sigstore.env(), "PYPI_PUBLISH_RETRY_ATTEMPTS": "2",
                   "PYPI_PUBLISH_RETRY_BASE_DELAY": "0.02"})
    assert run.returncode == 1
    assert "or set `--no-attestations` to publish without attestations" in run.stdout
    assert "`attestations: false`" not in run.stdout
    assert job.warehouse.files() == []
