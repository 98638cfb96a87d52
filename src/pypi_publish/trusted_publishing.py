"""The Trusted Publishing exchange: the index's audience, then a fresh ID token traded for an upload token."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import requests

from .errors import TrustedPublishingError
from .gha import Console
from .http import Transient, Unreachable, retry, send
from .identity import IdentityProvider
from .index import Index
from .retry import RETRYABLE_STATUS, RetryPolicy
from .tp_diagnostics import explain_refusal, publisher_fields, when
from .wire import MintAnswer, audience_answer, jwt_claims, mint_answer
from .wording import Wording


@dataclass(frozen=True)
class MintedToken:
    token: str = field(repr=False)
    expires: float | None  # seconds since the epoch, as the index said
    claims: dict[str, object] = field(repr=False)


def _tries(count: int) -> str:
    return f"{count} attempt{'s' if count > 1 else ''}"


def _json(response: requests.Response) -> object | None:
    try:
        value: object = response.json()
    except ValueError:
        return None
    return value


def discover_audience(index: Index, session: requests.Session, policy: RetryPolicy,
                      console: Console, wording: Wording) -> str:
    """The audience the index wants in ID tokens (`GET /_/oidc/audience`)."""
    url = f"{index.trusted_publishing_root}/_/oidc/audience"
    host = index.trusted_publishing_root.split("://", 1)[1]
    count = 0

    def attempt() -> requests.Response | Transient | Unreachable:
        nonlocal count
        count += 1
        sent = send(lambda: session.get(url, timeout=policy.timeout, allow_redirects=False))
        if isinstance(sent, requests.Response) and sent.status_code == 200 and _json(sent) is None \
                and "json" in sent.headers.get("Content-Type", "").lower():
            return Transient("HTTP 200 with an unreadable JSON body", response=sent)
        return sent

    def note(number: int, failure: Transient, wait: float) -> None:
        console.info(f"Trusted Publishing audience: {failure.reason}; retrying in {wait:.1f} s")

    result: requests.Response | Transient | Unreachable = retry(attempt, policy, note)
    response = result.response if isinstance(result, Transient) else result
    if not isinstance(response, requests.Response):
        failure = result if isinstance(result, (Transient, Unreachable)) else None
        raise TrustedPublishingError(
            f"Could not reach {host} to start Trusted Publishing: "
            f"{failure.reason if failure else 'no answer'} ({_tries(count)}).",
            f"Check {wording.setting('repository-url')} and the index's status; transient failures "
            "were retried.",
        )
    with response:
        status = response.status_code
        if status == 403:
            raise TrustedPublishingError(
                f"Trusted Publishing is disabled on {host} (its audience endpoint answered 403), "
                "usually for a while during an incident.",
                "Use an API token for now: store it as the `PYPI_API_TOKEN` secret and pass it in "
                "`env:`, or retry later.",
            )
        if status == 404:
            raise TrustedPublishingError(
                f"{host} has no Trusted Publishing (no `/_/oidc/audience` endpoint).",
                f"Use an API token for this index: {wording.pass_token}.",
            )
        answer = audience_answer(_json(response))
        if status == 200 and answer is not None:
            return answer["audience"]
        if status in RETRYABLE_STATUS:
            raise TrustedPublishingError(
                f"{host} answered the audience request with HTTP {status} "
                f"{count} time{'s' if count > 1 else ''}.",
                    f"The index is having trouble: {wording.rerun} later, or use an API token.",
            )
        raise TrustedPublishingError(
            f"{host} answered the audience request with HTTP {status} and no audience.",
            "The index does not speak Trusted Publishing as PyPI does; use an API token for this "
            f"index: {wording.pass_token}.",
        )


def mint_upload_token(index: Index, provider: IdentityProvider, session: requests.Session,
                      policy: RetryPolicy, console: Console, wording: Wording, project: str = "",
                      audience: str | None = None) -> MintedToken:
    """Exchange a fresh ID token at the index for an upload token, masked before this returns.

    Raises TrustedPublishingError with the whole diagnostic when the exchange fails.
    """
    started = time.monotonic()
    root = index.trusted_publishing_root
    host = root.split("://", 1)[1]
    audience = audience or discover_audience(index, session, policy, console, wording)
    count = 0
    stage = "ID token"
    claims: dict[str, object] = {}
    cached: list[str] = []

    def attempt() -> requests.Response | Transient | Unreachable:
        nonlocal count, stage, claims
        count += 1
        stage = "ID token"
        if cached and not provider.renewable:
            jwt: str | Transient | Unreachable = cached[0]
        else:
            # The index accepts each ID token once: every attempt asks for a new one.
            jwt = provider.fetch(audience, session, policy)
        if not isinstance(jwt, str):
            return jwt
        cached[:] = [jwt]
        console.add_secret(jwt)
        claims = jwt_claims(jwt)
        stage = "token exchange"
        sent = send(lambda: session.post(f"{root}/_/oidc/mint-token", json={"token": jwt},
                                         timeout=policy.timeout, allow_redirects=False))
        if isinstance(sent, requests.Response) and sent.status_code == 200 \
                and "token" not in mint_answer(_json(sent)):
            # A 200 whose JSON does not parse was cut short or garbled on the way.
            return Transient("HTTP 200 with an unreadable JSON body", response=sent)
        return sent

    def note(number: int, failure: Transient, wait: float) -> None:
        console.info(f"Trusted Publishing {stage}: {failure.reason}; retrying in {wait:.1f} s")

    result: requests.Response | Transient | Unreachable = retry(attempt, policy, note)
    if stage == "ID token":
        if isinstance(result, Transient):
            result.discard()
        reason = result.reason if isinstance(result, (Transient, Unreachable)) else "no token"
        raise TrustedPublishingError(
            f"Could not get an ID token from {provider.name}: {reason} ({_tries(count)}).",
            f"{provider.name}'s token service is having trouble: {wording.rerun} later"
            + (" (see https://www.githubstatus.com)." if provider.name == "GitHub" else "."),
        )
    response = result.response if isinstance(result, Transient) else result
    if not isinstance(response, requests.Response):
        failure = result if isinstance(result, (Transient, Unreachable)) else None
        raise TrustedPublishingError(
            f"Could not exchange the ID token at {host}: "
            f"{failure.reason if failure else 'no answer'} ({_tries(count)}).",
            f"{wording.rerun.capitalize()}; if it persists, check the index's status page.",
        )
    with response:
        answer: MintAnswer = mint_answer(_json(response))
        status = response.status_code
    token = answer.get("token")
    if status == 200 and token:
        # Masked before anything else can print it.
        console.add_secret(token)
        expires = answer.get("expires")
        until = f" until {when(expires)}" if expires is not None else ""
        fields = publisher_fields(provider.name, claims)
        console.info(f"Trusted Publishing: {host} accepted the ID token of "
                     f"{fields.identity() if fields else f'this {provider.name} job'}; upload token "
                     f"valid{until}.")
        console.debug(f"Trusted Publishing: exchange done in {time.monotonic() - started:.3f} s "
                      f"({_tries(count)} at the ID token and mint).")
        return MintedToken(token, float(expires) if expires is not None else None, claims)
    if status == 422 or "errors" in answer:
        raise explain_refusal(answer, claims, index, project, provider.name, provider.detected)
    if status in RETRYABLE_STATUS:
        raise TrustedPublishingError(
            f"The index answered the token exchange with HTTP {status} ({_tries(count)}).",
            f"The index is having trouble: {wording.rerun} later, or use an API token.",
        )
    raise TrustedPublishingError(
        f"The index answered the token exchange with HTTP {status} and no token.",
        f"{wording.rerun.capitalize()}; if it persists, use an API token for this index.",
    )
