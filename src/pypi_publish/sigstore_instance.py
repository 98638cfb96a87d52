"""Sigstore's services as the product calls them: the trust config, bounded sessions, retries, errors.

`sigstore` is imported inside the functions only, so a release without attestations never
loads it. Its clients send without timeouts and raise their own error types; here every request
gets the retry policy's timeouts, a transient failure (5xx, 429, reset, timeout) is retried like
every other request, and a lasting one becomes an `AttestationError` naming the service and its
answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import requests
import requests.adapters

from .errors import AttestationError
from .gha import Console
from .http import Transient, classify_error, describe_error, retry
from .retry import RETRYABLE_STATUS, RetryPolicy

if TYPE_CHECKING:
    from sigstore.models import ClientTrustConfig
    from sigstore.sign import SigningContext

# A path to a Sigstore client trust config (JSON, what `sigstore sign --trust-config` takes)
# that replaces Sigstore's production instance; tests point it at loopback stand-ins. The
# product's prefix keeps it apart from the `SIGSTORE_*` variables sigstore's own CLI reads.
TRUST_CONFIG_ENV = "PYPI_PUBLISH_SIGSTORE_TRUST_CONFIG"
FULCIO = "Fulcio (Sigstore's certificate authority)"
REKOR = "Rekor (Sigstore's transparency log)"
TUF = "Sigstore's trust root repository (TUF)"
PRODUCTION_REKOR = "https://rekor.sigstore.dev"
SEARCH = "https://search.sigstore.dev/?logIndex="
T = TypeVar("T")


def trust_config_from(env: Mapping[str, str]) -> Path | None:
    value = env.get(TRUST_CONFIG_ENV, "").strip()
    return Path(value) if value else None


# -- what went wrong ---------------------------------------------------------------------------------


def _answer_of(error: BaseException) -> requests.Response | None:
    # sigstore raises its own errors inside `except HTTPError`, some with `from`, some without.
    for linked in (error, error.__cause__, error.__context__):
        if isinstance(linked, requests.HTTPError) and linked.response is not None:
            return linked.response
    return None


def _transport_error(error: BaseException) -> requests.RequestException | None:
    for linked in (error, error.__cause__, error.__context__):
        if isinstance(linked, requests.RequestException) and not isinstance(
                linked, requests.HTTPError):
            return linked
    return None


def quoted(response: requests.Response) -> str:
    """`HTTP 503 (`text`)`: the status and the service's own words (its JSON `message`)."""
    text = " ".join(response.text.split())[:200]
    try:
        message = json.loads(response.text).get("message")
        text = " ".join(str(message).split())[:200] if message else text
    except (ValueError, AttributeError):
        pass
    return f"HTTP {response.status_code} (`{text}`)" if text else f"HTTP {response.status_code}"


def _download_error(error: BaseException) -> BaseException | None:
    """The TUF client's failure to fetch (it retries by itself, through urllib3), if that was it."""
    from tuf.api.exceptions import DownloadError

    return error.__cause__ if isinstance(error.__cause__, DownloadError) else None


def _transient(error: BaseException) -> Transient | None:
    download = _download_error(error)
    if download is not None:
        status = getattr(download, "status_code", None)
        return Transient(f"{type(download).__name__} {download}".strip()) \
            if status is None or status in RETRYABLE_STATUS else None
    answer = _answer_of(error)
    if answer is not None:
        return Transient(quoted(answer)) if answer.status_code in RETRYABLE_STATUS else None
    transport = _transport_error(error)
    if transport is not None:
        verdict = classify_error(transport)
        return verdict if isinstance(verdict, Transient) else None
    return None


def failure(service: str, url: str, error: BaseException, tries: int) -> AttestationError:
    answer, transport = _answer_of(error), _transport_error(error)
    download = _download_error(error)
    if answer is not None:
        what = f"answered {quoted(answer)}"
    elif transport is not None:
        what = f"could not be reached: {describe_error(transport)}"
    elif download is not None:
        what = f"could not be reached: {type(download).__name__} {download}".strip()
    else:
        what = f"gave an answer that could not be used: {error or type(error).__name__}"
    after = f" after {tries} attempts" if tries > 1 else ""
    if answer is not None and answer.status_code in (400, 401, 403):
        hint = ("The request for a signing certificate or log entry was refused: re-run the job; "
                "if it persists, set `attestations: false` to publish without attestations.")
    else:
        hint = ("Sigstore may be having an outage (https://status.sigstore.dev): re-run the job "
                "later, or set `attestations: false` to publish without attestations.")
    return AttestationError(f"{service} at {url} {what}{after}; no file was uploaded.", hint)


def _library_errors() -> tuple[type[BaseException], ...]:
    """What the libraries raise for a service's answer, as opposed to a bug of ours."""
    from pypi_attestations import AttestationError as LibraryError
    from sigstore._internal.fulcio.client import FulcioClientError
    from sigstore._internal.rekor import RekorClientError
    from sigstore.errors import Error

    return (Error, FulcioClientError, RekorClientError, LibraryError, requests.RequestException,
            ValueError, KeyError)


def call(step: Callable[[], T], service: str, url: str, policy: RetryPolicy,
         console: Console) -> T:
    """`step`, retried while it fails transiently; a lasting failure as an AttestationError.

    Exceptions the libraries do not raise for an answer (a bug, or the caller's own signal)
    pass through untouched.
    """
    tries = 0
    last: list[BaseException] = []
    known = _library_errors()

    def attempt() -> T | Transient:
        nonlocal tries
        tries += 1
        try:
            return step()
        except known as error:
            verdict = _transient(error)
            if verdict is None:
                raise failure(service, url, error, tries) from None
            last[:] = [error]
            return verdict

    def say(number: int, verdict: Transient, wait: float) -> None:
        console.info(f"{service}: {verdict.reason}; retrying in {wait:.1f} s")

    result = retry(attempt, policy, say)
    if isinstance(result, Transient):
        raise failure(service, url, last[0], tries)
    return result


# -- the instance ------------------------------------------------------------------------------------


class _Bounded(requests.adapters.HTTPAdapter):
    """Gives every request that names no timeout the policy's (sigstore's clients name none)."""

    def __init__(self, timeout: tuple[float, float]) -> None:
        super().__init__()
        self._timeout = timeout

    def send(self, request: requests.PreparedRequest, stream: bool = False,
             timeout: Any = None, verify: bool | str = True, cert: Any = None,
             proxies: Mapping[str, str] | None = None) -> requests.Response:
        return super().send(request, stream, timeout or self._timeout, verify, cert, proxies)


def _bound(session: object, policy: RetryPolicy) -> None:
    if isinstance(session, requests.Session):
        adapter = _Bounded(policy.timeout)
        session.mount("https://", adapter)
        session.mount("http://", adapter)


@dataclass
class Instance:
    """A Sigstore instance: its trust config, and the URLs messages and links name."""

    config: ClientTrustConfig
    fulcio_url: str
    rekor_url: str

    @classmethod
    def load(cls, path: Path | None, policy: RetryPolicy, console: Console) -> Instance:
        """Sigstore's production instance (the trust root refreshed over TUF), or `path`'s."""
        from sigstore.models import ClientTrustConfig

        if path is None:
            config = call(ClientTrustConfig.production, TUF, "https://tuf-repo-cdn.sigstore.dev",
                          policy, console)
            return cls(config, "https://fulcio.sigstore.dev", PRODUCTION_REKOR)
        try:
            text = path.read_text(encoding="utf-8")
            signing = json.loads(text)["signingConfig"]
            return cls(ClientTrustConfig.from_json(text), str(signing["caUrls"][0]["url"]),
                       str(signing["rekorTlogUrls"][0]["url"]))
        except (OSError, ValueError, KeyError, IndexError, TypeError) as error:
            raise AttestationError(
                f"The Sigstore trust config `{path}` (from `{TRUST_CONFIG_ENV}`) could not be "
                f"read: {error}.",
                f"Point `{TRUST_CONFIG_ENV}` at a client trust config JSON, or unset it to use "
                "Sigstore's production instance.") from None

    def log_url(self, index: int) -> str:
        """Where a person can look at log entry `index`."""
        if self.rekor_url.rstrip("/") == PRODUCTION_REKOR:
            return f"{SEARCH}{index}"
        return f"{self.rekor_url.rstrip('/')}/api/v1/log/entries?logIndex={index}"

    def signing_context(self, policy: RetryPolicy) -> SigningContext:
        """The context to sign with, its Fulcio and Rekor sessions bounded by `policy`."""
        from sigstore.errors import Error

        try:
            return self._signing_context(policy)
        except Error as error:
            raise AttestationError(
                f"Sigstore's signing config cannot be used: {error}; no file was uploaded.",
                "Set `attestations: false` to publish without attestations, and report it.",
            ) from None

    def _signing_context(self, policy: RetryPolicy) -> SigningContext:
        from sigstore.sign import SigningContext

        # Rekor v1, as pypi-attestations' own `sign` command forces (`_cli.py` `_sign`): a v2 entry
        # has no integrated time, and the PEP 740 object keeps no RFC 3161 timestamp to stand in.
        self.config.force_tlog_version = 1
        signing = self.config.signing_config
        fulcio, rekor = signing.get_fulcio(), signing.get_tlogs()[0]
        _bound(fulcio.session, policy)
        # Rekor's client makes one session per thread on first use; this one is the signing
        # thread's (sigstore >= 4: `RekorClient._session`).
        _bound(getattr(rekor, "_session", None), policy)
        # No timestamp authority: `Attestation.from_bundle` drops the bundle's timestamps, so
        # asking for one would cost a request per file for nothing.
        return SigningContext(fulcio=fulcio, rekor=rekor, trusted_root=self.config.trusted_root,
                              tsa_clients=[])
