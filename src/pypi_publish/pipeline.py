"""config → dists → preflight → auth → upload → report, shared by the action and the local command."""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING

from . import auth, identity
from .config import Config
from .context import Context
from .distribution import Release
from .dists import prepare_release
from .errors import PublishError
from .gha import Console
from .report import RunOutcome, config_error_summary, emit
from .results import Status

if TYPE_CHECKING:
    from .early_listing import EarlyListing
    from .preflight import CheckedRelease

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
# Variables of the runner that hold credentials; no build and no log may see their values.
RUNNER_SECRETS = ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "ACTIONS_RUNTIME_TOKEN", "GITHUB_TOKEN")


def known_secrets(config: Config, context: Context) -> frozenset[str]:
    values = {source.secret for source in config.tokens}
    values |= {context.env.get(name, "") for name in RUNNER_SECRETS}
    return frozenset(v for v in values if len(v) >= 4)


def describe_files(release: Release, config: Config, console: Console) -> None:
    console.info(f"{release.project} {release.version}: {len(release.files)} file(s)")
    for dist in release.files:
        line = f"  {dist.filename}  {dist.size:,} bytes"
        if config.print_hash:
            line += f"  sha256:{dist.sha256}"
        console.info(line)


def check(release: Release, config: Config, context: Context, console: Console) -> CheckedRelease:
    # Imported after the listing has started: the checks' imports overlap its network wait.
    from .preflight import run_preflight

    with console.group("Check"):
        checked = run_preflight(release, config, context, console)
        console.info("Metadata " + ("verified" if config.verify_metadata else "read")
                     + (f"; version matches {config.expected_version.source}"
                        if config.expected_version else "") + ".")
    return checked


def publish(config: Config, context: Context, console: Console) -> RunOutcome:
    """Run every stage; the outcome holds what each returned, and the error that stopped them."""
    for note in context.notices:
        console.notice(note)
    auth.warn_about_token_setup(config, context, console)
    detection = identity.detect(context.env, github_only=context.wording.is_action)
    planned = auth.plan(config, detection.provider)
    method = planned.method or ""
    release: Release | None = None
    early: EarlyListing | None = None
    try:
        release = prepare_release(config, context, console, known_secrets(config, context))
        describe_files(release, config, console)
        if not config.dry_run and config.upload:
            # Imported only when the run uploads: the network stack costs start-up time.
            from .early_listing import start_listing

            early = start_listing(config, context, release, planned)
        checked = check(release, config, context, console)
        if config.dry_run:
            console.info(dry_run_line(release, config, planned))
            return RunOutcome(config, release, auth=method)
        if not config.upload:
            console.info("Not uploading (--no-upload).")
            return RunOutcome(config, release, auth=method)
        from .publishing import upload_checked

        upload = upload_checked(checked, config, context, console, detection, early)
    except PublishError as error:
        return RunOutcome(config, release, auth=method, error=error)
    finally:
        if early is not None:
            early.close()
    present = [r for r in upload.results if r.status is Status.PRESENT]
    if upload.error is None and present and context.run_attempt > 1:
        console.notice(f"Run attempt {context.run_attempt}: {len(present)} file(s) were already "
                       "uploaded by an earlier attempt; this run completed the release.")
    return RunOutcome(config, release, upload.results, upload.method, upload.error,
                      attestations=upload.attestations)


def dry_run_line(release: Release, config: Config, planned: auth.Plan) -> str:
    where = f"Dry run: would upload {len(release.files)} file(s) to {config.index.upload_url}"
    if planned.method is None:
        why = ("Trusted Publishing is off" if config.trusted_publishing == "never"
               else "no CI identity for Trusted Publishing")
        return (f"{where}, but a real run would have no credentials (no token given, and {why}); "
                "nothing was sent.")
    return f"{where} with {planned.source}; nothing was sent."


def execute(config: Config, context: Context, console: Console) -> int:
    """Run the pipeline, report what happened, and return the exit status."""
    console.verbose = config.verbose
    for source in config.tokens:
        console.add_secret(source.secret)
    try:
        outcome = publish(config, context, console)
    except Exception:
        # A bug, not a user error: keep the traceback, but never with a secret in it.
        console.error(console.redact(traceback.format_exc()), title="Internal error")
        console.info("This is a bug in pypi-publish; please report it with the log above.")
        emit(RunOutcome(config), console)
        return EXIT_FAILED
    emit(outcome, console)
    return EXIT_FAILED if outcome.error is not None else EXIT_OK


def report_config_error(error: PublishError, console: Console) -> int:
    console.error(str(error), title=error.title)
    console.add_summary(config_error_summary(error))
    return EXIT_USAGE
