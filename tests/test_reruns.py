"""Reruns, repeated releases and two publishes at once, against a real pypiserver.

A release job is re-run after a partial publish, published again unchanged, published again with
other bytes under the same name, or published twice at the same moment; in every case the index
ends up with each file once and never a replaced one.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version

from pypi_publish.distribution import Distribution, digests
from pypi_publish.listing import IndexFile, Listing
from tests.conftest import BuiltDists, Run, RunAction, parse_output_file
from tests.support.archives import metadata_text, write_wheel
from tests.support.fault_proxy import FaultProxy, Respond, Stall
from tests.support.index_server import IndexServer
from tests.support.sample_release import (
    SAMPLE,
    SDIST,
    SIMPLE,
    UPLOAD,
    WHEEL,
    publish,
)
from tests.support.secret_sweep import sweep_file

# -- reruns and repeated releases -------------------------------------------------------------------------


def test_rerun_after_a_partial_publish_completes_without_any_flag(
    sample_workspace: Path, index: IndexServer, run_action: RunAction, tmp_path: Path
) -> None:
    only_wheel = tmp_path / "wheel-only"
    (only_wheel / "dist").mkdir(parents=True)
    shutil.copy(sample_workspace / "dist" / WHEEL, only_wheel / "dist" / WHEEL)
    assert publish(run_action, only_wheel, index.url, index.password).returncode == 0
    assert index.files() == [WHEEL]
    run = publish(run_action, sample_workspace, index.url, index.password, env={"GITHUB_RUN_ATTEMPT": "2"})
    assert run.returncode == 0, run.text
    assert index.files() == SAMPLE
    assert json.loads(run.outputs["uploaded"]) == [SDIST]
    assert json.loads(run.outputs["skipped"]) == [WHEEL]
    assert "Run attempt 2: 1 file(s) were already uploaded by an earlier attempt" in run.stdout


def test_identical_reupload_without_skip_existing_succeeds(
    sample_workspace: Path, index: IndexServer, fault_proxy: FaultProxy, run_action: RunAction
) -> None:
    assert publish(run_action, sample_workspace, fault_proxy.url, index.password).returncode == 0
    before = {name: index.file_bytes(name) for name in index.files()}
    run = publish(run_action, sample_workspace, fault_proxy.url, index.password)
    assert run.returncode == 0, run.text
    assert json.loads(run.outputs["uploaded"]) == []
    assert sorted(json.loads(run.outputs["skipped"])) == SAMPLE
    # The second run sent no file: the index's listing proved both were there.
    assert fault_proxy.count(*UPLOAD) == 2
    assert {name: index.file_bytes(name) for name in index.files()} == before


def test_identical_reupload_succeeds_when_the_index_listing_fails_at_first(
    sample_workspace: Path, index: IndexServer, fault_proxy: FaultProxy, run_action: RunAction
) -> None:
    assert publish(run_action, sample_workspace, fault_proxy.url, index.password).returncode == 0
    fault_proxy.add(*SIMPLE, Respond(503), times=2)
    run = publish(run_action, sample_workspace, fault_proxy.url, index.password)
    assert run.returncode == 0, run.text
    assert index.files() == SAMPLE


def hand_made_wheel(directory: Path, summary: str) -> Path:
    text = metadata_text("sample-project", "1.2.3").replace("Summary: hand made",
                                                            f"Summary: {summary}")
    return write_wheel(directory / "dist", "sample-project", "1.2.3", text)


def test_same_name_other_content_fails_naming_skip_existing(
    index: IndexServer, run_action: RunAction, tmp_path: Path
) -> None:
    first = hand_made_wheel(tmp_path / "one", "first build")
    assert publish(run_action, tmp_path / "one", index.url, index.password).returncode == 0
    stored = index.file_bytes(WHEEL)
    hand_made_wheel(tmp_path / "two", "second build")
    run = publish(run_action, tmp_path / "two", index.url, index.password)
    assert run.returncode == 1
    assert f"`{WHEEL}` already on the index with different content; nothing was uploaded." in run.stdout
    assert "`skip-existing: true`" in run.stdout
    assert index.files() == [WHEEL]
    assert index.file_bytes(WHEEL) == stored == first.read_bytes()


def test_same_name_other_content_is_skipped_with_skip_existing(
    index: IndexServer, run_action: RunAction, tmp_path: Path
) -> None:
    first = hand_made_wheel(tmp_path / "one", "first build")
    assert publish(run_action, tmp_path / "one", index.url, index.password).returncode == 0
    hand_made_wheel(tmp_path / "two", "second build")
    run = publish(run_action, tmp_path / "two", index.url, index.password,
                  {"skip-existing": "true"})
    assert run.returncode == 0, run.text
    assert f"`{WHEEL}` is on the index with different content (SHA-256 differs)" in run.stdout
    assert index.file_bytes(WHEEL) == first.read_bytes()


# -- two publishes of one release at once ------------------------------------------------------------------


def test_two_concurrent_publishes_store_each_file_once(
    sample_workspace: Path, index: IndexServer, fault_proxy: FaultProxy, run_action: RunAction, tmp_path: Path
) -> None:
    # A stall on every upload keeps both runs' uploads in flight at the same time.
    fault_proxy.add(*UPLOAD, Stall(0.3), times=None)
    runs: dict[str, Run] = {}

    def one(name: str) -> None:
        output = sweep_file(tmp_path / f"output-{name}")
        summary = sweep_file(tmp_path / f"summary-{name}")
        runs[name] = publish(run_action, sample_workspace, fault_proxy.url, index.password, env={
            "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary)})

    threads = [threading.Thread(target=one, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert index.files() == SAMPLE
    for name, run in runs.items():
        outputs = parse_output_file((tmp_path / f"output-{name}").read_text())
        if run.returncode == 0:
            done = json.loads(outputs["uploaded"]) + json.loads(outputs["skipped"])
            assert sorted(done) == SAMPLE
        else:
            assert "::error title=" in run.stdout, run.text
            assert "already" in run.stdout
    assert set(runs) == {"a", "b"}
    assert any(run.returncode == 0 for run in runs.values())
    # Each file was stored once: the later run saw the earlier one's file and did not replace it.
    for name in SAMPLE:
        assert index.file_bytes(name) == (sample_workspace / "dist" / name).read_bytes()


# -- what a rerun reads ---------------------------------------------------------------------------------


@pytest.mark.parametrize("listed", ["sha256", "blake2b_256", "md5"])
def test_a_listed_file_is_compared_by_the_best_digest_listed_and_hashed_for_no_other(
    built_dists: BuiltDists, listed: str
) -> None:
    path = built_dists() / WHEEL
    size, sha256 = digests(path)
    dist = Distribution(path, "wheel", canonicalize_name("sample-project"), Version("1.2.3"), size,
                        sha256)
    content = path.read_bytes()
    theirs = {"sha256": sha256, "md5": hashlib.md5(content, usedforsecurity=False).hexdigest(),
              "blake2b_256": hashlib.blake2b(content, digest_size=32).hexdigest()}[listed]
    listing = Listing(True, {WHEEL: IndexFile(WHEEL, {listed: theirs})})
    assert listing.same_content(dist) is True
    # BLAKE2 and md5 each cost a pass over the file: made only when the listing offers them.
    computed = {name for name in ("blake2_256", "md5") if name in vars(dist)}
    assert computed == {"sha256": set(), "blake2b_256": {"blake2_256"}, "md5": {"md5"}}[listed]
    other = Listing(True, {WHEEL: IndexFile(WHEEL, {listed: "0" * len(theirs)})})
    assert other.same_content(dist) is False
