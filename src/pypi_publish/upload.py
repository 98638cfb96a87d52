"""One file's upload over the legacy API: a streamed POST, retried, never sent where it would replace one."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import requests

from .answers import already_exists, explain, is_expired_token, reason, refusal_of, unreachable_error
from .auth import Credentials, UploadAuth
from .distribution import Distribution
from .errors import PublishError, UploadError
from .form import form_fields
from .gha import Console
from .http import Transient, Transport, Unreachable, retry, send
from .index import Index
from .listing import IndexFacts, Listing, fetch_listing, plain_http_instead_of_tls
from .metadata import FileMetadata
from .multipart import MultipartBody
from .progress import Progress
from .results import FileResult, Status
from .retry import RetryPolicy
from .wording import Wording


@dataclass(frozen=True)
class Job:
    """What every file's upload of one release needs."""

    index: Index
    auth: UploadAuth
    transport: Transport
    policy: RetryPolicy
    console: Console
    wording: Wording
    project: str
    metadata: Mapping[str, FileMetadata]
    skip_existing: bool = False
    attestations: Mapping[str, str] = field(default_factory=dict)  # file name -> JSON array
    # What listings learned of the index's layout (simple root, devpi's `volatile`): once a run.
    confirmed_roots: IndexFacts = field(default_factory=IndexFacts)

    def listing(self) -> Listing:
        credentials = self.auth.current()
        return fetch_listing(self.index, self.project, self.transport.session, self.policy,
                             (credentials.user, credentials.password), self.confirmed_roots)


@dataclass
class _Done:
    """An attempt that settled the file without an answer to read (it was found on the index)."""

    result: FileResult


def _post(dist: Distribution, job: Job, credentials: Credentials) -> requests.Response:
    fields = form_fields(dist.kind, dist.filename, job.metadata[dist.filename].raw, dist.sha256,
                         dist.blake2_256, attestations=job.attestations.get(dist.filename))
    body = MultipartBody(fields, "content", dist.path)
    # Live progress only for the command in a terminal; None everywhere else.
    transfer = Progress.of(job.console).transfer(dist.filename, dist.size)
    body.on_read = transfer.advance if transfer is not None else None
    try:
        return job.transport.session.post(
            job.index.upload_url, data=body, auth=(credentials.user, credentials.password),
            headers={"Content-Type": body.content_type}, timeout=job.policy.timeout,
            allow_redirects=False,
        )
    finally:
        body.close()
        if transfer is not None:
            transfer.close()


def upload_file(dist: Distribution, job: Job) -> FileResult:
    """Upload `dist`: its result, or the UploadError/AuthError that says why it failed."""
    started = time.monotonic()
    attempts = 0
    unsure = False  # an earlier attempt may have reached the index without an answer we read
    renewed = False

    def attempt() -> requests.Response | Transient | Unreachable | _Done:
        nonlocal attempts, unsure, renewed
        if unsure:
            # Ask before sending again: the lost answer may have been a success.
            listing = job.listing()
            if listing.known and listing.same_content(dist):
                return _Done(FileResult(dist, Status.UPLOADED,
                                        "stored by an earlier attempt whose answer was lost",
                                        attempts, time.monotonic() - started))
        attempts += 1
        credentials = job.auth.current()
        sent = send(lambda: _post(dist, job, credentials))
        if isinstance(sent, Transient):
            unsure = sent.may_have_arrived
            return plain_http_instead_of_tls(job.index.upload_url, sent) or sent
        if isinstance(sent, requests.Response) and not renewed \
                and job.auth.method == "trusted-publishing" \
                and is_expired_token(sent.status_code, reason(sent)):
            # A minted token lives 15 minutes; a long release may outlive it.
            sent.close()
            renewed = job.auth.renew_after_refusal(credentials) is not None
            if renewed:
                return Transient("the upload token expired; a new one was minted",
                                 may_have_arrived=False)
        return sent

    def note(number: int, failure: Transient, wait: float) -> None:
        job.console.info(f"  {dist.filename}: {failure.reason}; retrying in {wait:.1f} s "
                         f"(attempt {number + 1} of {job.policy.attempts})")

    outcome: requests.Response | Transient | Unreachable | _Done = retry(attempt, job.policy, note)
    seconds = time.monotonic() - started
    if isinstance(outcome, _Done):
        return outcome.result
    if isinstance(outcome, Transient) and outcome.response is not None:
        outcome = outcome.response
    if not isinstance(outcome, requests.Response):
        raise unreachable_error(outcome, job.index, job.wording, dist.filename, attempts)
    with outcome:
        status = outcome.status_code
        said = reason(outcome) if status not in (200, 201) else ""
        refusal = refusal_of(outcome, said)
    # A 200 from a download URL stores nothing (devpi's `+simple/` pages answer POSTs too).
    if status in (200, 201) and job.index.upload_url_for_download_url() is None:
        return FileResult(dist, Status.UPLOADED, "", attempts, seconds)
    if already_exists(status, said):
        return _duplicate(dist, job, attempts, seconds, said)
    raise explain(refusal, dist, job.index, job.wording, job.auth.source, job.auth.method,
                  job.auth.current().user)


def _duplicate(dist: Distribution, job: Job, attempts: int, seconds: float, said: str) -> FileResult:
    """The index says the file exists: identical (success), skipped, or a refusal to replace."""
    listing = job.listing()
    same = listing.same_content(dist) if listing.known else None
    if same:
        return FileResult(dist, Status.PRESENT, "identical file already on the index", attempts,
                          seconds)
    if job.skip_existing:
        return FileResult(dist, Status.SKIPPED, "the index says the file already exists", attempts,
                          seconds)
    if attempts > 1 and not listing.known:
        # Our own earlier attempt, whose answer was lost, most likely stored it; the index
        # offers no listing to prove it either way.
        job.console.warning(
            f"`{dist.filename}`: an attempt's answer was lost and the retry was told the file "
            "already exists; the index cannot list its files, so this is taken as stored by the "
            "earlier attempt. Check the file's hash on the index.",
            title="Unconfirmed upload",
        )
        return FileResult(dist, Status.UPLOADED, "the index reports it stored after a lost answer",
                          attempts, seconds)
    what = "with different content " if same is False else ""
    raise UploadError(
        f"`{dist.filename}` already exists on the index {what}and the index refused to replace it. "
        f"The index said: {said}",
        "Release files can never be replaced. Bump the version and build again, or set "
        f"{job.wording.setting('skip-existing: true')} to leave the existing files as they are.",
    )


def failure_result(dist: Distribution, error: PublishError) -> FileResult:
    return FileResult(dist, Status.FAILED, error.message)
