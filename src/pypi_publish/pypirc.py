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


@dataclass(frozen=True)
class Section:
    """One index of `.pypirc`: where it takes uploads, and the account's user name and password."""

    name: str
    repository: str | None
    username: str | None
    password: str | None = field(default=None, repr=False)
    where: str = ""  # "`~/.pypirc` [internal]": how messages name it


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


def read_sections(config_file: str, env: Mapping[str, str]) -> dict[str, Section]:
    """Every index the file configures, with twine's defaults for `pypi` and `testpypi`."""
    path = expand(config_file, env)
    shown = f"`{config_file}`"
    try:
        parser = _parse(path)
    except FileNotFoundError:
        if config_file != DEFAULT_CONFIG_FILE:
            raise ConfigError(
                f"The configuration file {shown} does not exist.",
                f"Create it ({SPEC_URL}), or leave out `--config-file` to use `~/.pypirc`.",
            ) from None
        parser = configparser.RawConfigParser()
    except configparser.Error:
        # Never show configparser's text: it may quote a line holding a password.
        raise ConfigError(f"{shown} is not a valid `.pypirc` file.",
                          f"Fix its syntax; the format is described at {SPEC_URL}.") from None
    except OSError as error:
        raise ConfigError(f"Cannot read {shown}: {error.strerror}.",
                          "Check the file's permissions.") from None
    try:
        login_user = parser.get("server-login", "username", fallback=None)
        login_password = parser.get("server-login", "password", fallback=None)
        servers = parser.get("distutils", "index-servers", fallback="pypi testpypi").split()
        sections: dict[str, Section] = {}
        for name in dict.fromkeys(["pypi", *servers]):
            if name != "pypi" and name not in servers:
                continue
            default_url = {"pypi": PYPI_UPLOAD_URL}.get(name)
            if name == "testpypi" and "testpypi" in servers:
                default_url = TESTPYPI_UPLOAD_URL
            sections[name] = Section(
                name=name,
                repository=parser.get(name, "repository", fallback=default_url),
                username=parser.get(name, "username", fallback=login_user),
                password=parser.get(name, "password", fallback=login_password),
                where=f"{shown} [{name}]",
            )
    except configparser.Error:
        raise ConfigError(f"{shown} is not a valid `.pypirc` file.",
                          f"Fix its syntax; the format is described at {SPEC_URL}.") from None
    return sections


def section(config_file: str, name: str, env: Mapping[str, str]) -> Section:
    sections = read_sections(config_file, env)
    if name in sections:
        found = sections[name]
        if not found.repository:
            raise ConfigError(f"`{config_file}` [{name}] has no `repository` URL.",
                              f"Add `repository = <the index's upload URL>` to [{name}].")
        return found
    listed = ", ".join(f"`{s}`" for s in sections) or "none"
    raise ConfigError(
        f"`{config_file}` has no section [{name}] for `--repository {name}` (sections found: "
        f"{listed}).",
        f"Add [{name}] with a `repository` URL and list it in `[distutils] index-servers`, or use "
        f"`--repository-url` ({SPEC_URL}).",
    )


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
