"""Faults between the product and the index, injected by a real proxy in front of real servers.

Every case runs the action as the runner runs it, through `FaultProxy` in front of pypiserver (or
the Trusted Publishing servers), and checks three things: the run's outcome and message, how many
attempts reached the fault_proxy, and exactly which files the index holds afterwards.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import BuiltDists, Run, RunAction
from tests.fakes.github_oidc import GitHubOidc
from tests.fakes.warehouse import Warehouse
from tests.support.fault_proxy import (
    Fault,
    FaultProxy,
    ForwardThenDrop,
    Garbage,
    Reset,
    Respond,
    Stall,
    Truncated,
    retry_after,
)
from tests.support.index_server import IndexServer
from tests.support.sample_release import (
    FAST,
    READ_TIMEOUT,
    SAMPLE,
    SDIST,
    SIMPLE,
    UPLOAD,
    WHEEL,
    publish,
)

# -- one fault at a time, on uploads and index queries ---------------------------------------------
# A first release's listing costs two queries: the project's page (404) and, since pypiserver's
# simple URL is derived from the upload URL by a rule, the simple root that proves the rule right.


@dataclass(frozen=True)
class FaultCase:
    """One row of the fault table: the fault, where, and what must follow."""

    id: str
    where: tuple[str, str]
    fault: Fault
    times: int | None
    exit_code: int
    # POST attempts the proxy saw, for both files together; (fewest, most) where a refusal that
    # is never retried may stop the other file before it starts.
    uploads: int | tuple[int, int]
    files: list[str]
    says: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    # Queries of the index's simple API; None where the product may ask as often as it likes.
    queries: int | None = None


# pypiserver takes both files at once, so a fault for ever meets both and either may be named.
FAULTS = [
    FaultCase("upload-503-burst", UPLOAD, Respond(503, b"Service Unavailable"), 2, 0, 4, SAMPLE,
              (": HTTP 503; retrying in",)),
    FaultCase("upload-502-once", UPLOAD, Respond(502), 1, 0, 3, SAMPLE),
    FaultCase("upload-429-retry-after", UPLOAD, retry_after(1), 1, 0, 3, SAMPLE,
              (": HTTP 429; retrying in 1.0 s",)),
    FaultCase("upload-reset-mid-body", UPLOAD, Reset(after_body_bytes=300), 1, 0, 3, SAMPLE,
              (": connection reset by the server; retrying",), queries=3),
    FaultCase("upload-accepted-then-timeout", UPLOAD, ForwardThenDrop(), 1, 0, 2, SAMPLE,
              (": the server did not answer in time; retrying",), queries=3),
    FaultCase("upload-accepted-then-closed", UPLOAD, ForwardThenDrop(close=True), 1, 0, 2, SAMPLE,
              queries=3),
    FaultCase("upload-accepted-then-truncated", UPLOAD, Truncated(), 1, 0, 2, SAMPLE, queries=3),
    FaultCase("upload-truncated-not-stored", UPLOAD, Truncated(b"OK"), 1, 0, 3, SAMPLE, queries=3),
    FaultCase("upload-stalled-past-timeout", UPLOAD, Stall(READ_TIMEOUT * 4), 1, 0, 3, SAMPLE,
              (": the server did not answer in time; retrying",), queries=3),
    FaultCase("upload-stalled-within-timeout", UPLOAD, Stall(READ_TIMEOUT / 4), None, 0, 2, SAMPLE,
              queries=2),
    FaultCase("upload-garbage-answer", UPLOAD, Garbage(), 1, 0, 3, SAMPLE, queries=3),
    FaultCase("upload-503-for-ever", UPLOAD, Respond(503, b"Service Unavailable"), None, 1, 6, [],
              ("` (HTTP 503): Service Unavailable",
               "The index is failing or rate-limiting; re-run the job later"),
              {"PYPI_PUBLISH_RETRY_ATTEMPTS": "3"}),
    FaultCase("upload-reset-for-ever", UPLOAD, Reset(), None, 1, 6, [],
              ("Could not upload `sample_project-", "connection reset by the server (after 3 attempt(s))",
               "Re-run the job: files already uploaded are recognised and kept."),
              {"PYPI_PUBLISH_RETRY_ATTEMPTS": "3"}),
    FaultCase("upload-400-not-retried", UPLOAD,
              Respond(400, b"", reason="Invalid value for version"), None, 1, (1, 2), [],
              ("` (HTTP 400): Invalid value for version",), queries=2),
    FaultCase("upload-404-not-retried", UPLOAD, Respond(404, b"Not Found"), None, 1, (1, 2), [],
              ("it must be the index's upload endpoint",), queries=2),
    FaultCase("index-query-503-burst", SIMPLE, Respond(503), 2, 0, 2, SAMPLE, queries=4),
    FaultCase("index-query-429-retry-after", SIMPLE, retry_after(1), 1, 0, 2, SAMPLE, queries=3),
    FaultCase("index-query-reset", SIMPLE, Reset(), 1, 0, 2, SAMPLE, queries=3),
    FaultCase("index-query-garbage", SIMPLE, Garbage(), 1, 0, 2, SAMPLE, queries=3),
    FaultCase("index-query-truncated", SIMPLE, Truncated(), 1, 0, 2, SAMPLE, queries=3),
    FaultCase("index-query-junk-json", SIMPLE,
              Respond(200, b'{"files": [{"filename": 1', content_type="application/vnd.pypi.simple.v1+json"),
              None, 0, 2, SAMPLE, queries=1),
    # A listing that names the sdist with no usable hash: it cannot be compared, so it is not sent.
    FaultCase("index-query-junk-hashes", SIMPLE,
              Respond(200, json.dumps({"files": [{"filename": SDIST, "hashes": {"sha256": 5}}]}).encode(),
                      content_type="application/vnd.pypi.simple.v1+json"), None, 1, 0, [],
              (f"`{SDIST}` already on the index with content that cannot be compared",
               "`skip-existing: true`"), queries=1),
    FaultCase("index-query-stalled", SIMPLE, Stall(READ_TIMEOUT * 4), 1, 0, 2, SAMPLE, queries=3),
]


@pytest.mark.parametrize("case", FAULTS, ids=[c.id for c in FAULTS])
def test_fault(case: FaultCase, sample_workspace: Path, index: IndexServer, fault_proxy: FaultProxy,
               run_action: RunAction) -> None:
    fault_proxy.add(*case.where, case.fault, times=case.times)
    run = publish(run_action, sample_workspace, fault_proxy.url, index.password, env=case.env)
    assert run.returncode == case.exit_code, run.text
    assert "Traceback" not in run.text
    for fragment in case.says:
        assert fragment in run.stdout
    fewest, most = case.uploads if isinstance(case.uploads, tuple) else (case.uploads,) * 2
    assert fewest <= fault_proxy.count(*UPLOAD) <= most
    if case.queries is not None:
        assert fault_proxy.count(*SIMPLE) == case.queries
    assert index.files() == case.files
    if case.exit_code == 0:
        assert sorted(json.loads(run.outputs["files"])) == SAMPLE


def test_retry_after_is_waited_out(sample_workspace: Path, index: IndexServer, fault_proxy: FaultProxy,
                                   run_action: RunAction) -> None:
    fault_proxy.add(*UPLOAD, retry_after(2), times=1)
    run = publish(run_action, sample_workspace, fault_proxy.url, index.password)
    assert run.returncode == 0, run.text
    posts = fault_proxy.seen(*UPLOAD)
    refused = next(r for r in posts if r.fault != "pass")
    # The same file again (same size), not the other file sent alongside it.
    resent = next(r for r in posts if r.at > refused.at and r.body_bytes == refused.body_bytes)
    assert resent.at - refused.at >= 2.0


def test_a_retry_after_beyond_the_policys_bounds_is_not_waited_out(
    sample_workspace: Path, index: IndexServer, fault_proxy: FaultProxy, run_action: RunAction
) -> None:
    fault_proxy.add(*UPLOAD, retry_after(3600), times=1)
    started = time.monotonic()
    run = publish(run_action, sample_workspace, fault_proxy.url, index.password,
                  env={"PYPI_PUBLISH_RETRY_MAX_DELAY": "0.2"})
    assert time.monotonic() - started < 30
    # Either the wait is capped and the retry succeeds, or the run stops and says why.
    if run.returncode == 0:
        assert index.files() == SAMPLE
    else:
        assert run.returncode == 1 and "429" in run.stdout, run.text
        assert index.files() != SAMPLE


def test_after_an_unknown_outcome_the_index_is_asked_before_resending(
    sample_workspace: Path, index: IndexServer, fault_proxy: FaultProxy, run_action: RunAction
) -> None:
    fault_proxy.add(*UPLOAD, ForwardThenDrop(), times=1)
    run = publish(run_action, sample_workspace, fault_proxy.url, index.password)
    assert run.returncode == 0, run.text
    seen = fault_proxy.seen()
    lost = next(i for i, r in enumerate(seen) if r.fault == "forward, then silence")
    later = seen[lost + 1:]
    # The lost upload is followed by a question to the index, not by a second copy of the file.
    assert any(r.method == "GET" and r.path.startswith("/simple/") for r in later)
    assert not any(r.method == "POST" and r.body_bytes == seen[lost].body_bytes for r in later)
    assert sorted(r.fault for r in fault_proxy.seen(*UPLOAD)) == ["forward, then silence", "pass"]
    assert json.loads(run.outputs["uploaded"]) == [WHEEL, SDIST]
    assert f"| `{WHEEL}` |" in run.summary


def test_a_server_error_on_the_second_file_leaves_a_partial_release_that_a_rerun_completes(
    sample_workspace: Path, index: IndexServer, fault_proxy: FaultProxy, run_action: RunAction
) -> None:
    # pypiserver takes both files at once; the first upload to arrive passes, every later fails.
    fault_proxy.add(*UPLOAD, Respond(503), times=None, after=1)
    run = publish(run_action, sample_workspace, fault_proxy.url, index.password,
                  env={"PYPI_PUBLISH_RETRY_ATTEMPTS": "2"})
    assert run.returncode == 1
    stored = index.files()
    assert len(stored) == 1, stored
    missing = next(name for name in SAMPLE if name not in stored)
    assert f"The index refused `{missing}` (HTTP 503)" in run.stdout
    fault_proxy.rules.clear()
    rerun = publish(run_action, sample_workspace, fault_proxy.url, index.password,
                    env={"GITHUB_RUN_ATTEMPT": "2"})
    assert rerun.returncode == 0, rerun.text
    assert index.files() == SAMPLE
    assert json.loads(rerun.outputs["uploaded"]) == [missing]
    assert json.loads(rerun.outputs["skipped"]) == stored
    assert "Run attempt 2: 1 file(s) were already uploaded by an earlier attempt; this run " \
           "completed the release." in rerun.stdout


# -- Trusted Publishing through the proxy ------------------------------------------------------------------


@pytest.fixture
def tp_workspace(built_dists: BuiltDists, tmp_path: Path) -> Path:
    path = tmp_path / "tp"
    shutil.copytree(built_dists(), path / "dist")
    return path


def port_of(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None
    return port


@dataclass
class TrustedPublishingRig:
    warehouse: Warehouse
    github: GitHubOidc
    index_proxy: FaultProxy
    token_proxy: FaultProxy

    def env(self) -> dict[str, str]:
        request_url = self.github.request_url.replace(
            f":{port_of(self.github.request_url)}/", f":{self.token_proxy.port}/")
        return {"ACTIONS_ID_TOKEN_REQUEST_URL": request_url,
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN": self.github.request_token,
                "GITHUB_REF": "refs/tags/v1.2.3", **FAST}

    def publish(self, run_action: RunAction, workspace: Path) -> Run:
        # Signing asks GitHub for one more ID token; the counts here are the exchange's own.
        return run_action(workspace, {"repository-url": self.index_proxy.url + "legacy/",
                                      "verbose": "true", "attestations": "false"}, self.env())


@pytest.fixture
def tp(warehouse: Warehouse, github_oidc: GitHubOidc) -> Iterator[TrustedPublishingRig]:
    with FaultProxy(port_of(warehouse.url)) as index_proxy, \
            FaultProxy(port_of(github_oidc.request_url)) as token_proxy:
        yield TrustedPublishingRig(warehouse, github_oidc, index_proxy, token_proxy)


AUDIENCE = ("GET", "/_/oidc/audience")
MINT = ("POST", "/_/oidc/mint-token")
ID_TOKEN = ("GET", "/token")
LEGACY = ("POST", "/legacy/")


@dataclass(frozen=True)
class TpCase:
    id: str
    where: tuple[str, str]
    fault: Fault
    times: int | None
    exit_code: int
    attempts: int  # requests the proxy saw at `where`
    says: tuple[str, ...] = ()


TP_FAULTS = [
    TpCase("audience-503-burst", AUDIENCE, Respond(503), 2, 0, 3,
           ("Trusted Publishing audience: HTTP 503; retrying",)),
    TpCase("audience-429-retry-after", AUDIENCE, retry_after(1), 1, 0, 2),
    TpCase("audience-reset", AUDIENCE, Reset(), 1, 0, 2),
    TpCase("audience-garbage", AUDIENCE, Garbage(), 1, 0, 2),
    TpCase("audience-truncated-json", AUDIENCE, Truncated(b'{"audience": "pypi"}'), 1, 0, 2),
    TpCase("audience-stalled", AUDIENCE, Stall(READ_TIMEOUT * 4), 1, 0, 2),
    TpCase("audience-403-not-retried", AUDIENCE, Respond(403, b'{"message": "not enabled"}'), None,
           1, 1, ("Trusted Publishing is disabled on",)),
    TpCase("id-token-503-burst", ID_TOKEN, Respond(503), 2, 0, 3),
    TpCase("id-token-429", ID_TOKEN, retry_after(1), 1, 0, 2),
    TpCase("id-token-truncated-json", ID_TOKEN, Truncated(), 1, 0, 2),
    # The ID token request needs the same read timeout as every other request: 12 s of silence
    # must end in a timeout and a retry after 2 s, not in a 12 s wait.
    TpCase("id-token-stalled", ID_TOKEN, Stall(READ_TIMEOUT * 6), 1, 0, 2),
    TpCase("id-token-garbage-json", ID_TOKEN, Respond(200, b"<html>", content_type="application/json"),
           1, 0, 2),
    TpCase("mint-503-burst", MINT, Respond(503), 2, 0, 3,
           ("Trusted Publishing token exchange: HTTP 503; retrying",)),
    TpCase("mint-429-retry-after", MINT, retry_after(1), 1, 0, 2),
    TpCase("mint-reset-mid-body", MINT, Reset(after_body_bytes=10), 1, 0, 2),
    TpCase("mint-accepted-then-timeout", MINT, ForwardThenDrop(), 1, 0, 2),
    TpCase("mint-truncated-json", MINT, Truncated(), 1, 0, 2),
    TpCase("mint-garbage-json", MINT, Respond(200, b'{"success": tr', content_type="application/json"),
           1, 0, 2),
    TpCase("mint-422-junk-errors", MINT, Respond(422, b'{"message": "Token request failed", "errors": 5}',
                                                 content_type="application/json"), None, 1, 1,
           ("The index refused to exchange this job's GitHub ID token",)),
    TpCase("tp-upload-accepted-then-timeout", LEGACY, ForwardThenDrop(), 1, 0, 2),
    TpCase("tp-upload-503-burst", LEGACY, Respond(503), 2, 0, 4),
]


@pytest.mark.parametrize("case", TP_FAULTS, ids=[c.id for c in TP_FAULTS])
def test_trusted_publishing_fault(case: TpCase, tp: TrustedPublishingRig, tp_workspace: Path,
                                  run_action: RunAction) -> None:
    proxy = tp.token_proxy if case.where == ID_TOKEN else tp.index_proxy
    proxy.add(*case.where, case.fault, times=case.times)
    run = tp.publish(run_action, tp_workspace)
    assert run.returncode == case.exit_code, run.text
    assert "Traceback" not in run.text
    for fragment in case.says:
        assert fragment in run.stdout
    assert proxy.count(*case.where) == case.attempts
    assert tp.warehouse.files() == (SAMPLE if case.exit_code == 0 else [])
    if case.exit_code == 0:
        assert run.outputs["auth"] == "trusted-publishing"
