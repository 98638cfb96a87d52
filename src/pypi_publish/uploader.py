"""A release's upload: decide from one listing what must go, send a wheel first, the rest in parallel."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from .answers import unreachable_error, unsafe_skip_existing
from .distribution import Distribution, Release
from .errors import PublishError, UploadError
from .index import Index
from .listing import Listing
from .results import FileResult, Status
from .upload import Job, failure_result, upload_file


@dataclass(frozen=True)
class UploadOutcome:
    """Every file's result, in release order, and the first error (None: all went well)."""

    results: tuple[FileResult, ...]
    error: PublishError | None = None


def settled_by_listing(dist: Distribution, listing: Listing, skip_existing: bool) -> FileResult | None:
    """The file's result when the listing alone decides it; None when it has to be sent."""
    if dist.filename not in listing.files:
        return None
    same = listing.same_content(dist)
    if same:
        return FileResult(dist, Status.PRESENT, "identical file already on the index")
    if skip_existing:
        return FileResult(dist, Status.SKIPPED,
                          "a file of this name with different content is on the index"
                          if same is False else "a file of this name is on the index")
    return None


def conflict_error(conflicts: Sequence[Distribution], listing: Listing, job: Job,
                   built: bool) -> UploadError:
    names = ", ".join(f"`{d.filename}`" for d in conflicts)
    unknown = any(listing.same_content(d) is None for d in conflicts)
    what = ("with content that cannot be compared (the index lists no hash)" if unknown
            else "with different content")
    words = job.wording
    rebuilt = (" These files were just rebuilt, and the rebuild is the likely cause (a build that "
               "is not reproducible here: no git checkout, another machine, a changed build "
               f"environment): {words.setting('build: false')} publishes the files already built."
               if built and not unknown else "")
    return UploadError(
        f"{names} already on the index {what}; nothing was uploaded.{rebuilt}",
        "Release files can never be replaced. Bump the version and build again, or set "
        f"{words.setting('skip-existing: true')} to publish only the missing files.",
    )


def first_alone(pending: Sequence[Distribution], listing: Listing, release: Release,
                index: Index) -> bool:
    """Whether one file must reach the index before the others.

    On an index where the first file of a new release creates it (Warehouse fills the release's
    metadata from that file: it must be a wheel), it must land before others race it. When the
    listing shows files of this version already, the release exists and everything can go at
    once; on any other index everything goes at once anyway, wheels first to start.
    """
    if len(pending) < 2 or not index.first_file_creates_release:
        return False
    release_exists = listing.known and any(_version_of(name) == str(release.version)
                                           for name in listing.files)
    return not release_exists


def _version_of(filename: str) -> str:
    from .distribution import parse_filename

    try:
        return str(parse_filename(filename)[2])
    except PublishError:
        return ""


def upload_release(release: Release, listing: Listing, job: Job, parallel: int) -> UploadOutcome:
    """Upload what the listing does not settle; never raises for a file's failure."""
    console = job.console
    if listing.unreachable is not None:  # the upload URL's host and port: uploads cannot pass
        error = unreachable_error(listing.unreachable, job.index, job.wording)
        return UploadOutcome(_in_order(release, {}), error)
    if job.skip_existing and not listing.known and listing.may_replace(job.index):
        # Only the listing can keep a replacing index's files: its answer to an upload is a 200.
        error = unsafe_skip_existing(listing.reason, job.index, listing.replaces, job.wording)
        return UploadOutcome(_in_order(release, {}), error)
    settled: dict[str, FileResult] = {}
    for dist in release.files:
        result = settled_by_listing(dist, listing, job.skip_existing)
        if result is not None:
            settled[dist.filename] = result
            if result.status is Status.SKIPPED and "different content" in result.detail:
                console.warning(
                    f"`{dist.filename}` is on the index with different content (SHA-256 differs); "
                    f"skipped because of {job.wording.setting('skip-existing: true')}. The index "
                    "keeps its version of the file.",
                    title="Different file on the index",
                )
            log_result(result, job)
    pending = [d for d in release.files if d.filename not in settled]
    conflicts = [d for d in pending if d.filename in listing.files]
    if conflicts:
        error = conflict_error(conflicts, listing, job, release.built)
        return UploadOutcome(_in_order(release, settled), error)
    stop = threading.Event()
    errors: list[PublishError] = []

    def one(dist: Distribution) -> FileResult:
        if stop.is_set():
            return FileResult(dist, Status.NOT_STARTED)
        try:
            result = upload_file(dist, job)
        except PublishError as error:
            stop.set()
            with lock:
                errors.append(error)
            return failure_result(dist, error)
        log_result(result, job)
        return result

    lock = threading.Lock()
    queue = list(pending)
    if queue and first_alone(queue, listing, release, job.index):
        first = queue.pop(0)
        settled[first.filename] = one(first)
    if queue and not stop.is_set():
        workers = max(1, min(parallel, len(queue)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="upload") as pool:
            futures: list[tuple[Distribution, Future[FileResult]]] = [
                (dist, pool.submit(one, dist)) for dist in queue]
        for dist, future in futures:
            settled[dist.filename] = future.result()
    return UploadOutcome(_in_order(release, settled), errors[0] if errors else None)


def _in_order(release: Release, settled: dict[str, FileResult]) -> tuple[FileResult, ...]:
    return tuple(settled.get(d.filename, FileResult(d, Status.NOT_STARTED)) for d in release.files)


def log_result(result: FileResult, job: Job) -> None:
    dist = result.dist
    if result.status is Status.UPLOADED:
        job.console.info(f"Uploaded {dist.filename} ({human_size(dist.size)} in "
                         f"{result.seconds:.2f} s)")
    elif result.status in (Status.SKIPPED, Status.PRESENT):
        job.console.info(f"Skipped {dist.filename}: {result.detail}")


def human_size(size: int) -> str:
    if size < 1000:
        return f"{size} B"
    value = float(size)
    for unit in ("kB", "MB", "GB"):
        value /= 1000
        if value < 1000 or unit == "GB":
            break
    return f"{value:.1f} {unit}"
