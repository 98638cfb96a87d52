"""The local command's front door (`pypi-publish`): flags, `TWINE_*` and `.pypirc`, then the pipeline."""

from __future__ import annotations

import argparse
import os
import platform
import sys
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from . import __version__, credentials, progress, pypirc
from .config import (
    DEFAULT_BUILD_TIMEOUT_MINUTES,
    DEFAULT_PARALLEL,
    MAX_PARALLEL,
    BuildMode,
    Config,
    parse_build_timeout,
    parse_config_settings,
    parse_expected_version,
    parse_parallel,
    resolve_dir,
)
from .context import Context
from .errors import ConfigError
from .gha import Console
from .index import make_index
from .urls import check_index_url
from .wording import CLI

DESCRIPTION = """\
Build, check and upload a Python project's sdist and wheel to PyPI, TestPyPI or any index.
Credentials, first found wins: TWINE_USERNAME / TWINE_PASSWORD, PYPI_API_TOKEN, the ~/.pypirc
section, the keyring; else Trusted Publishing from a CI job's OIDC identity."""

EPILOG = """\
exit status: 0 published (or checked), 1 publish failed, 2 bad usage or input.
progress: in a terminal only (on stderr); none in CI, with TERM=dumb or redirected output.

examples:
  pypi-publish --dry-run                      build and check; show what would be uploaded
  pypi-publish --repository testpypi --tag v1.2.3
  pypi-publish --skip-build --skip-existing   publish dist/, leaving what the index has"""

TOKEN_HINT = "`TWINE_PASSWORD` (or `PYPI_API_TOKEN`)"  # noqa: S105 - a name, not a secret


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> typing.NoReturn:
        raise ConfigError(f"Bad arguments: {message}.", f"Run `{self.prog} --help` for the usage.")


def build_parser(prog: str = "pypi-publish") -> argparse.ArgumentParser:
    parser = _Parser(prog=prog, description=DESCRIPTION, epilog=EPILOG,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--version", action="version",
        version=f"%(prog)s {__version__} (Python {platform.python_version()})")
    add("--dry-run", action="store_true",
        help="build if needed and check, then print what would be uploaded where; contacts no index")
    add("--no-upload", action="store_true", help="build and check only; contact no index")
    add("--skip-build", action="store_true",
        help="do not build; publish the distributions already in --packages-dir")
    add("--repository", metavar="NAME",
        help="index to publish to: pypi, testpypi or a section of the config file "
             "(default: TWINE_REPOSITORY, else pypi)")
    add("--repository-url", metavar="URL",
        help="upload URL of any other index (legacy upload API), e.g. "
             "https://pypi.example.org/legacy/ (default: TWINE_REPOSITORY_URL)")
    add("--index-url", metavar="URL",
        help="the index's simple API, when it cannot be derived from the upload URL")
    add("--config-file", metavar="FILE", default=pypirc.DEFAULT_CONFIG_FILE,
        help="the .pypirc file to read (default: ~/.pypirc)")
    add("--tag", metavar="TAG",
        help="refuse to publish unless every file has this tag's version (v1.2.3 -> 1.2.3)")
    add("--packages-dir", metavar="DIR", default="dist",
        help="where distributions are built to or taken from (default: dist)")
    add("--project-dir", metavar="DIR", default=".", help="the project to build (default: .)")
    add("--skip-existing", action="store_true",
        help="skip files the index already has (works on any index)")
    add("--no-verify-metadata", action="store_true",
        help="do not check the metadata before uploading")
    add("--parallel", metavar="N", default=str(DEFAULT_PARALLEL),
        help=f"files uploaded at once (1-{MAX_PARALLEL}, default {DEFAULT_PARALLEL})")
    add("-C", "--config-setting", metavar="KEY=VALUE", action="append", default=[],
        help="PEP 517 config setting for both builds, as `python -m build -C` (repeatable)")
    add("--build-timeout", metavar="MINUTES", default=str(DEFAULT_BUILD_TIMEOUT_MINUTES),
        help=f"stop a build that takes longer (default {DEFAULT_BUILD_TIMEOUT_MINUTES})")
    add("--attestations", action=argparse.BooleanOptionalAction, default=True,
        help="sign PEP 740 attestations when publishing with Trusted Publishing (default: on)")
    add("--trusted-publishing", choices=("auto", "always", "never"), default="auto",
        help="auto (default): Trusted Publishing when no token is configured and a CI identity "
             "is found; always: even when a token is configured; never: tokens only")
    add("--verbose", action="store_true", help="more detail in the log")
    return parser


def _repository(args: argparse.Namespace, env: Mapping[str, str]) -> tuple[str, pypirc.Section | None]:
    """The upload URL and the `.pypirc` section it came from, with twine's precedence."""
    url = args.repository_url or env.get("TWINE_REPOSITORY_URL", "").strip()
    if url:
        where = "`--repository-url`" if args.repository_url else "`TWINE_REPOSITORY_URL`"
        return check_index_url(url, where, where, TOKEN_HINT), None
    name = args.repository or env.get("TWINE_REPOSITORY", "").strip() or "pypi"
    asked = f"`--repository {name}`" if args.repository else f"`TWINE_REPOSITORY` (`{name}`)"
    found = pypirc.section(args.config_file, name, env, asked)
    where = f"`repository` in {found.where}"
    return check_index_url(found.repository or "", where, _cap(where), TOKEN_HINT), found


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _unused_repository(args: argparse.Namespace, env: Mapping[str, str]) -> tuple[str, ...]:
    """twine lets a repository URL (flag or `TWINE_REPOSITORY_URL`) win over `--repository`: say so."""
    url_from = ("`--repository-url`" if args.repository_url
                else "`TWINE_REPOSITORY_URL`" if env.get("TWINE_REPOSITORY_URL", "").strip() else "")
    if not args.repository or not url_from:
        return ()
    return (f"`--repository {args.repository}` is not used: {url_from} is set, and a repository URL "
            "wins over a section name (as in twine), credentials of the section included.",)


def read_args(argv: Sequence[str], env: Mapping[str, str], prog: str = "pypi-publish",
              cwd: Path | None = None) -> tuple[Config, Context]:
    args = build_parser(prog).parse_args(list(argv))
    cwd = cwd or Path.cwd()
    url, section = _repository(args, env)
    index_url = ""
    if args.index_url:
        index_url = check_index_url(args.index_url, "`--index-url`", "`--index-url`", TOKEN_HINT)
    user = (section.username or "") if section else ""
    password = (section.password or "") if section else ""
    tokens = credentials.cli_sources(env, user, password, section.where if section else "")
    if not any(source.secret for source in tokens) and args.trusted_publishing != "always" \
            and not args.dry_run and not args.no_upload:
        looked_up = pypirc.keyring_password(url, env.get("TWINE_USERNAME", "") or user
                                            or credentials.TOKEN_USER, env)
        if looked_up:
            tokens = credentials.cli_sources(env, user, password, section.where if section else "",
                                             looked_up)
    config = Config(
        index=make_index(url, index_url),
        packages_dir=resolve_dir(cwd, args.packages_dir, "`--packages-dir`", "`--packages-dir`",
                                 "dist", False),
        project_dir=resolve_dir(cwd, args.project_dir, "`--project-dir`", "`--project-dir`", ".",
                                False),
        tokens=tokens,
        user=env.get("TWINE_USERNAME", "").strip() or user or credentials.TOKEN_USER,
        trusted_publishing=args.trusted_publishing,
        build=BuildMode.NEVER if args.skip_build else BuildMode.ALWAYS,
        verify_metadata=not args.no_verify_metadata,
        skip_existing=args.skip_existing,
        verbose=args.verbose,
        expected_version=parse_expected_version(args.tag or "", "`--tag`", "`--tag`",
                                                "leave out `--tag`"),
        dry_run=args.dry_run,
        upload=not args.no_upload,
        parallel=parse_parallel(args.parallel, "`--parallel`", "`--parallel`"),
        attestations=args.attestations,
        config_settings=parse_config_settings(args.config_setting, "`--config-setting`",
                                              "`--config-setting`"),
        build_timeout=parse_build_timeout(args.build_timeout, "`--build-timeout`",
                                          "`--build-timeout`"),
    )
    context = Context(wording=CLI, env=env, workspace=cwd,
                      in_github_actions=env.get("GITHUB_ACTIONS") == "true",
                      notices=(*_unused_repository(args, env), *(section.notices() if section else ())))
    return config, context


def main(argv: Sequence[str] | None = None, prog: str = "pypi-publish",
         env: Mapping[str, str] | None = None, out: TextIO | None = None,
         cwd: Path | None = None) -> int:
    """Run the command; `env`, `out` and `cwd` default to the process's own."""
    env = dict(os.environ) if env is None else dict(env)
    # In a terminal, the log goes through the live progress display (progress.py); `out` given: never.
    console = Console.from_env(env, out=out or progress.terminal_out(env, sys.stdout, sys.stderr))
    for name in ("TWINE_PASSWORD", "PYPI_API_TOKEN"):
        console.add_secret(env.get(name, "").strip())
    try:
        config, context = read_args(sys.argv[1:] if argv is None else argv, env, prog, cwd)
    except ConfigError as error:
        from .pipeline import report_config_error

        return report_config_error(error, console)
    # The pipeline (and the build, check and network stacks) load only once the input is good.
    from .pipeline import execute

    return execute(config, context, console)


if __name__ == "__main__":
    sys.exit(main())
