"""HTTP plumbing shared by every stage: one session, timeouts, retries, no secret in errors."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import requests

from . import __version__
from .retry import RETRYABLE_STATUS, RetryPolicy

USER_AGENT = f"pypi-publish/{__version__}"


def ca_bundle(env: Mapping[str, str]) -> str | None:
    """The CA bundle to trust: requests reads REQUESTS_CA_BUNDLE itself, not SSL_CERT_FILE."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        value = env.get(name, "").strip()
        if value:
            return value
    return None


def new_session(pool_size: int = 4, env: Mapping[str, str] | None = None) -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    bundle = ca_bundle(env or {})
    if bundle:
        session.verify = bundle
    adapter = requests.adapters.HTTPAdapter(pool_connections=2, pool_maxsize=max(pool_size, 2))
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


@dataclass
class Attempt:
    """What one attempt ended with: a response, or the connection error that replaced it."""

    response: requests.Response | None
    error: requests.RequestException | None

    @property
    def transient(self) -> bool:
        if self.error is not None:
            # A certificate problem does not heal by retrying.
            if isinstance(self.error, requests.exceptions.SSLError):
                return False
            return isinstance(self.error, (requests.ConnectionError, requests.Timeout,
                                           requests.exceptions.ChunkedEncodingError,
                                           requests.exceptions.ContentDecodingError))
        return self.response is not None and self.response.status_code in RETRYABLE_STATUS


def describe_error(error: BaseException) -> str:
    """A one-line reason for a transport error, without URLs' query strings or headers."""
    if isinstance(error, requests.exceptions.SSLError):
        text = str(error)
        if "WRONG_VERSION_NUMBER" in text or "record layer failure" in text:
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
        text = str(error)
        if "Connection refused" in text:
            return "connection refused"
        if "Name or service not known" in text or "nodename nor servname" in text:
            return "host name could not be resolved"
        if "reset" in text.lower() or "aborted" in text.lower():
            return "connection reset by the server"
        return "connection failed"
    return type(error).__name__


def with_retries(
    send: Callable[[], requests.Response],
    policy: RetryPolicy,
    on_retry: Callable[[int, str, float], None] | None = None,
) -> Attempt:
    """Call `send` until it gives a non-transient answer or the policy's bounds are reached.

    Returns the last attempt; callers decide what a final 5xx or connection error means.
    """
    started = policy.clock()
    attempt_no = 0
    while True:
        attempt_no += 1
        try:
            attempt = Attempt(send(), None)
        except requests.RequestException as error:
            attempt = Attempt(None, error)
        if not attempt.transient or attempt_no >= policy.attempts:
            return attempt
        retry_after = (attempt.response.headers.get("Retry-After")
                       if attempt.response is not None else None)
        wait = policy.delay(attempt_no, retry_after)
        if policy.clock() - started + wait > policy.total_budget:
            return attempt
        if on_retry is not None:
            reason = (
                f"HTTP {attempt.response.status_code}"
                if attempt.response is not None
                else describe_error(attempt.error or Exception())
            )
            on_retry(attempt_no, reason, wait)
        if attempt.response is not None:
            attempt.response.close()
        policy.sleep(wait)
