"""The frozen Config of the user's choices, and the checks of single values both front doors share."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Literal

from packaging.version import InvalidVersion, Version

from .credentials import TokenSource
from .errors import ConfigError
from .index import Index

DEFAULT_PARALLEL = 6
MAX_PARALLEL = 16
DEFAULT_BUILD_TIMEOUT_MINUTES = 30
MAX_BUILD_TIMEOUT_MINUTES = 6 * 60  # GitHub's own limit for a job
TRUE_WORDS = ("true", "True", "TRUE")
FALSE_WORDS = ("false", "False", "FALSE")

TrustedPublishing = Literal["auto", "always", "never"]


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
    """What the user asked for, checked; nothing read from the environment but their choices."""

    index: Index
    packages_dir: Path
    project_dir: Path
    # Token sources in the order auth tries them (see `credentials.py`); empty: Trusted Publishing.
    tokens: tuple[TokenSource, ...] = ()
    user: str = "__token__"  # the `user` input / TWINE_USERNAME, for the Trusted Publishing warning
    trusted_publishing: TrustedPublishing = "auto"
    build: BuildMode = BuildMode.AUTO
    verify_metadata: bool = True
    skip_existing: bool = False
    verbose: bool = False
    print_hash: bool = True
    expected_version: ExpectedVersion | None = None
    dry_run: bool = False
    upload: bool = True
    parallel: int = DEFAULT_PARALLEL
    attestations: bool = True
    # PEP 517 config settings for both builds, in the order given (a key may repeat, as with -C).
    config_settings: tuple[tuple[str, str], ...] = ()
    build_timeout: float = DEFAULT_BUILD_TIMEOUT_MINUTES * 60.0
    # The directory paths must stay inside (the action's workspace); None: anywhere (the CLI).
    confined_to: Path | None = None


# -- single values ---------------------------------------------------------------------------------
# `name` is the setting as its user writes it, `subject` the same as a sentence's subject.


def parse_bool(raw: str, name: str, subject: str, default: bool) -> bool:
    value = raw.strip()
    if value == "":
        return default
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise ConfigError(f"{subject} is {value!r}, which is not a boolean.",
                      f"Set {name} to `true` or `false`.")


def parse_build_mode(raw: str) -> BuildMode:
    value = raw.strip().lower() or "auto"
    for mode in BuildMode:
        if mode.value == value:
            return mode
    raise ConfigError(
        f"Input `build` is {raw.strip()!r}, which is not a build mode.",
        "Set `build` to `auto` (build when `packages-dir` has no distributions), `true` or `false`.",
    )


def parse_parallel(raw: str, name: str, subject: str) -> int:
    value = raw.strip()
    if value == "":
        return DEFAULT_PARALLEL
    if not re.fullmatch(r"[0-9]{1,3}", value) or not 1 <= int(value) <= MAX_PARALLEL:
        raise ConfigError(f"{subject} is {value!r}, which is not a number of uploads at once.",
                          f"Set {name} to a whole number from 1 to {MAX_PARALLEL}.")
    return int(value)


def parse_build_timeout(raw: str, name: str, subject: str) -> float:
    """Minutes (a whole number, or with a decimal point) -> seconds."""
    value = raw.strip()
    if value == "":
        return DEFAULT_BUILD_TIMEOUT_MINUTES * 60.0
    if re.fullmatch(r"[0-9]{1,4}(\.[0-9]{1,3})?", value) and 0 < float(value) <= MAX_BUILD_TIMEOUT_MINUTES:
        return float(value) * 60.0
    raise ConfigError(f"{subject} is {value!r}, which is not a number of minutes.",
                      f"Set {name} to the minutes a build may take, from 0.1 to "
                      f"{MAX_BUILD_TIMEOUT_MINUTES} (default {DEFAULT_BUILD_TIMEOUT_MINUTES}).")


def parse_config_settings(entries: Iterable[str], name: str,
                          subject: str) -> tuple[tuple[str, str], ...]:
    """`KEY=VALUE` entries (`KEY` alone means an empty value, as `python -m build -C KEY` does)."""
    settings = []
    for entry in entries:
        text = entry.strip()
        if not text:
            continue
        key, _, value = text.partition("=")
        if not key.strip() or "\x00" in text:
            raise ConfigError(f"{subject} has the entry {text!r}, which has no key.",
                              f"Write each setting of {name} as `KEY=VALUE`.")
        settings.append((key.strip(), value))
    return tuple(settings)


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


def parse_expected_version(raw: str, name: str, subject: str, off_hint: str) -> ExpectedVersion | None:
    value = raw.strip()
    if value in ("", *FALSE_WORDS):
        return None
    version = version_from_tag(value)
    if version is None:
        raise ConfigError(
            f"{subject} is {value!r}, which is not a PEP 440 version.",
            f"Set {name} to a version such as `1.2.3` (or a tag such as `v1.2.3`), or {off_hint} "
            "to skip the check.",
        )
    return ExpectedVersion(version, f"{name} ({value})")


def resolve_dir(base: Path, raw: str, name: str, subject: str, default: str,
                confine: bool) -> Path:
    value = raw.strip() or default
    if "\x00" in value:
        raise ConfigError(f"{subject} contains a NUL byte.", f"Set {name} to a path.")
    candidate = Path(value)
    path = candidate if candidate.is_absolute() else base / candidate
    if confine:
        real_base = base.resolve()
        real = path.resolve()
        if real != real_base and real_base not in real.parents:
            why = "a symlink that leads" if path.absolute() != real and ".." not in candidate.parts \
                else "a path that leads"
            raise ConfigError(
                f"{subject} ({value}) is {why} outside the workspace ({base}).",
                f"Set {name} to a directory inside the workspace, relative to it, such as "
                f"`{default}`.",
            )
        return real
    return path.resolve()
