"""Credentials, in order: the front door's token sources, then Trusted Publishing; renewed in time."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from .config import Config
from .context import Context
from .credentials import TOKEN_USER, TokenSource
from .errors import AuthError
from .gha import Console

if TYPE_CHECKING:
    from .http import Transport
    from .identity import IdentityProvider
    from .retry import RetryPolicy

Method = Literal["token", "trusted-publishing"]
# Renew a Trusted Publishing token this long before the index says it expires.
RENEW_MARGIN = 120.0


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str = field(repr=False)
    method: Method
    source: str  # where the token came from, as the user knows it
    expires: float | None = None  # seconds since the epoch (minted tokens only)


@dataclass(frozen=True)
class Plan:
    """The credentials a run would use, known without any request (for dry runs and the report)."""

    method: Method | None  # None: there are none
    source: str


def chosen_token(config: Config) -> TokenSource | None:
    """The first token source that holds a token, unless Trusted Publishing is demanded."""
    if config.trusted_publishing == "always":
        return None
    return next((source for source in config.tokens if source.secret), None)


def plan(config: Config, provider: IdentityProvider | None) -> Plan:
    token = chosen_token(config)
    if token is not None:
        return Plan("token", f"the token from {token.name}")
    if provider is None or config.trusted_publishing == "never":
        return Plan(None, "no credentials")
    return Plan("trusted-publishing", f"Trusted Publishing ({provider.name} ID token)")


def warn_about_token_setup(config: Config, context: Context, console: Console) -> None:
    for source in config.tokens:
        if source.set_but_empty:
            console.warning(
                f"{source.name} is set but empty, so it is ignored. The secret it comes from is "
                "probably not defined for this repository or environment (or not passed to this job)."
                if context.wording.is_action else
                f"{source.name} is set but empty, so it is ignored.",
                title="Empty token",
            )
    token = chosen_token(config)
    if token is None:
        if config.trusted_publishing == "always" and any(s.secret for s in config.tokens):
            console.notice("Trusted Publishing was asked for, so the configured token is not used.")
        return
    index = config.index
    if index.is_warehouse:
        if not token.secret.startswith("pypi-"):
            console.warning(
                f"The token from {token.name} does not start with `pypi-`, so it is not a "
                f"{index.name} API token; the upload will likely be refused. Copy the whole token, "
                "including its `pypi-` prefix.",
                title="Suspicious token",
            )
        if token.user != TOKEN_USER:
            console.warning(
                f"{_cap(token.user_name)} is `{token.user}` but {index.name} accepts API tokens only "
                f"with the user name `__token__`. Remove {context.wording.setting('user')} (or set it "
                "to `__token__`).",
                title="Token user",
            )


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def missing_credentials(context: Context, tried: tuple[str, ...]) -> AuthError:
    if context.wording.is_action:
        return AuthError(
            "No credentials: no token was given (`password` input, `TWINE_PASSWORD` or "
            "`PYPI_API_TOKEN`), and Trusted Publishing works only inside GitHub Actions.",
            "In a workflow, either grant the job `permissions: id-token: write` and register it as "
            "a Trusted Publisher on the index, or pass an API token: `env: PYPI_API_TOKEN: "
            "${{ secrets.PYPI_API_TOKEN }}`.",
        )
    looked = ", ".join(tried) if tried else "none"
    return AuthError(
        "No credentials: no token was given (`TWINE_PASSWORD`, `PYPI_API_TOKEN` or a password in "
        f"`~/.pypirc`), and no CI identity for Trusted Publishing was found (looked for: {looked}).",
        "Export a token from the index's account settings: `export TWINE_PASSWORD=pypi-…` (or "
        "`PYPI_API_TOKEN`), or put it in `~/.pypirc`; in CI, use Trusted Publishing with the CI's "
        "OIDC identity.",
    )


class UploadAuth:
    """The credentials every upload uses; a Trusted Publishing token is renewed before it expires.

    Upload threads share one instance: renewal happens once, under a lock, and every thread
    then sees the new token.
    """

    def __init__(self, credentials: Credentials,
                 renew: Callable[[], Credentials] | None = None,
                 clock: Callable[[], float] = time.time, console: Console | None = None) -> None:
        self._credentials = credentials
        self._renew = renew
        self._clock = clock
        self._console = console
        self._lock = threading.Lock()
        self.renewals = 0

    @property
    def method(self) -> Method:
        return self._credentials.method

    @property
    def source(self) -> str:
        return self._credentials.source

    def current(self) -> Credentials:
        with self._lock:
            expires = self._credentials.expires
            if self._renew is not None and expires is not None \
                    and expires - self._clock() < RENEW_MARGIN:
                self._renew_locked("it expires in less than two minutes")
            return self._credentials

    def renew_after_refusal(self, refused: Credentials) -> Credentials | None:
        """A fresh token after the index refused `refused` as expired; None when none can be had."""
        if self._renew is None:
            return None
        with self._lock:
            if self._credentials.password == refused.password:
                self._renew_locked("the index refused it as expired")
            return self._credentials

    def _renew_locked(self, why: str) -> None:
        if self._renew is None:
            return
        if self._console is not None:
            self._console.info(f"Trusted Publishing: minting a new upload token ({why}).")
        self._credentials = self._renew()
        self.renewals += 1


def no_identity(config: Config, context: Context, tried: tuple[str, ...],
                provider: IdentityProvider | None = None) -> AuthError:
    """No token, and no identity for Trusted Publishing: the message for how the run was set up."""
    if config.trusted_publishing == "never":
        although = f", although this is {provider.detected}" if provider and provider.detected else ""
        return AuthError(
            "No credentials: no token was given (`TWINE_PASSWORD`, `PYPI_API_TOKEN` or a password in "
            f"`~/.pypirc`), and Trusted Publishing is off (`--trusted-publishing never`){although}.",
            "Export a token from the index's account settings (`export TWINE_PASSWORD=pypi-…`), or "
            "let the command use Trusted Publishing: drop `--trusted-publishing never`.",
        )
    if config.trusted_publishing == "always":
        from .errors import TrustedPublishingError

        return TrustedPublishingError(
            "Trusted Publishing was asked for (`--trusted-publishing always`), but no CI identity "
            f"was found (looked for: {', '.join(tried) or 'none'}).",
            "Run the command in a CI job that has an OIDC identity for the index (GitHub Actions "
            "with `id-token: write`, GitLab CI/CD with an `id_tokens:` entry named `PYPI_ID_TOKEN`, "
            "Google Cloud, Buildkite or CircleCI), or give a token and drop "
            "`--trusted-publishing always`.",
        )
    return missing_credentials(context, tried)


def obtain(config: Config, context: Context, transport: Transport, policy: RetryPolicy,
           console: Console, provider: IdentityProvider | None, project: str,
           audience: str | None = None, tried: tuple[str, ...] = ()) -> UploadAuth:
    """The credentials for the uploads: the first token given, else Trusted Publishing."""
    token = chosen_token(config)
    if token is not None:
        console.add_secret(token.secret)
        return UploadAuth(Credentials(token.user, token.secret, "token", token.name))
    if provider is None or config.trusted_publishing == "never":
        raise no_identity(config, context, tried, provider)
    from .tp_diagnostics import user_warning
    from .trusted_publishing import mint_upload_token

    warning = user_warning(config.user)
    if warning:
        console.warning(warning, title="Trusted Publishing user")

    def mint() -> Credentials:
        minted = mint_upload_token(config.index, provider, transport.session, policy, console,
                                   context.wording, project, audience)
        return Credentials(TOKEN_USER, minted.token, "trusted-publishing", "Trusted Publishing",
                           minted.expires)

    return UploadAuth(mint(), renew=mint, console=console)
