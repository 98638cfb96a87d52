"""The stages that need the network: authenticate, list what the index has, upload (imported when used)."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field

from . import auth
from .attest_stage import attest_release
from .attestations import Signed
from .config import Config
from .context import Context
from .early_listing import EarlyListing
from .errors import PublishError
from .gha import Console
from .http import Transport
from .identity import Detection
from .listing import IndexFacts, Listing
from .preflight import CheckedRelease
from .results import FileResult
from .retry import policy_from_env
from .upload import Job
from .uploader import upload_release


@dataclass(frozen=True)
class Uploaded:
    results: tuple[FileResult, ...]
    method: str
    error: PublishError | None
    attestations: Mapping[str, Signed] = field(default_factory=dict)  # file name -> its attestation


def upload_checked(checked: CheckedRelease, config: Config, context: Context, console: Console,
                   detection: Detection, early: EarlyListing | None = None) -> Uploaded:
    release = checked.release
    policy = early.policy if early is not None else policy_from_env(context.env)
    project = str(release.project)
    # The early listing's pool is closed by its owner, once its thread is done.
    pool = nullcontext(early.transport) if early is not None else \
        Transport(context.env, pool_size=config.parallel)
    with pool as transport:
        with console.group("Authenticate"):
            credentials = auth.obtain(config, context, transport, policy, console,
                                      detection.provider, project, tried=detection.looked_for)
            current = credentials.current()
            console.info(f"Using {credentials.source} as `{current.user}`.")
        # Every file signed and verified before the first upload; an AttestationError stops here.
        signed = attest_release(release, config, context, credentials, detection.provider,
                                transport.session, policy, console)
        job = Job(config.index, credentials, transport, policy, console, context.wording, project,
                  checked.metadata, config.skip_existing,
                  attestations={name: s.form_value for name, s in signed.items()},
                  confirmed_roots=early.facts if early is not None else IndexFacts())
        with console.group(f"Upload {len(release.files)} file(s) to {config.index.upload_url}"):
            listing = _usable(early, credentials.current().user, credentials.current().password) \
                or job.listing()
            if listing.known:
                console.debug(f"The index lists {len(listing.files)} file(s) of {project}: "
                              f"{listing.reason}.")
            else:
                console.debug(f"Could not list the project's files on the index ({listing.reason}); "
                              "relying on the index's answers to uploads.")
            outcome = upload_release(release, listing, job, config.parallel)
    return Uploaded(outcome.results, credentials.method, outcome.error, signed)


def _usable(early: EarlyListing | None, user: str, password: str) -> Listing | None:
    """The early listing, if it was asked with the credentials the upload uses (or none)."""
    if early is None:
        return None
    listing = early.result()
    if early.credentials is not None and early.credentials != (user, password):
        return None
    return listing
