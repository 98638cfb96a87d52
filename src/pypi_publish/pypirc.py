"""`~/.pypirc` read exactly as twine reads it (`twine/utils.py` `get_config`), and twine's keyring look-up."""

from __future__ import annotations

import configparser
import importlib.util
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError
from .index import PYPI_UPLOAD_URL, TESTPYPI_UPLOAD_URL

DEFAULT_CONFIG_FILE = "~/.pypirc"
KEYRING_TIMEOUT = 15.0
SPEC_URL = "https://packaging.python.org/specifications/pypirc/"
# Keys twine reads from an index's section that this command takes from elsewhere.
UNREAD_KEYS = {
    "ca_cert": "point `REQUESTS_CA_BUNDLE` (or `SSL_CERT_FILE`) at the CA bundle instead.",
    "client_cert": "client certificates are not supported; use a token.",
}


@dataclass(frozen=True)
class Section:
    """One index of `.pypirc`: where it takes uploads, and the account's user name and password."""

    name: str
    repository: str | None
    username: str | None
    password: str | None = field(default=None, repr=False)
    where: str = ""  # "`~/.pypirc` [internal]": how messages name it
    unread: tuple[str, ...] = ()  # keys twine reads that this command does not (`ca_cert`, …)

    def notices(self) -> tuple[str, ...]:
        return tuple(f"{self.where} sets `{key}`, which pypi-publish does not read: {UNREAD_KEYS[key]}"
                     for key in self.unread)


def _parse(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    # twine: the locale's encoding first, UTF-8 if that fails.
    for encoding in (None, "utf-8"):
        try:
            with path.open(encoding=encoding) as handle:
                parser.read_file(handle)
            return parser
        except UnicodeDecodeError:
            parser = configparser.RawConfigParser()
    raise ConfigError(f"`{path}` is not readable text (neither the locale's encoding nor UTF-8).",
                      "Save the file as UTF-8.")


def expand(config_file: str, env: Mapping[str, str]) -> Path:
    """`~` as the run's `HOME` says (the environment passed in, not the process's)."""
    if config_file == "~" or config_file.startswith("~/"):
        home = env.get("HOME") or str(Path.home())
        return Path(home, config_file[2:]).resolve()
    return Path(config_file).expanduser().resolve()


def _read(config_file: str, env: Mapping[str, str]) -> configparser.RawConfigParser | None:
    """The parsed file; None when the default file does not exist (twine then uses its defaults)."""
    path = expand(config_file, env)
    shown = f"`{config_file}`"
    try:
        return _parse(path)
    except FileNotFoundError:
        if config_file != DEFAULT_CONFIG_FILE:
            raise ConfigError(
                f"The configuration file {shown} does not exist.",
                f"Create it ({SPEC_URL}), or leave out `--config-file` to use `~/.pypirc`.",
            ) from None
        return None
    except configparser.Error:
        # Never show configparser's text: it may quote a line holding a password.
        raise ConfigError(f"{shown} is not a valid `.pypirc` file.",
                          f"Fix its syntax; the format is described at {SPEC_URL}.") from None
    except OSError as error:
        raise ConfigError(f"Cannot read {shown}: {error.strerror}.",
                          "Check the file's permissions.") from None


def _sections(parser: configparser.RawConfigParser, shown: str) -> dict[str, Section]:
    """twine's `get_config`: `[server-login]` gives every index its defaults; `pypi` always
    exists; `testpypi` has its URL built in when listed; only listed sections are read."""
    servers = parser.get("distutils", "index-servers", fallback="pypi testpypi").split()
    defaults = {key: parser.get("server-login", key, fallback=None) for key in ("username", "password")}
    sections: dict[str, Section] = {}
    for name in dict.fromkeys(["pypi", *servers]):
        values: dict[str, str | None] = {**defaults, "repository": None}
        values["repository"] = {"pypi": PYPI_UPLOAD_URL, "testpypi": TESTPYPI_UPLOAD_URL}.get(name)
        if name in servers:
            for key in ("username", "repository", "password"):
                if parser.has_option(name, key):
                    values[key] = parser.get(name, key)
        unread = tuple(key for key in UNREAD_KEYS if name in servers and parser.has_option(name, key))
        sections[name] = Section(name, values["repository"], values["username"], values["password"],
                                 f"{shown} [{name}]", unread)
    return sections


def _load(config_file: str, env: Mapping[str, str]) -> tuple[configparser.RawConfigParser | None,
                                                           dict[str, Section]]:
    parser = _read(config_file, env)
    try:
        return parser, _sections(parser or configparser.RawConfigParser(), f"`{config_file}`")
    except configparser.Error:
        raise ConfigError(f"`{config_file}` is not a valid `.pypirc` file.",
                          f"Fix its syntax; the format is described at {SPEC_URL}.") from None


def read_sections(config_file: str, env: Mapping[str, str]) -> dict[str, Section]:
    """Every index the file configures, with twine's defaults for `pypi` and `testpypi`."""
    return _load(config_file, env)[1]


def section(config_file: str, name: str, env: Mapping[str, str], asked: str = "") -> Section:
    """The index `name` (from `--repository` or `TWINE_REPOSITORY`, as `asked` says)."""
    asked = asked or f"`--repository {name}`"
    parser, sections = _load(config_file, env)
    if name in sections:
        found = sections[name]
        if not found.repository:
            raise ConfigError(f"`{config_file}` [{name}] has no `repository` URL.",
                              f"Add `repository = <the index's upload URL>` to [{name}].")
        return found
    listed = ", ".join(f"`{s}`" for s in sections)
    if parser is None:
        raise ConfigError(
            f"{_cap(asked)} names an index that is not configured: `{config_file}` does not exist, "
            f"so only the built-in {listed} are known.",
            f"Create `{config_file}` with a [{name}] section ({SPEC_URL}):\n"
            f"  [distutils]\n  index-servers =\n    {name}\n\n  [{name}]\n"
            "  repository = <the index's upload URL>\n"
            "or pass the URL itself with `--repository-url`.",
        )
    if parser.has_section(name):
        raise ConfigError(
            f"`{config_file}` has a section [{name}], but it is not listed in `[distutils] "
            f"index-servers`, so it is not read (as twine does; sections found: {listed}).",
            f"Add `{name}` to `index-servers` in the [distutils] section of `{config_file}`.",
        )
    raise ConfigError(
        f"`{config_file}` has no section [{name}] for {asked} (sections found: {listed}).",
        f"Add [{name}] with a `repository` URL and list it in `[distutils] index-servers`, or use "
        f"`--repository-url` ({SPEC_URL}).",
    )


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def keyring_password(system: str, username: str, env: Mapping[str, str]) -> str:
    """The password the `keyring` package holds for (upload URL, user), as twine asks for it.

    Asked in a child process, bounded in time: a keyring backend may wait for an unlock prompt.
    Empty when keyring is not installed, has no backend, or has no such password.
    """
    if importlib.util.find_spec("keyring") is None:
        return ""
    program = ("import sys, keyring\n"
               "value = keyring.get_password(sys.argv[1], sys.argv[2])\n"
               "sys.stdout.write(value or '')\n")
    clean = {k: v for k, v in env.items() if k not in ("TWINE_PASSWORD", "PYPI_API_TOKEN")}
    try:
        done = subprocess.run([sys.executable, "-c", program, system, username],
                              capture_output=True, text=True, timeout=KEYRING_TIMEOUT,
                              stdin=subprocess.DEVNULL, env=clean, check=False)
    except (subprocess.TimeoutExpired, OSError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""
