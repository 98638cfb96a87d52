"""The GitHub Action's front door: read the step's inputs (`INPUT_*`), run the pipeline, exit."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from . import credentials
from .config import (
    Config,
    ExpectedVersion,
    parse_bool,
    parse_build_mode,
    parse_build_timeout,
    parse_config_settings,
    parse_expected_version,
    parse_parallel,
    resolve_dir,
    version_from_tag,
)
from .context import Context
from .errors import ConfigError
from .gha import Console
from .index import PYPI_UPLOAD_URL, REPOSITORIES, make_index
from .urls import check_index_url
from .wording import ACTION

INPUTS = (
    "user", "password", "repository-url", "packages-dir", "verify-metadata", "skip-existing",
    "verbose", "print-hash", "repository", "build", "project-dir", "expected-version",
    "dry-run", "parallel", "attestations", "index-url", "config-settings", "build-timeout",
    "runner",
)
TOKEN_HINT = "`password` (or `PYPI_API_TOKEN`)"  # noqa: S105 - a name, not a secret
EXIT_USAGE_FOR_ARGS = 2  # the action takes no arguments but --help and --version


def action_input(env: Mapping[str, str], name: str) -> str:
    """An input as the runner passes it: `INPUT_<NAME>`, hyphens kept; the underscore spelling too."""
    key = "INPUT_" + name.upper()
    if key in env:
        return env[key]
    return env.get(key.replace("-", "_"), "")


def _subject(name: str) -> str:
    return f"Input `{name}`"


def upload_url(repository: str, repository_url: str) -> str:
    """The upload URL from the `repository` shorthand and/or `repository-url`."""
    shorthand = repository.strip().lower()
    url = repository_url.strip()
    if shorthand:
        if shorthand not in REPOSITORIES:
            raise ConfigError(
                f"Input `repository` is {repository.strip()!r}, which is not a known index.",
                "Set `repository` to `pypi` or `testpypi`, or leave it empty and set "
                "`repository-url` to your index's upload URL.",
            )
        if url and url.rstrip("/") not in (PYPI_UPLOAD_URL.rstrip("/"),
                                           REPOSITORIES[shorthand].rstrip("/")):
            raise ConfigError(
                f"Both `repository` ({shorthand}) and `repository-url` ({url}) name an index.",
                "Keep one of them: `repository` for PyPI or TestPyPI, `repository-url` for any other.",
            )
        return REPOSITORIES[shorthand]
    return check_index_url(url or PYPI_UPLOAD_URL, "`repository-url`", _subject("repository-url"),
                           TOKEN_HINT)


def expected_version(env: Mapping[str, str], raw: str) -> tuple[ExpectedVersion | None, str]:
    """The version to insist on: the input, else the pushed tag's; the second item explains a miss."""
    if raw.strip():
        return parse_expected_version(raw, "`expected-version`", _subject("expected-version"),
                                      "`false`"), ""
    ref = env.get("GITHUB_REF", "")
    if not ref.startswith("refs/tags/"):
        return None, ""
    tag = ref.removeprefix("refs/tags/")
    version = version_from_tag(tag)
    if version is None:
        return None, (f"The run is for tag `{tag}`, which holds no PEP 440 version, so file "
                      "versions are not checked against it. Set `expected-version` to check them.")
    return ExpectedVersion(version, f"the tag `{tag}`"), ""


def run_attempt(env: Mapping[str, str]) -> int:
    raw = env.get("GITHUB_RUN_ATTEMPT", "1").strip()
    return int(raw) if re.fullmatch(r"[0-9]{1,6}", raw) and int(raw) > 0 else 1


def workspace_of(env: Mapping[str, str]) -> Path:
    raw = env.get("GITHUB_WORKSPACE", "").strip()
    workspace = Path(raw) if raw else Path.cwd()
    if not workspace.is_dir():
        raise ConfigError(
            f"The workspace `{workspace}` does not exist or is not a directory.",
            "Run the action after `actions/checkout` (or `actions/download-artifact`), so the "
            "runner mounts a workspace at `/github/workspace`.",
        )
    return workspace


def read_inputs(env: Mapping[str, str]) -> tuple[Config, Context]:
    def get(name: str) -> str:
        return action_input(env, name)

    def flag(name: str, default: bool) -> bool:
        return parse_bool(get(name), f"`{name}`", _subject(name), default)

    workspace = workspace_of(env)
    expected, note = expected_version(env, get("expected-version"))
    url = upload_url(get("repository"), get("repository-url"))
    index_url = get("index-url").strip()
    if index_url:
        index_url = check_index_url(index_url, "`index-url`", _subject("index-url"), TOKEN_HINT)
    config = Config(
        index=make_index(url, index_url),
        packages_dir=resolve_dir(workspace, get("packages-dir"), "`packages-dir`",
                                 _subject("packages-dir"), "dist", True),
        project_dir=resolve_dir(workspace, get("project-dir"), "`project-dir`",
                                _subject("project-dir"), ".", True),
        tokens=credentials.action_sources(get("password"), get("user"), env),
        user=get("user").strip() or credentials.TOKEN_USER,
        build=parse_build_mode(get("build")),
        verify_metadata=flag("verify-metadata", True),
        skip_existing=flag("skip-existing", False),
        verbose=flag("verbose", False),
        print_hash=flag("print-hash", True),
        expected_version=expected,
        dry_run=flag("dry-run", False),
        parallel=parse_parallel(get("parallel"), "`parallel`", _subject("parallel")),
        attestations=flag("attestations", True),
        config_settings=parse_config_settings(get("config-settings").splitlines(),
                                              "`config-settings`", _subject("config-settings")),
        build_timeout=parse_build_timeout(get("build-timeout"), "`build-timeout`",
                                          _subject("build-timeout")),
        confined_to=workspace,
    )
    context = Context(
        wording=ACTION, env=env, workspace=workspace,
        in_github_actions=env.get("GITHUB_ACTIONS") == "true",
        run_attempt=run_attempt(env), notices=(note,) if note else (),
        input_names=frozenset(INPUTS),
    )
    return config, context


USAGE = """\
usage: entrypoint.py [--help | --version]

The pypi-publish action: build, check and publish a Python project to PyPI or any index.
The runner passes the step's inputs as INPUT_<NAME> variables (name upper-cased, hyphens kept):
  {inputs}
Outputs go to $GITHUB_OUTPUT, the summary to $GITHUB_STEP_SUMMARY. For the local command, run
`pypi-publish --help`."""


def main(env: Mapping[str, str] | None = None, out: TextIO | None = None,
         argv: list[str] | None = None) -> int:
    """Run the action; `env` and `out` default to the process's own, `argv` (the entrypoint's
    arguments: the runner passes none) to none."""
    args = argv or []
    if args:
        # The image answers these so a user (or a test under emulation) can see what it is.
        from . import __version__

        text = (f"pypi-publish {__version__}" if args[0] == "--version"
                else USAGE.format(inputs=", ".join(INPUTS)))
        (out or sys.stdout).write(text + "\n")
        return 0 if args[0] in ("--help", "-h", "--version") else EXIT_USAGE_FOR_ARGS
    env = dict(os.environ) if env is None else dict(env)
    console = Console.from_env(env, out=out)
    # Mask the token before anything else is printed, even a config error.
    console.add_secret(action_input(env, "password").strip())
    console.add_secret(env.get("PYPI_API_TOKEN", "").strip())
    try:
        config, context = read_inputs(env)
    except ConfigError as error:
        from .pipeline import report_config_error

        return report_config_error(error, console)
    # The pipeline (and the build, check and network stacks) load only once the input is good.
    from .pipeline import execute

    return execute(config, context, console)


if __name__ == "__main__":
    sys.exit(main(argv=sys.argv[1:]))
