"""The environment a build runs in: the run's own, less every variable that holds or names a secret.

A build backend runs the project's code (setup.py, build scripts, plugins); it needs compiler
flags, proxies, `PIP_*` and its own `SETUPTOOLS_SCM_*`, and has no business with any credential.
A variable goes when its value holds a secret the run knows (whatever its name: workflows put
tokens in `env:` under any name), when it is an action input (`INPUT_*`, or the input's bare name,
which runners built on act's code also export), or when its name says it is a credential.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Collection, Mapping
from dataclasses import dataclass

# Names that say "credential", matched case-insensitively.
SECRET_NAME_PATTERNS = ("*TOKEN*", "*PASSWORD*", "*SECRET*", "*_KEY", "*CREDENTIAL*")
# Shorter secrets are matched only as a variable's whole value: as a substring they would take
# out unrelated variables (a four-letter password is inside many a PATH).
MIN_SUBSTRING_SECRET = 8
# Not a secret, but read by every Python the build starts (the installer's included): a
# workflow's `PYTHONPATH=.` would put the project's own modules before the standard library.
# `build` blanks it for the backend hooks; removing it keeps it from the installer as well.
IMPORT_PATH_VARIABLES = frozenset({"PYTHONPATH"})


@dataclass(frozen=True)
class BuildEnvironment:
    """The variables the build gets, and the names of those it does not (never their values)."""

    variables: dict[str, str]
    removed: tuple[str, ...]


def _names_secret(name: str) -> bool:
    upper = name.upper()
    return any(fnmatch.fnmatchcase(upper, pattern) for pattern in SECRET_NAME_PATTERNS)


def _holds_secret(value: str, secrets: Collection[str]) -> bool:
    return any(value == s or (len(s) >= MIN_SUBSTRING_SECRET and s in value) for s in secrets if s)


def _input_name_forms(input_names: Collection[str]) -> frozenset[str]:
    """`repository-url` as a runner may export it: as is, with underscores, in any case."""
    forms = set()
    for name in input_names:
        forms.add(name.upper())
        forms.add(name.upper().replace("-", "_"))
    return frozenset(forms)


def _removal_reason(name: str, value: str, secrets: Collection[str], inputs: frozenset[str]) -> bool:
    upper = name.upper()
    return (upper.startswith("INPUT_") or upper in inputs or _names_secret(name)
            or _holds_secret(value, secrets) or upper in IMPORT_PATH_VARIABLES)


def build_environment(
    environ: Mapping[str, str], *, secrets: Collection[str], input_names: Collection[str] = ()
) -> BuildEnvironment:
    """The variables of `environ` a build may see."""
    inputs = _input_name_forms(input_names)
    kept: dict[str, str] = {}
    removed: list[str] = []
    for name, value in environ.items():
        if _removal_reason(name, value, secrets, inputs):
            removed.append(name)
        else:
            kept[name] = value
    return BuildEnvironment(kept, tuple(sorted(removed)))
