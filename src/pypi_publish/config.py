"""Action inputs, CLI arguments and environment -> one frozen Config; every input error names its input."""

from __future__ import annotations

import argparse
import ipaddress
import re
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from urllib.parse import urlsplit

from packaging.version import InvalidVersion, Version

from .errors import ConfigError

PYPI_UPLOAD_URL = "https://upload.pypi.org/legacy/"
TESTPYPI_UPLOAD_URL = "https://test.pypi.org/legacy/"
REPOSITORIES = {"pypi": PYPI_UPLOAD_URL, "testpypi": TESTPYPI_UPLOAD_URL}
DEFAULT_PARALLEL = 6
MAX_PARALLEL = 16
TRUE_WORDS = ("true", "True", "TRUE")
FALSE_WORDS = ("false", "False", "FALSE")


class BuildMode(Enum):
    AUTO = "auto"
    ALWAYS = "true"
    NEVER = "false"


@dataclass(frozen=True)
class ExpectedVersion:
    """The version every file must carry, and where that requirement came from (for messages)."""

    version: Version
    source: str


@dataclass(frozen=True)
class Config:
    workspace: Path
    packages_dir: Path
    project_dir: Path
    repository_url: str
    user: str
    # The token as given (input, TWINE_PASSWORD or PYPI_API_TOKEN); empty means Trusted Publishing.
    password: str = field(repr=False)
    password_source: str
    build: BuildMode = BuildMode.AUTO
    verify_metadata: bool = True
    skip_existing: bool = False
    verbose: bool = False
    print_hash: bool = True
    expected_version: ExpectedVersion | None = None
    dry_run: bool = False
    upload: bool = True
    parallel: int = DEFAULT_PARALLEL
    # True when paths must stay inside the workspace (the action; not the local command).
    confine_paths: bool = False
    run_attempt: int = 1
    # Credential variables that were set but empty: usually a secret that is not defined.
    empty_token_sources: tuple[str, ...] = ()
    in_github_actions: bool = False
    # Notes for the log that config found but that are not errors (e.g. a tag with no version).
    notices: tuple[str, ...] = ()

    @property
    def index_name(self) -> str:
        return index_display_name(self.repository_url)


def index_display_name(url: str) -> str:
    for name, known in REPOSITORIES.items():
        if url.rstrip("/") == known.rstrip("/"):
            return {"pypi": "PyPI", "testpypi": "TestPyPI"}[name]
    return urlsplit(url).netloc or url


# -- single values -----------------------------------------------------------


def parse_bool(name: str, raw: str, default: bool) -> bool:
    value = raw.strip()
    if value == "":
        return default
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise ConfigError(
        f"Input `{name}` is {value!r}, which is not a boolean.",
        f"Set `{name}` to `true` or `false`.",
    )


def parse_build_mode(raw: str) -> BuildMode:
    value = raw.strip().lower() or "auto"
    for mode in BuildMode:
        if mode.value == value:
            return mode
    raise ConfigError(
        f"Input `build` is {raw.strip()!r}, which is not a build mode.",
        "Set `build` to `auto` (build when `packages-dir` has no distributions), `true` or `false`.",
    )


def parse_parallel(name: str, raw: str) -> int:
    value = raw.strip()
    if value == "":
        return DEFAULT_PARALLEL
    if not re.fullmatch(r"[0-9]{1,3}", value) or not 1 <= int(value) <= MAX_PARALLEL:
        raise ConfigError(
            f"Input `{name}` is {value!r}, which is not a number of uploads at once.",
            f"Set `{name}` to a whole number from 1 to {MAX_PARALLEL}.",
        )
    return int(value)


_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?")


def _valid_host(host: str) -> bool:
    if _HOST.fullmatch(host):
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_loopback(host: str) -> bool:
    # Only names that cannot leave the machine: `*.localhost` may be resolved through DNS.
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_repository_url(repository: str, repository_url: str, url_name: str) -> str:
    """The upload URL from the `repository` shorthand and/or an explicit URL."""
    shorthand = repository.strip().lower()
    url = repository_url.strip()
    if shorthand:
        if shorthand not in REPOSITORIES:
            raise ConfigError(
                f"Input `repository` is {repository.strip()!r}, which is not a known index.",
                "Set `repository` to `pypi` or `testpypi`, or leave it empty and set "
                f"`{url_name}` to your index's upload URL.",
            )
        if url and url.rstrip("/") not in (PYPI_UPLOAD_URL.rstrip("/"),
                                           REPOSITORIES[shorthand].rstrip("/")):
            raise ConfigError(
                f"Both `repository` ({shorthand}) and `{url_name}` ({url}) name an index.",
                f"Keep one of them: `repository` for PyPI or TestPyPI, `{url_name}` for any other.",
            )
        return REPOSITORIES[shorthand]
    return check_repository_url(url or PYPI_UPLOAD_URL, url_name)


def check_repository_url(url: str, name: str) -> str:
    if any(ch.isspace() for ch in url) or any(ord(ch) < 32 for ch in url):
        raise ConfigError(
            f"Input `{name}` contains whitespace or control characters.",
            f"Set `{name}` to a plain URL such as {PYPI_UPLOAD_URL}.",
        )
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        netloc = "["  # an unbalanced bracket: reported as a malformed IPv6 host below
    if netloc.startswith("[") and not re.fullmatch(r"\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?", netloc):
        raise ConfigError(
            f"Input `{name}` has a malformed IPv6 host: only `:port` may follow the `]`.",
            f"Set `{name}` to the index's upload URL, such as {PYPI_UPLOAD_URL}.",
        )
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 -- raises ValueError on a bad port
    except ValueError:
        raise ConfigError(
            f"Input `{name}` is not a valid URL.",
            f"Set `{name}` to the index's upload URL, such as {PYPI_UPLOAD_URL}.",
        ) from None
    if parts.scheme in ("http", "https") and host and not _valid_host(host):
        raise ConfigError(
            f"Input `{name}` has a host name with characters no host name can have.",
            f"Set `{name}` to the index's upload URL, such as {PYPI_UPLOAD_URL}.",
        )
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigError(
            f"Input `{name}` must be an http(s) URL with a host; got a "
            f"{parts.scheme or 'scheme-less'} URL.",
            f"Set `{name}` to the index's upload URL, such as {PYPI_UPLOAD_URL}.",
        )
    if parts.username is not None or parts.password is not None:
        # Never echo the URL: it holds a credential.
        raise ConfigError(
            f"Input `{name}` contains a user name or password; credentials in URLs end up in logs.",
            f"Remove them from `{name}` and pass the token as `password` (or `PYPI_API_TOKEN`).",
        )
    if parts.scheme == "http" and not _is_loopback(host):
        raise ConfigError(
            f"Input `{name}` uses plain http to {host}; the token would cross the network "
            "unencrypted.",
            f"Use an https URL for `{name}` (plain http is accepted only for loopback hosts).",
        )
    return url if url.endswith("/") else url + "/"


_TAG_PREFIX = re.compile(r"^(?:.*[/@_-])?[vV]?(?=\d)")


def version_from_tag(tag: str) -> Version | None:
    """`v1.2.3`, `1.2.3`, `release/v1.2.3`, `pkg-v1.2.3` and `pkg@1.2.3` -> Version; else None."""
    tag = tag.strip().removeprefix("refs/tags/")
    candidates = [tag, tag[1:] if tag[:1] in "vV" else tag]
    match = _TAG_PREFIX.match(tag)
    if match:
        candidates.append(tag[match.end():])
    for candidate in candidates:
        try:
            return Version(candidate)
        except InvalidVersion:
            continue
    return None


def parse_expected_version(raw: str, name: str) -> ExpectedVersion | None:
    value = raw.strip()
    if value in ("", *FALSE_WORDS):
        return None
    version = version_from_tag(value)
    if version is None:
        raise ConfigError(
            f"Input `{name}` is {value!r}, which is not a PEP 440 version.",
            f"Set `{name}` to a version such as `1.2.3` (or a tag such as `v1.2.3`), or `false` "
            "to skip the check.",
        )
    return ExpectedVersion(version, f"`{name}` ({value})")


def version_from_github_ref(env: Mapping[str, str]) -> tuple[ExpectedVersion | None, str]:
    """The pushed tag's version when the run is for a tag; the second item explains a miss."""
    ref = env.get("GITHUB_REF", "")
    if not ref.startswith("refs/tags/"):
        return None, ""
    tag = ref.removeprefix("refs/tags/")
    version = version_from_tag(tag)
    if version is None:
        return None, (
            f"The run is for tag `{tag}`, which holds no PEP 440 version, so file versions are "
            "not checked against it. Set `expected-version` to check them."
        )
    return ExpectedVersion(version, f"the tag `{tag}`"), ""


def resolve_dir(base: Path, raw: str, name: str, default: str, confine: bool) -> Path:
    value = raw.strip() or default
    if "\x00" in value:
        raise ConfigError(f"Input `{name}` contains a NUL byte.", f"Set `{name}` to a path.")
    candidate = Path(value)
    path = candidate if candidate.is_absolute() else base / candidate
    if confine:
        real_base = base.resolve()
        real = path.resolve()
        if real != real_base and real_base not in real.parents:
            why = "a symlink that leads" if path.absolute() != real and ".." not in candidate.parts \
                else "a path that leads"
            raise ConfigError(
                f"Input `{name}` ({value}) is {why} outside the workspace ({base}).",
                f"Set `{name}` to a directory inside the workspace, relative to it, such as "
                f"`{default}`.",
            )
        return real
    return path.resolve()


def parse_run_attempt(env: Mapping[str, str]) -> int:
    raw = env.get("GITHUB_RUN_ATTEMPT", "1").strip()
    return int(raw) if re.fullmatch(r"[0-9]{1,6}", raw) and int(raw) > 0 else 1


def environment_token(env: Mapping[str, str]) -> str:
    return env.get("PYPI_API_TOKEN", "")


def workspace_from_env(env: Mapping[str, str]) -> Path:
    raw = env.get("GITHUB_WORKSPACE", "").strip()
    workspace = Path(raw) if raw else Path.cwd()
    if not workspace.is_dir():
        raise ConfigError(
            f"The workspace `{workspace}` does not exist or is not a directory.",
            "Run the action after `actions/checkout` (or `actions/download-artifact`), so the "
            "runner mounts a workspace at `/github/workspace`.",
        )
    return workspace


# -- the action ----------------------------------------------------------------

ACTION_INPUTS = (
    "user", "password", "repository-url", "packages-dir", "verify-metadata", "skip-existing",
    "verbose", "print-hash", "repository", "build", "project-dir", "expected-version",
    "dry-run", "parallel",
)


def action_input(env: Mapping[str, str], name: str) -> str:
    """An input as the runner passes it: `INPUT_<NAME>`, hyphens kept; the underscore spelling too."""
    key = "INPUT_" + name.upper()
    if key in env:
        return env[key]
    return env.get(key.replace("-", "_"), "")


def config_from_action_env(env: Mapping[str, str]) -> Config:
    def get(name: str) -> str:
        return action_input(env, name)

    workspace = workspace_from_env(env)
    notices: list[str] = []
    expected_raw = get("expected-version")
    if expected_raw.strip():
        expected = parse_expected_version(expected_raw, "expected-version")
    else:
        expected, note = version_from_github_ref(env)
        if note:
            notices.append(note)
    password = get("password")
    empty: list[str] = []
    if password:
        source = "input `password`"
    else:
        password = environment_token(env)
        source = "`PYPI_API_TOKEN`" if password else ""
        if "PYPI_API_TOKEN" in env and not password:
            empty.append("PYPI_API_TOKEN")
    return Config(
        workspace=workspace,
        packages_dir=resolve_dir(workspace, get("packages-dir"), "packages-dir", "dist", True),
        project_dir=resolve_dir(workspace, get("project-dir"), "project-dir", ".", True),
        repository_url=resolve_repository_url(get("repository"), get("repository-url"),
                                               "repository-url"),
        user=get("user").strip() or "__token__",
        password=password.strip(),
        password_source=source,
        build=parse_build_mode(get("build")),
        verify_metadata=parse_bool("verify-metadata", get("verify-metadata"), True),
        skip_existing=parse_bool("skip-existing", get("skip-existing"), False),
        verbose=parse_bool("verbose", get("verbose"), False),
        print_hash=parse_bool("print-hash", get("print-hash"), True),
        expected_version=expected,
        dry_run=parse_bool("dry-run", get("dry-run"), False),
        parallel=parse_parallel("parallel", get("parallel")),
        confine_paths=True,
        run_attempt=parse_run_attempt(env),
        empty_token_sources=tuple(empty),
        in_github_actions=env.get("GITHUB_ACTIONS") == "true",
        notices=tuple(notices),
    )


# -- the local command -----------------------------------------------------------

CLI_DESCRIPTION = """\
Build, check and upload a Python project's sdist and wheel to PyPI, TestPyPI or any index.

Credentials come from TWINE_USERNAME / TWINE_PASSWORD, else PYPI_API_TOKEN (user __token__),
else Trusted Publishing when run inside GitHub Actions with `id-token: write`."""

CLI_EPILOG = """\
exit status: 0 published (or checked), 1 publish failed, 2 bad usage or input.

examples:
  pypi-publish --dry-run                      build and check; show what would be uploaded
  pypi-publish --repository testpypi --tag v1.2.3
  pypi-publish --skip-build --packages-dir dist --skip-existing
  pypi-publish --repository-url https://pypi.example.org/legacy/ --skip-build"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> typing.NoReturn:
        raise ConfigError(f"Bad arguments: {message}.", f"Run `{self.prog} --help` for the usage.")


def build_parser(prog: str = "pypi-publish") -> argparse.ArgumentParser:
    parser = _Parser(
        prog=prog, description=CLI_DESCRIPTION, epilog=CLI_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--dry-run", action="store_true",
        help="build if needed and check, then print what would be uploaded where; contacts no index")
    add("--no-upload", action="store_true", help="build and check only; contact no index")
    add("--skip-build", action="store_true",
        help="do not build; publish the distributions already in --packages-dir")
    add("--repository", choices=sorted(REPOSITORIES), metavar="{pypi,testpypi}",
        help="publish to PyPI or TestPyPI (default: pypi)")
    add("--repository-url", metavar="URL",
        help="upload URL of any other index (legacy upload API), e.g. https://pypi.example.org/legacy/")
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
        help=f"files uploaded at once after the first (1-{MAX_PARALLEL}, default {DEFAULT_PARALLEL})")
    add("--verbose", action="store_true", help="more detail in the log")
    return parser


def config_from_args(argv: Sequence[str], env: Mapping[str, str],
                     prog: str = "pypi-publish") -> Config:
    args = build_parser(prog).parse_args(list(argv))
    cwd = Path.cwd()
    password = env.get("TWINE_PASSWORD", "")
    source = "`TWINE_PASSWORD`" if password else ""
    empty = [name for name in ("TWINE_PASSWORD", "PYPI_API_TOKEN")
             if name in env and not env[name].strip()]
    if not password:
        password = environment_token(env)
        source = "`PYPI_API_TOKEN`" if password else ""
    return Config(
        workspace=cwd,
        packages_dir=resolve_dir(cwd, args.packages_dir, "--packages-dir", "dist", False),
        project_dir=resolve_dir(cwd, args.project_dir, "--project-dir", ".", False),
        repository_url=resolve_repository_url(args.repository or "", args.repository_url or "",
                                               "--repository-url"),
        user=env.get("TWINE_USERNAME", "").strip() or "__token__",
        password=password.strip(),
        password_source=source,
        build=BuildMode.NEVER if args.skip_build else BuildMode.ALWAYS,
        verify_metadata=not args.no_verify_metadata,
        skip_existing=args.skip_existing,
        verbose=args.verbose,
        expected_version=parse_expected_version(args.tag or "", "--tag"),
        dry_run=args.dry_run,
        upload=not args.no_upload,
        parallel=parse_parallel("--parallel", args.parallel),
        run_attempt=parse_run_attempt(env),
        empty_token_sources=tuple(empty),
        in_github_actions=env.get("GITHUB_ACTIONS") == "true",
    )
