"""Where an API token may come from, per front door, in the order auth tries them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

TOKEN_USER = "__token__"  # noqa: S105 - a name, not a secret


@dataclass(frozen=True)
class TokenSource:
    """One place a token may come from. `secret` is empty when the place is set but empty."""

    name: str  # as its user knows it: input `password`, `TWINE_PASSWORD`, `~/.pypirc` [internal]
    user: str
    secret: str = field(repr=False)
    # Where the user name came from, for messages (`user` input, `TWINE_USERNAME`, the default).
    user_name: str = "the default user name"

    @property
    def set_but_empty(self) -> bool:
        return not self.secret


def action_sources(password: str, user: str, env: Mapping[str, str]) -> tuple[TokenSource, ...]:
    """The action: the `password` input, then `PYPI_API_TOKEN` in the step's environment."""
    user = user.strip() or TOKEN_USER
    user_name = "input `user`"
    sources = []
    if password.strip():
        sources.append(TokenSource("input `password`", user, password.strip(), user_name))
    if "PYPI_API_TOKEN" in env:
        sources.append(TokenSource("`PYPI_API_TOKEN`", user, env["PYPI_API_TOKEN"].strip(), user_name))
    return tuple(sources)


def cli_sources(env: Mapping[str, str], pypirc_user: str, pypirc_password: str, pypirc_name: str,
                keyring_password: str = "") -> tuple[TokenSource, ...]:
    """The command, as twine orders them: `TWINE_*`, then `PYPI_API_TOKEN`, then `.pypirc`, then keyring.

    `pypirc_name` names the `.pypirc` section the values came from (empty: no section used).
    """
    twine_user = env.get("TWINE_USERNAME", "").strip()
    user = twine_user or pypirc_user.strip() or TOKEN_USER
    user_name = ("`TWINE_USERNAME`" if twine_user
                 else f"`username` in {pypirc_name}" if pypirc_user.strip() else "the default user name")
    sources = []
    for variable in ("TWINE_PASSWORD", "PYPI_API_TOKEN"):
        if variable in env:
            sources.append(TokenSource(f"`{variable}`", user, env[variable].strip(), user_name))
    if pypirc_password.strip():
        sources.append(TokenSource(f"`password` in {pypirc_name}", user, pypirc_password.strip(),
                                   user_name))
    if keyring_password:
        sources.append(TokenSource("the system keyring", user, keyring_password, user_name))
    return tuple(sources)
