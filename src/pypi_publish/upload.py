"""Upload over the legacy API: decide skips first, first file alone, the rest in parallel, retries."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum
from html import unescape

import requests

from .dists import Distribution
from .errors import AuthError, PublishError, UploadError
from .gha import Console
from .http import Attempt, describe_error, with_retries
from .index import IndexView, fetch_index_view
from .metadata import FileMetadata
from .multipart import MultipartBody
from .retry import RetryPolicy

# PyPI's legacy form renames a few core-metadata fields (the names twine and Warehouse agree on).
_FORM_NAMES = {"platforms": "platform", "supported_platforms": "supported_platform",
               "license_files": "license_file"}


class Status(Enum):
    UPLOADED = "uploaded"
    PRESENT = "already on the index"  # identical file there already: success, nothing sent
    SKIPPED = "skipped"  # skip-existing: a file of that name is there (content differs or unknown)
    FAILED = "failed"
    NOT_STARTED = "not started"


@dataclass
class FileResult:
    dist: Distribution
    status: Status = Status.NOT_STARTED
    detail: str = ""
    attempts: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class UploadPlan:
    url: str
    user: str
    password: str
    skip_existing: bool
    parallel: int
    auth_method: str


def form_fields(dist: Distribution, meta: FileMetadata) -> list[tuple[str, str]]:
    fields: list[tuple[str, str]] = [(":action", "file_upload"), ("protocol_version", "1")]
    for key, value in meta.raw.items():
        name = _FORM_NAMES.get(key, key)
        if key == "name":
            # Warehouse matches the project by this "safe" spelling of the name.
            value = re.sub(r"[^A-Za-z0-9.]+", "-", str(value))
        if key == "keywords" and isinstance(value, list):
            fields.append((name, ", ".join(value)))
        elif key == "project_urls" and isinstance(value, dict):
            fields.extend((name, f"{label}, {url}") for label, url in value.items())
        elif isinstance(value, list):
            fields.extend((name, str(item)) for item in value)
        elif isinstance(value, str):
            fields.append((name, value))
    if dist.kind == "wheel":
        python_tag = dist.filename[:-4].split("-")[-3]
        fields += [("filetype", "bdist_wheel"), ("pyversion", python_tag)]
    else:
        fields += [("filetype", "sdist"), ("pyversion", "source")]
    fields += [("sha256_digest", dist.sha256), ("blake2_256_digest", dist.blake2_256)]
    return fields


_GENERIC_REASONS = frozenset({"", "Bad Request", "Forbidden", "Conflict", "Unauthorized",
                              "Not Found", "OK", "Request Entity Too Large", "Payload Too Large"})


def _reason(response: requests.Response) -> str:
    """The index's own words: Warehouse puts them in the status line, others in the body."""
    reason = (response.reason or "").strip()
    if reason not in _GENERIC_REASONS:
        return reason[:600]
    text = response.text if "text" in response.headers.get("Content-Type", "text") else ""
    text = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", text, flags=re.S | re.I)
    text = unescape(" ".join(re.sub(r"<[^>]+>", " ", text).split()))
    return (text or reason or f"HTTP {response.status_code}")[:600]


def _already_exists(response: requests.Response) -> bool:
    if response.status_code == 409:
        return True
    return response.status_code == 400 and "already exist" in _reason(response).lower()


class Uploader:
    def __init__(self, plan: UploadPlan, session: requests.Session, policy: RetryPolicy,
                 console: Console, metadata: dict[str, FileMetadata], project: str) -> None:
        self.plan = plan
        self.session = session
        self.policy = policy
        self.console = console
        self.metadata = metadata
        self.project = project
        self.stop = threading.Event()
        self.fatal: PublishError | None = None

    # -- asking the index --------------------------------------------------------
    def index_view(self) -> IndexView:
        return fetch_index_view(self.plan.url, self.project, self.session, self.policy,
                                (self.plan.user, self.plan.password))

    def _existing(self, result: FileResult, view: IndexView) -> bool:
        """Settle `result` from the index's listing; False when the file still has to go."""
        dist = result.dist
        if dist.filename not in view.files:
            return False
        same = view.same_content(dist)
        if same:
            result.status, result.detail = Status.PRESENT, "identical file already on the index"
            return True
        if self.plan.skip_existing:
            result.status = Status.SKIPPED
            result.detail = ("a file of this name with different content is on the index"
                             if same is False else "a file of this name is on the index")
            if same is False:
                self.console.warning(
                    f"`{dist.filename}` is on the index with different content (SHA-256 differs); "
                    "skipped because of `skip-existing`. The index keeps its version of the file.",
                    title="Different file on the index",
                )
            return True
        return False

    # -- one file ----------------------------------------------------------------------
    def _post(self, dist: Distribution, counter: list[int]) -> requests.Response:
        counter[0] += 1
        body = MultipartBody(form_fields(dist, self.metadata[dist.filename]), "content", dist.path)
        try:
            return self.session.post(
                self.plan.url, data=body, auth=(self.plan.user, self.plan.password),
                headers={"Content-Type": body.content_type}, timeout=self.policy.timeout,
                allow_redirects=False,
            )
        finally:
            body.close()

    def upload_one(self, result: FileResult) -> None:
        dist = result.dist
        started = time.monotonic()
        counter = [0]

        def on_retry(attempt: int, reason: str, wait: float) -> None:
            self.console.info(f"  {dist.filename}: {reason}; retrying in {wait:.1f} s "
                              f"(attempt {attempt + 1} of {self.policy.attempts})")

        attempt = with_retries(lambda: self._send_checked(dist, counter, result), self.policy,
                               on_retry)
        result.attempts = counter[0]
        result.seconds = time.monotonic() - started
        if result.status in (Status.PRESENT, Status.SKIPPED, Status.UPLOADED):
            return
        self._settle(result, attempt)

    def _send_checked(self, dist: Distribution, counter: list[int],
                      result: FileResult) -> requests.Response:
        """POST the file; after an attempt whose outcome is unknown, ask the index first."""
        if counter[0] > 0 and self._landed_meanwhile(result):
            return _synthetic_ok()
        return self._post(dist, counter)

    def _landed_meanwhile(self, result: FileResult) -> bool:
        view = self.index_view()
        if view.known and view.same_content(result.dist):
            result.status = Status.UPLOADED
            result.detail = "stored by an earlier attempt whose answer was lost"
            return True
        return False

    def _settle(self, result: FileResult, attempt: Attempt) -> None:
        dist = result.dist
        response = attempt.response
        if response is None:
            reason = describe_error(attempt.error or Exception())
            self._fail(result, UploadError(
                f"Could not upload `{dist.filename}` to {self.plan.url}: {reason} "
                f"(after {result.attempts} attempt(s)).",
                _transport_hint(attempt.error),
            ))
            return
        with response:
            code = response.status_code
            if code in (200, 201):
                result.status = Status.UPLOADED
                return
            if _already_exists(response):
                self._handle_duplicate(result)
                return
            if 300 <= code < 400:
                target = response.headers.get("Location", "?")
                self._fail(result, UploadError(
                    f"The index answered the upload of `{dist.filename}` with a redirect "
                    f"(HTTP {code}) to {target}; uploads are never re-sent to another URL, "
                    "because the file and credentials would go where you did not point them.",
                    "Set `repository-url` to the index's real upload URL (often the redirect "
                    "target, e.g. with `https://` or a trailing `/legacy/`).",
                ))
                return
            reason = _reason(response)
            if code in (401, 403):
                self._fail(result, _auth_error(code, reason, self.plan, dist))
                return
            if code == 413:
                self._fail(result, UploadError(
                    f"The index refused `{dist.filename}` ({dist.size / 1e6:.1f} MB) as too large: "
                    f"{reason}",
                    "Make the file smaller, or ask the index for a larger file size limit "
                    "(on PyPI: https://pypi.org/help/#file-size-limit).",
                ))
                return
            self._fail(result, UploadError(
                f"The index refused `{dist.filename}` (HTTP {code}): {reason}",
                _refusal_hint(code),
            ))

    def _handle_duplicate(self, result: FileResult) -> None:
        view = self.index_view()
        if view.known and self._existing(result, view):
            return
        if self.plan.skip_existing:
            result.status, result.detail = Status.SKIPPED, "the index says the file already exists"
            return
        if result.attempts > 1 and not view.known:
            # Our own earlier attempt, whose answer was lost, most likely stored it; the index
            # offers no listing to prove it either way.
            result.status = Status.UPLOADED
            result.detail = "the index reports it stored after a lost answer"
            self.console.warning(
                f"`{result.dist.filename}`: an attempt's answer was lost and the retry was told the "
                "file already exists; the index cannot list its files, so this is taken as stored "
                "by the earlier attempt. Check the file's hash on the index.",
                title="Unconfirmed upload",
            )
            return
        same = view.same_content(result.dist) if view.known else None
        what = "with different content " if same is False else ""
        self._fail(result, UploadError(
            f"`{result.dist.filename}` already exists on the index {what}and the index refused "
            "to replace it.",
            "Release files can never be replaced. Bump the version and build again, or set "
            "`skip-existing: true` (CLI: `--skip-existing`) to leave the existing files as they are.",
        ))

    def _fail(self, result: FileResult, error: PublishError) -> None:
        result.status, result.detail = Status.FAILED, error.message
        if self.fatal is None:
            self.fatal = error
        self.stop.set()

    # -- the release ------------------------------------------------------------------------
    def run(self, dists: tuple[Distribution, ...]) -> list[FileResult]:
        results = [FileResult(d) for d in dists]
        view = self.index_view()
        if view.known:
            self.console.debug(f"The index lists {len(view.files)} file(s) of {self.project}.")
        else:
            self.console.debug(f"Could not list the project's files on the index ({view.reason}); "
                               "relying on the index's answers to uploads.")
        pending = [r for r in results if not self._existing(r, view)]
        for result in results:
            if result not in pending:
                self._log_result(result)
        conflicts = [r for r in pending if r.dist.filename in view.files]
        if conflicts:
            names = ", ".join(f"`{r.dist.filename}`" for r in conflicts)
            unknown = any(view.same_content(r.dist) is None for r in conflicts)
            what = ("with content that cannot be compared (the index lists no hash)" if unknown
                    else "with different content")
            raise UploadError(
                f"{names} already on the index {what}; nothing was uploaded.",
                "Release files can never be replaced. Bump the version and build again, or set "
                "`skip-existing: true` (CLI: `--skip-existing`) to publish only the missing files.",
            )
        if pending:
            self._upload_all(pending)
        return results

    def _upload_all(self, pending: list[FileResult]) -> None:
        # The first file creates the project and the release on the index; racing it with the
        # others makes some indexes answer with conflicts. The smallest goes first, so the
        # time spent on one connection only is as short as it can be.
        first = min(pending, key=lambda r: r.dist.size)
        rest = [r for r in pending if r is not first]
        self.upload_one(first)
        self._log_result(first)
        if self.stop.is_set() or not rest:
            return
        workers = max(1, min(self.plan.parallel, len(rest)))

        def task(result: FileResult) -> None:
            if self.stop.is_set():
                return
            self.upload_one(result)
            self._log_result(result)

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="upload") as pool:
            list(pool.map(task, rest))

    def _log_result(self, result: FileResult) -> None:
        dist = result.dist
        if result.status is Status.UPLOADED:
            self.console.info(f"Uploaded {dist.filename} ({human_size(dist.size)} in "
                              f"{result.seconds:.2f} s)")
        elif result.status in (Status.SKIPPED, Status.PRESENT):
            self.console.info(f"Skipped {dist.filename}: {result.detail}")


def human_size(size: int) -> str:
    if size < 1000:
        return f"{size} B"
    value = float(size)
    for unit in ("kB", "MB", "GB"):
        value /= 1000
        if value < 1000 or unit == "GB":
            break
    return f"{value:.1f} {unit}"


def _synthetic_ok() -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    return response


def _transport_hint(error: BaseException | None) -> str:
    if isinstance(error, requests.exceptions.SSLError):
        return ("If the index uses a private certificate authority, point `SSL_CERT_FILE` or "
                "`REQUESTS_CA_BUNDLE` at its CA bundle. Otherwise check the URL's host name.")
    return ("Check `repository-url` and that the index is reachable from the runner; transient "
            "failures were retried. Re-run the job: files already uploaded are recognised and kept.")


def _refusal_hint(code: int) -> str:
    if code == 400:
        return "Fix what the index names above and build again; nothing else was changed on the index."
    if code == 404:
        return "Check `repository-url`: it must be the index's upload endpoint (PyPI: /legacy/)."
    if code == 429 or code >= 500:
        return "The index is failing or rate-limiting; re-run the job later (uploaded files are kept)."
    return "Check `repository-url` and the index's documentation for this answer."


def _auth_error(code: int, reason: str, plan: UploadPlan, dist: Distribution) -> AuthError:
    if plan.auth_method == "trusted-publishing":
        hint = ("The index minted the token but refused it for this project: check that the "
                "Trusted Publisher on the index is registered for this project name.")
    else:
        hint = ("The token is invalid, expired, or not scoped to this project. Create a new API "
                "token for this project on the index, store it as the `PYPI_API_TOKEN` secret "
                "(or pass it as `password`), and keep `user` as `__token__`.")
    return AuthError(
        f"The index refused the credentials for `{dist.filename}` (HTTP {code}, bad token): {reason}",
        hint,
    )
