"""HTTP plumbing for every stage: sessions per thread on one pool, bounded requests, retries by classifier."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
import requests.adapters

from . import __version__
from .retry import RETRYABLE_STATUS, RetryPolicy

USER_AGENT = f"pypi-publish/{__version__}"
T = TypeVar("T")


def ca_bundle(env: Mapping[str, str]) -> str | None:
    """The CA bundle to trust: requests reads REQUESTS_CA_BUNDLE itself, not SSL_CERT_FILE."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        value = env.get(name, "").strip()
        if value:
            return value
    return None


class _Session(requests.Session):
    """A session whose CA bundle is the run's: requests lets `REQUESTS_CA_BUNDLE` in the process
    environment override `Session.verify`, but never a `verify` given with the request."""

    def __init__(self, verify: str | bool) -> None:
        super().__init__()
        self.bundle = verify

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("verify", self.bundle)
        return super().request(method, url, *args, **kwargs)


# Bytes per send of a streamed body. urllib3 reads 16 KiB at a time; a release's files are MBs,
# and larger sends cut the per-chunk Python work that competes with the index for the CPU.
SEND_BLOCK = 256 * 1024


class _Adapter(requests.adapters.HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("blocksize", SEND_BLOCK)
        super().init_poolmanager(*args, **kwargs)


class Transport:
    """One connection pool for the run, and a `requests.Session` per thread that uses it.

    requests does not promise that a Session is thread-safe (its cookie and header state is
    shared), but urllib3's pools are: every thread's session mounts the same adapter, so the
    connections a listing or token exchange opened stay warm for the uploads of every thread.
    """

    def __init__(self, env: Mapping[str, str], pool_size: int = 4) -> None:
        self._adapter = _Adapter(pool_connections=4, pool_maxsize=max(pool_size, 2))
        self._verify: str | bool = ca_bundle(env) or True
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()

    @property
    def session(self) -> requests.Session:
        """This thread's session."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = _Session(self._verify)
            session.headers["User-Agent"] = USER_AGENT
            session.mount("https://", self._adapter)
            session.mount("http://", self._adapter)
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def close(self) -> None:
        # The sessions own no connections of their own: the shared adapter holds them all.
        with self._lock:
            self._sessions.clear()
        self._adapter.close()

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class Transient:
    """An attempt that failed in a way worth another try: an error answer, or no answer."""

    reason: str
    response: requests.Response | None = None  # the answer, when the failure was one (5xx, 429)
    error: BaseException | None = None  # the transport error, when there was no answer
    # False when the request cannot have reached the index (the connection was never made).
    may_have_arrived: bool = True

    @property
    def retry_after(self) -> str | None:
        return self.response.headers.get("Retry-After") if self.response is not None else None

    def discard(self) -> None:
        if self.response is not None:
            self.response.close()


@dataclass(frozen=True)
class Unreachable:
    """No answer, and trying again will not help (a certificate problem, a refused connection)."""

    reason: str
    error: BaseException


def describe_error(error: BaseException) -> str:
    """A one-line reason for a transport error, without URLs' query strings or headers."""
    text = str(error)
    if isinstance(error, requests.exceptions.SSLError):
        if "WRONG_VERSION_NUMBER" in text or "record layer failure" in text or "wrong version" in text:
            return "TLS handshake failed: the server does not speak TLS on that port (plain http?)"
        if "match" in text and "hostname" in text.lower():
            return "TLS verification failed: the certificate is not valid for this host name"
        if "CERTIFICATE_VERIFY_FAILED" in text:
            return "TLS verification failed: the certificate is not signed by a trusted authority"
        return "TLS handshake failed"
    if isinstance(error, (requests.exceptions.ChunkedEncodingError,
                          requests.exceptions.ContentDecodingError)):
        return "the server's answer was cut off or garbled"
    if isinstance(error, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                          requests.exceptions.InvalidSchema)):
        return "the URL could not be used"
    if isinstance(error, requests.ConnectTimeout):
        return "connection timed out"
    if isinstance(error, requests.ReadTimeout):
        return "the server did not answer in time"
    if isinstance(error, requests.ConnectionError):
        if "Connection refused" in text:
            return "connection refused"
        if "Name or service not known" in text or "nodename nor servname" in text \
                or "No address associated" in text:
            return "host name could not be resolved"
        if "Temporary failure in name resolution" in text:
            return "host name could not be resolved for now (DNS failure)"
        if "reset" in text.lower() or "aborted" in text.lower():
            return "connection reset by the server"
        return "connection failed"
    return type(error).__name__


def _never_connected(error: BaseException) -> bool:
    """True when the request cannot have left: no connection was ever made."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    if isinstance(error, requests.ConnectionError) and not isinstance(error, requests.exceptions.SSLError):
        text = str(error)
        return "NewConnectionError" in text or "Connection refused" in text \
            or "Failed to resolve" in text or "name resolution" in text.lower()
    return False


def classify_error(error: requests.RequestException) -> Transient | Unreachable:
    reason = describe_error(error)
    if isinstance(error, requests.exceptions.SSLError):
        # Neither a certificate problem nor a port that speaks no TLS heals by retrying.
        return Unreachable(reason, error)
    if reason in ("connection refused", "host name could not be resolved", "the URL could not be used"):
        # A wrong port or host: retrying only makes the user wait for the same answer.
        return Unreachable(reason, error)
    if isinstance(error, (requests.ConnectionError, requests.Timeout,
                          requests.exceptions.ChunkedEncodingError,
                          requests.exceptions.ContentDecodingError)):
        return Transient(reason, error=error, may_have_arrived=not _never_connected(error))
    return Unreachable(reason, error)


def send(request: Callable[[], requests.Response]) -> requests.Response | Transient | Unreachable:
    """Make one request: its answer, or why there is none; 429 and 5xx answers are transient."""
    try:
        response = request()
    except requests.RequestException as error:
        return classify_error(error)
    if response.status_code in RETRYABLE_STATUS:
        # 429 is a refusal before any work; a 5xx may come from a proxy after the index acted.
        return Transient(f"HTTP {response.status_code}", response=response,
                         may_have_arrived=response.status_code != 429)
    return response


def retry(attempt: Callable[[], T | Transient], policy: RetryPolicy,
          on_retry: Callable[[int, Transient, float], None] | None = None) -> T | Transient:
    """Call `attempt` until it gives something other than a Transient, or the policy's bounds end.

    Returns what the last attempt gave; the caller says what a final Transient means.
    """
    started = policy.clock()
    number = 0
    while True:
        number += 1
        result = attempt()
        if not isinstance(result, Transient) or number >= policy.attempts:
            return result
        wait = policy.delay(number, result.retry_after)
        if policy.clock() - started + wait > policy.total_budget:
            return result
        if on_retry is not None:
            on_retry(number, result, wait)
        result.discard()
        policy.sleep(wait)
