"""Which CI identity vouches for this run (GitHub, GitLab, Google Cloud, Buildkite, CircleCI); its tokens.

The detection rules are those of the `id` package (`id/_internal/oidc/ambient.py`), which PyPI's
own tooling uses; the tokens are fetched here rather than through `id` because its detectors read
`os.environ` only, wait a fixed 30 s per request without proxies or the run's CA bundle, and run
`buildkite-agent` / `circleci` with no time limit. Here every request goes through the run's
session and retry policy, and every child process is bounded.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import TrustedPublishingError

if TYPE_CHECKING:  # the network stack loads only when a token is fetched
    import requests

    from .http import Transient, Unreachable
    from .retry import RetryPolicy

# `id`'s rule for GitLab: `<AUDIENCE>_ID_TOKEN`, the audience upper-cased, other characters `_`.
_ENV_NAME = re.compile(r"[^A-Z0-9_]|^[^A-Z_]")
_GCP_PRODUCT_FILE = Path("/sys/class/dmi/id/product_name")
_GCP_IDENTITY_URL = ("http://metadata/computeMetadata/v1/instance/service-accounts/default/"
                     "identity")
TOOL_TIMEOUT = 60.0


@dataclass(frozen=True)
class IdentityProvider:
    """Where ID tokens come from: GitHub Actions' token service, or another CI's ambient identity."""

    name: str  # "GitHub", "GitLab", …: as in "this job's GitHub ID token"
    # One request for a fresh ID token for an audience, through the run's session and policy;
    # raises TrustedPublishingError when no retry can help.
    fetch: Callable[[str, requests.Session, RetryPolicy], str | Transient | Unreachable]
    # A fresh token per exchange attempt (GitHub's are single-use at the index); False for
    # providers that hand out one token per job (GitLab's `id_tokens:` variable).
    renewable: bool = True


@dataclass(frozen=True)
class Detection:
    provider: IdentityProvider | None
    looked_for: tuple[str, ...]  # the providers checked, in order, for a "none found" message


def gitlab_variable(audience: str) -> str:
    return _ENV_NAME.sub("_", audience.upper()) + "_ID_TOKEN"


def github_provider(env: Mapping[str, str]) -> IdentityProvider:
    def fetch(audience: str, session: requests.Session, policy: RetryPolicy) -> str | Transient | Unreachable:
        from . import github_token

        return github_token.request_id_token(audience, env, session, policy)

    return IdentityProvider("GitHub", fetch)


def _gitlab(env: Mapping[str, str]) -> IdentityProvider:
    def fetch(audience: str, session: requests.Session, policy: RetryPolicy) -> str:
        variable = gitlab_variable(audience)
        token = env.get(variable, "").strip()
        if not token:
            raise TrustedPublishingError(
                f"This is a GitLab CI/CD job, but `{variable}` is not set: GitLab hands a job an ID "
                "token only when the job asks for one with that name and the index's audience "
                f"(`{audience}`).",
                f"Add to the publishing job in `.gitlab-ci.yml`:\n  id_tokens:\n    {variable}:\n"
                f"      aud: {audience}",
            )
        return token

    # GitLab hands a job one token per name: a retry must reuse it.
    return IdentityProvider("GitLab", fetch, renewable=False)


def _gcp(env: Mapping[str, str]) -> IdentityProvider:
    def fetch(audience: str, session: requests.Session, policy: RetryPolicy) -> str | Transient | Unreachable:
        import requests

        from .http import send

        sent = send(lambda: session.get(_GCP_IDENTITY_URL, params={"audience": audience, "format": "full"},
                                        headers={"Metadata-Flavor": "Google"}, timeout=policy.timeout))
        if not isinstance(sent, requests.Response):
            return sent
        with sent:
            if sent.status_code != 200:
                raise TrustedPublishingError(
                    f"Google Cloud's metadata server refused an ID token (HTTP {sent.status_code}).",
                    "Give the job's service account the right to mint identity tokens, or use an API "
                    "token.",
                )
            return sent.text.strip()

    return IdentityProvider("Google Cloud", fetch)


def _tool(name: str, command: list[str], env: Mapping[str, str]) -> IdentityProvider:
    def fetch(audience: str, session: requests.Session, policy: RetryPolicy) -> str:
        argv = [a.replace("{audience}", audience) for a in command]
        if shutil.which(argv[0]) is None:
            raise TrustedPublishingError(
                f"This is a {name} job, but `{argv[0]}` is not on PATH, so no ID token can be had.",
                f"Run the publish step where `{argv[0]}` is installed, or use an API token.",
            )
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=TOOL_TIMEOUT,
                                  stdin=subprocess.DEVNULL, env=dict(env), check=False)
        except subprocess.TimeoutExpired:
            raise TrustedPublishingError(
                f"`{argv[0]}` gave no ID token within {TOOL_TIMEOUT:.0f} s.",
                "Re-run the job; if it persists, use an API token.",
            ) from None
        if done.returncode != 0:
            raise TrustedPublishingError(
                f"`{argv[0]}` could not make an ID token (exit {done.returncode}): "
                f"{(done.stderr or done.stdout).strip()[:300]}",
                f"Check the job's OIDC settings in {name}, or use an API token.",
            )
        return done.stdout.strip()

    return IdentityProvider(name, fetch)


def _on_gcp() -> bool:
    try:
        return _GCP_PRODUCT_FILE.read_text(encoding="utf-8").strip() in ("Google", "Google Compute Engine")
    except OSError:
        return False


def detect(env: Mapping[str, str], github_only: bool = False) -> Detection:
    """The first identity this environment offers, in `id`'s order; GitHub only for the action."""
    if env.get("GITHUB_ACTIONS") == "true":
        # Inside GitHub Actions the job is the identity, with or without `id-token: write`:
        # a missing permission is reported when the token is asked for.
        return Detection(github_provider(env), ("GitHub Actions",))
    if github_only:
        return Detection(None, ("GitHub Actions",))
    looked = ("GitHub Actions", "Google Cloud", "Buildkite", "GitLab CI/CD", "CircleCI")
    if _on_gcp():
        return Detection(_gcp(env), looked[:2])
    if env.get("BUILDKITE"):
        return Detection(_tool("Buildkite", ["buildkite-agent", "oidc", "request-token", "--audience",
                                             "{audience}"], env), looked[:3])
    if env.get("GITLAB_CI"):
        return Detection(_gitlab(env), looked[:4])
    if env.get("CIRCLECI"):
        claims = json.dumps({"aud": "{audience}"})
        return Detection(_tool("CircleCI", ["circleci", "run", "oidc", "get", "--claims", claims,
                                            "--root-issuer"], env), looked)
    return Detection(None, looked)
