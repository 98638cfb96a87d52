"""config → dists → preflight → auth → upload → report, shared by the action and the local command."""

from __future__ import annotations

import traceback
from collections.abc import Mapping

from .auth import obtain_credentials, planned_method, warn_about_token_setup
from .config import Config
from .dists import Release, prepare_release
from .errors import PublishError
from .gha import Console
from .preflight import CheckedRelease, run_preflight
from .report import RunRecord, report

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def describe_files(release: Release, config: Config, console: Console) -> None:
    for dist in release.files:
        line = f"  {dist.filename}  {dist.size:,} bytes"
        if config.print_hash:
            line += f"  sha256:{dist.sha256}"
        console.info(line)


def upload_release(checked: CheckedRelease, config: Config, env: Mapping[str, str],
                   console: Console, record: RunRecord) -> None:
    # The network stack loads only here, so --help, dry runs and input errors start fast.
    from .http import new_session
    from .retry import policy_from_env
    from .upload import Uploader, UploadPlan

    policy = policy_from_env(env)
    release = checked.release
    with new_session(pool_size=config.parallel, env=env) as session:
        with console.group("Authenticate"):
            credentials = obtain_credentials(config, env, session, policy, console,
                                             str(release.project))
            console.info(f"Using {credentials.source} as `{credentials.user}`.")
        plan = UploadPlan(config.repository_url, credentials.user, credentials.password,
                          config.skip_existing, config.parallel, credentials.method)
        uploader = Uploader(plan, session, policy, console, dict(checked.metadata),
                            str(release.project))
        with console.group(f"Upload {len(release.files)} file(s) to {config.repository_url}"):
            record.results = uploader.run(release.files)
    if uploader.fatal is not None:
        raise uploader.fatal
    present = record.names_with("PRESENT")
    if present and config.run_attempt > 1:
        console.notice(f"Run attempt {config.run_attempt}: {len(present)} file(s) were already "
                       "uploaded by an earlier attempt; this run completed the release.")


def publish(config: Config, env: Mapping[str, str], console: Console, record: RunRecord) -> None:
    for note in config.notices:
        console.notice(note)
    warn_about_token_setup(config, console)
    record.auth = planned_method(config)
    release = prepare_release(config, console)
    record.project, record.version = str(release.project), str(release.version)
    record.files = list(release.files)
    console.info(f"{release.project} {release.version}: {len(release.files)} file(s)")
    describe_files(release, config, console)
    with console.group("Check"):
        checked = run_preflight(release, config, console)
        console.info("Metadata " + ("verified" if config.verify_metadata else "read")
                     + (f"; version matches {config.expected_version.source}"
                        if config.expected_version else "") + ".")
    if config.dry_run:
        console.info(f"Dry run: would upload {len(release.files)} file(s) to "
                     f"{config.repository_url} with "
                     + (f"the token from {config.password_source}" if config.password
                        else "Trusted Publishing") + "; nothing was sent.")
        return
    if not config.upload:
        console.info("Not uploading (--no-upload).")
        return
    upload_release(checked, config, env, console, record)


def execute(config: Config, env: Mapping[str, str], console: Console) -> int:
    """Run the pipeline, report what happened, and return the exit status."""
    console.verbose = config.verbose
    if config.password:
        console.add_secret(config.password)
    record = RunRecord(config)
    status = EXIT_OK
    try:
        publish(config, env, console, record)
    except PublishError as error:
        record.error = error
        status = EXIT_FAILED
    except Exception:
        # A bug, not a user error: keep the traceback, but never with a secret in it.
        console.error(console.redact(traceback.format_exc()), title="Internal error")
        console.info("This is a bug in pypi-publish; please report it with the log above.")
        status = EXIT_FAILED
    report(record, console)
    return status


def report_config_error(error: PublishError, console: Console) -> int:
    console.error(str(error), title=error.title)
    if console.summary_file is not None:
        console.add_summary(f"## ❌ {error.title}\n\n{error.message}\n\n**How to fix:** {error.hint}\n")
    return EXIT_USAGE
