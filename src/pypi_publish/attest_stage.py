"""The attestation stage: whether an upload gets PEP 740 attestations, and making them before any upload.

Everything that loads `sigstore` is imported inside `attest_release`, past the decision, so a
release without attestations never loads it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .auth import UploadAuth
from .config import Config
from .context import Context
from .distribution import Release
from .errors import AttestationError
from .gha import Console
from .http import Transient, Unreachable, retry
from .identity import IdentityProvider
from .retry import RetryPolicy
from .wording import Wording

if TYPE_CHECKING:
    import requests

    from .attestations import Signed

SIGSTORE_AUDIENCE = "sigstore"  # the audience Fulcio accepts (attestations.AUDIENCE)


@dataclass(frozen=True)
class Decision:
    attest: bool
    why_not: str | None = None  # the one notice when attestations were asked for and none are made


def decide(config: Config, auth: UploadAuth, provider: IdentityProvider | None,
           context: Context) -> Decision:
    """Attest when `config.attestations` is on, the uploads use Trusted Publishing, and the index
    is a Warehouse: PyPI or TestPyPI (`Index.supports_attestations`), or any index that granted a
    Trusted Publishing token, since speaking Warehouse's OIDC exchange makes it one (a private
    deployment, or a test's loopback fake). Warehouse accepts attestations only from uploads made
    with Trusted Publishing, so with an API token nothing is signed and one notice says why.
    Signing uses the job's GitHub identity (Warehouse checks it against a GitHub publisher), so
    other CI identities get the same single notice.
    """
    if not config.attestations:
        return Decision(False)
    words = context.wording
    silence = f"set {words.setting('attestations: false')} to drop this notice"
    if auth.method != "trusted-publishing":
        index = config.index
        who = index.name if index.supports_attestations else "Warehouse (PyPI's index software)"
        return Decision(False, (
            f"No PEP 740 attestations were made: {who} accepts attestations only from uploads "
            f"that use Trusted Publishing, and this one uses an API token (from {auth.source}). "
            f"Publish with Trusted Publishing to have the files attested, or {silence}."))
    # The index granted a Trusted Publishing token: it speaks Warehouse's OIDC exchange, so it is
    # a Warehouse whatever its host (`Index.supports_attestations` knows PyPI and TestPyPI only).
    if provider is None or provider.name != "GitHub":
        name = provider.name if provider else "this CI system"
        return Decision(False, (
            f"No PEP 740 attestations were made: they are signed with a GitHub Actions identity, "
            f"and this job's identity comes from {name}; {silence}."))
    return Decision(True)


def id_tokens(env: Mapping[str, str], session: requests.Session, policy: RetryPolicy,
              console: Console, wording: Wording) -> Callable[[], str]:
    """A function giving a fresh GitHub ID token for Sigstore on every call, each request retried
    under `policy` as the Trusted Publishing token's is."""
    from . import github_token

    def fresh() -> str:
        tries = 0

        def attempt() -> str | Unreachable | Transient:
            nonlocal tries
            tries += 1
            return github_token.request_id_token(SIGSTORE_AUDIENCE, env, session, policy)

        def note(number: int, failure: Transient, wait: float) -> None:
            console.info(f"Signing ID token: {failure.reason}; retrying in {wait:.1f} s")

        result: str | Unreachable | Transient = retry(attempt, policy, note)
        if isinstance(result, str):
            return result
        if isinstance(result, Transient):
            result.discard()
        raise AttestationError(
            f"Could not get an ID token for signing (audience `{SIGSTORE_AUDIENCE}`) from GitHub: "
            f"{result.reason} ({tries} attempt{'s' if tries > 1 else ''}); no file was uploaded.",
            "GitHub's token service is having trouble (https://www.githubstatus.com): "
            f"{wording.rerun} later, or set {wording.setting('attestations: false')} to publish "
            "without attestations.")

    return fresh


def attest_release(release: Release, config: Config, context: Context, auth: UploadAuth,
                   provider: IdentityProvider | None, session: requests.Session,
                   policy: RetryPolicy, console: Console) -> dict[str, Signed]:
    """Every file's attestation, signed (or brought along) and verified, keyed by file name; empty
    when the upload gets none. Raises AttestationError before anything is uploaded."""
    decision = decide(config, auth, provider, context)
    if not decision.attest:
        if decision.why_not:
            console.notice(decision.why_not, title="No attestations")
        return {}
    from .attestations import attest_all, given_attestation
    from .sigstore_instance import trust_config_from

    words = context.wording
    with console.group(f"Attest {len(release.files)} file(s) (PEP 740, Sigstore)"):
        try:
            return attest_all([(d.path, given_attestation(d.path)) for d in release.files],
                              id_tokens(context.env, session, policy, console, words),
                              trust_config_from(context.env), policy, console)
        except AttestationError as error:
            if words.is_action:
                raise
            # The signing modules name the action's input; the command's user has a flag.
            raise AttestationError(error.message, error.hint.replace(
                "`attestations: false`", words.setting("attestations: false"))) from None
