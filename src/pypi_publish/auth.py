"""Credentials, in order: an explicit token, then `PYPI_API_TOKEN`, then Trusted Publishing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from .config import REPOSITORIES, Config
from .errors import AuthError
from .gha import Console

if TYPE_CHECKING:
    import requests

    from .retry import RetryPolicy

Method = Literal["token", "trusted-publishing"]


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str = field(repr=False)
    method: Method
    source: str


def is_pypi(url: str) -> bool:
    return url.rstrip("/") in {u.rstrip("/") for u in REPOSITORIES.values()}


def planned_method(config: Config) -> Method:
    return "token" if config.password else "trusted-publishing"


def warn_about_token_setup(config: Config, console: Console) -> None:
    for name in config.empty_token_sources:
        console.warning(
            f"`{name}` is set but empty, so it is ignored. The secret it comes from is probably "
            "not defined for this repository or environment (or not passed to this job).",
            title="Empty token",
        )
    if not config.password:
        return
    if is_pypi(config.repository_url):
        if not config.password.startswith("pypi-"):
            console.warning(
                f"The token from {config.password_source} does not start with `pypi-`, so it is "
                f"not a {config.index_name} API token; the upload will likely be refused. Copy the "
                "whole token, including its `pypi-` prefix.",
                title="Suspicious token",
            )
        if config.user != "__token__":
            console.warning(
                f"`user` is `{config.user}` but {config.index_name} accepts API tokens only with the "
                "user name `__token__`. Remove `user` (or set it to `__token__`).",
                title="Token user",
            )


def missing_credentials() -> AuthError:
    return AuthError(
        "No credentials: no token was given (`password` input, `TWINE_PASSWORD` or "
        "`PYPI_API_TOKEN`), and Trusted Publishing works only inside GitHub Actions.",
        "In a workflow, either grant the job `permissions: id-token: write` and register it as a "
        "Trusted Publisher on the index, or pass an API token: `env: PYPI_API_TOKEN: "
        "${{ secrets.PYPI_API_TOKEN }}`. Locally, `export PYPI_API_TOKEN=pypi-…` (a token from "
        "the index's account settings).",
    )


def obtain_credentials(
    config: Config,
    env: Mapping[str, str],
    session: requests.Session,
    policy: RetryPolicy,
    console: Console,
    project: str = "",
) -> Credentials:
    if config.password:
        console.add_secret(config.password)
        return Credentials(config.user, config.password, "token", config.password_source)
    if not config.in_github_actions:
        raise missing_credentials()
    from . import oidc

    warning = oidc.user_warning(config.user)
    if warning:
        console.warning(warning, title="Trusted Publishing user")
    token = oidc.mint_upload_token(
        config.repository_url, env=env, session=session, policy=policy, console=console,
        project=project,
    )
    return Credentials("__token__", token, "trusted-publishing", "Trusted Publishing")
