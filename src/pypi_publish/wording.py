"""The words of each front door: how a message names a setting, a secret or a retry (action or CLI)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Door = Literal["action", "cli"]

# setting -> (as the action's user writes it, as the command's user types it)
_SETTINGS: dict[str, tuple[str, str]] = {
    "repository-url": ("`repository-url`", "`--repository-url`"),
    "repository": ("`repository`", "`--repository`"),
    "index-url": ("`index-url`", "`--index-url`"),
    "packages-dir": ("`packages-dir`", "`--packages-dir`"),
    "project-dir": ("`project-dir`", "`--project-dir`"),
    "build: false": ("`build: false`", "`--skip-build`"),
    "build: true": ("`build: true`", "no `--skip-build`"),
    "skip-existing: true": ("`skip-existing: true`", "`--skip-existing`"),
    "expected-version": ("`expected-version`", "`--tag`"),
    "expected-version: false": ("`expected-version: false`", "no `--tag`"),
    "verify-metadata: false": ("`verify-metadata: false`", "`--no-verify-metadata`"),
    "build-timeout": ("`build-timeout`", "`--build-timeout`"),
    "config-settings": ("`config-settings`", "`--config-setting`"),
    "attestations: false": ("`attestations: false`", "`--no-attestations`"),
    "parallel": ("`parallel`", "`--parallel`"),
    "user": ("`user`", "`TWINE_USERNAME`"),
    "password": ("`password`", "`TWINE_PASSWORD`"),
    "trusted-publishing: never": ("an API token", "`--trusted-publishing never`"),
}


@dataclass(frozen=True)
class Wording:
    """Phrases that differ between the action's log and the command's terminal."""

    door: Door

    @property
    def is_action(self) -> bool:
        return self.door == "action"

    def setting(self, name: str) -> str:
        """A setting as its user writes it: `skip-existing: true` or `--skip-existing`."""
        action, cli = _SETTINGS[name]
        return action if self.is_action else cli

    @property
    def rerun(self) -> str:
        return "re-run the job" if self.is_action else "run the command again"

    @property
    def here(self) -> str:
        return "the runner" if self.is_action else "this machine"

    @property
    def pass_token(self) -> str:
        """How to hand this door an API token instead, as the rest of a sentence."""
        if self.is_action:
            return "set `password` or the `PYPI_API_TOKEN` environment variable"
        return "set `TWINE_PASSWORD` or `PYPI_API_TOKEN` (or the password in `~/.pypirc`)"

    @property
    def token_setting(self) -> str:
        """Where a user of this door puts an API token."""
        if self.is_action:
            return ("the `PYPI_API_TOKEN` secret, passed as `password: ${{ secrets.PYPI_API_TOKEN }}` "
                    "(or in `env:`)")
        return "`TWINE_PASSWORD` (or `PYPI_API_TOKEN`, or the password in `~/.pypirc`)"


ACTION = Wording("action")
CLI = Wording("cli")
