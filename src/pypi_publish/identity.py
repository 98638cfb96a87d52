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
_GCP_METADATA = "http://metadata/computeMetadata/v1/instance/service-accounts/default/"
_GCP_IMPERSONATE_URL = ("https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/"
                        "{}:generateIdToken")
# The metadata server answers on the VM itself: never through the run's HTTP proxy
# (requests skips the environment's proxies for a host in the request's `no_proxy`).
_NO_PROXY = {"no_proxy": "metadata"}
TOOL_TIMEOUT = 60.0
# Never handed to a CI tool that mints ID tokens: it needs none of them.
_TOKEN_VARIABLES = ("TWINE_PASSWORD", "PYPI_API_TOKEN")


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
    # What was detected, for diagnostics: "a GitLab CI/CD job (`GITLAB_CI` is set)".
    detected: str = ""


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


def _id_tokens_yaml(variable: str, audience: str) -> str:
    return f"  id_tokens:\n    {variable}:\n      aud: {audience}"


def _gitlab(env: Mapping[str, str]) -> IdentityProvider:
    def fetch(audience: str, session: requests.Session, policy: RetryPolicy) -> str:
        from .wire import jwt_claims, text

        variable = gitlab_variable(audience)
        token = env.get(variable, "").strip()
        if not token:
            raise TrustedPublishingError(
                f"This is a GitLab CI/CD job, but `{variable}` is not set: GitLab hands a job an ID "
                "token only when the job asks for one with that name and the index's audience "
                f"(`{audience}`).",
                f"Add to the publishing job in `.gitlab-ci.yml`:\n{_id_tokens_yaml(variable, audience)}",
            )
        claims = jwt_claims(token)
        if not claims:
            raise TrustedPublishingError(
                f"`{variable}` does not hold a JWT, so it is not an ID token from GitLab.",
                f"Let GitLab set it: do not define `{variable}` as a CI/CD variable; declare it "
                f"under `id_tokens:` instead:\n{_id_tokens_yaml(variable, audience)}",
            )
        issued_for = claims.get("aud")
        if issued_for != audience and not (isinstance(issued_for, list) and audience in issued_for):
            raise TrustedPublishingError(
                f"`{variable}` holds an ID token for audience `{text(issued_for)}`, but the index "
                f"accepts only tokens for `{audience}`.",
                f"Set its `aud` in `.gitlab-ci.yml`:\n{_id_tokens_yaml(variable, audience)}",
            )
        return token

    # GitLab hands a job one token per name: a retry must reuse it.
    return IdentityProvider("GitLab", fetch, renewable=False,
                            detected="a GitLab CI/CD job (`GITLAB_CI` is set)")


def _gcp_answer(sent: requests.Response, what: str) -> requests.Response:
    if sent.status_code != 200:
        sent.close()
        raise TrustedPublishingError(
            f"Google Cloud refused {what} (HTTP {sent.status_code}).",
            "Give the job's service account the right to mint identity tokens (for impersonation: "
            "`roles/iam.serviceAccountTokenCreator` on `GOOGLE_SERVICE_ACCOUNT_NAME`), or use an API "
            "token.",
        )
    return sent


def _gcp(env: Mapping[str, str]) -> IdentityProvider:
    """`id`'s two ways: impersonate `GOOGLE_SERVICE_ACCOUNT_NAME`, else the VM's own account."""
    account = env.get("GOOGLE_SERVICE_ACCOUNT_NAME", "").strip()

    def fetch(audience: str, session: requests.Session, policy: RetryPolicy) -> str | Transient | Unreachable:
        import requests

        from .http import send

        metadata = {"Metadata-Flavor": "Google"}
        if not account:
            sent = send(lambda: session.get(_GCP_METADATA + "identity", headers=metadata,
                                            params={"audience": audience, "format": "full"},
                                            timeout=policy.timeout, proxies=_NO_PROXY))
            if not isinstance(sent, requests.Response):
                return sent
            with _gcp_answer(sent, "an ID token from the metadata server") as answer:
                return answer.text.strip()
        sent = send(lambda: session.get(_GCP_METADATA + "token", headers=metadata, timeout=policy.timeout,
                                        params={"scopes": "https://www.googleapis.com/auth/cloud-platform"},
                                        proxies=_NO_PROXY))
        if not isinstance(sent, requests.Response):
            return sent
        with _gcp_answer(sent, "an access token from the metadata server") as answer:
            access = _json_field(answer, "access_token")
        sent = send(lambda: session.post(_GCP_IMPERSONATE_URL.format(account), timeout=policy.timeout,
                                         json={"audience": audience, "includeEmail": True},
                                         headers={"Authorization": f"Bearer {access}"}))
        if not isinstance(sent, requests.Response):
            return sent
        with _gcp_answer(sent, f"an ID token for `{account}`") as answer:
            return _json_field(answer, "token")

    how = (f"impersonating `{account}` (`GOOGLE_SERVICE_ACCOUNT_NAME`)" if account
           else f"the VM's service account (`{_GCP_PRODUCT_FILE}` names Google)")
    return IdentityProvider("Google Cloud", fetch, detected=f"Google Cloud, {how}")


def _json_field(response: requests.Response, name: str) -> str:
    try:
        value = response.json().get(name)
    except (ValueError, AttributeError):
        value = None
    if not isinstance(value, str) or not value:
        raise TrustedPublishingError(f"Google Cloud answered without `{name}`.",
                                     "Re-run the job; if it persists, use an API token.")
    return value


def _tool(name: str, variable: str, command: list[str], env: Mapping[str, str]) -> IdentityProvider:
    def fetch(audience: str, session: requests.Session, policy: RetryPolicy) -> str:
        argv = [a.replace("{audience}", audience) for a in command]
        found = shutil.which(argv[0], path=env.get("PATH"))  # the run's PATH, not the process's
        if found is None:
            raise TrustedPublishingError(
                f"This is a {name} job, but `{argv[0]}` is not on PATH, so no ID token can be had.",
                f"Run the publish step where `{argv[0]}` is installed, or use an API token.",
            )
        try:
            clean = {k: v for k, v in env.items() if k not in _TOKEN_VARIABLES}
            done = subprocess.run([found, *argv[1:]], capture_output=True, text=True, timeout=TOOL_TIMEOUT,
                                  stdin=subprocess.DEVNULL, env=clean, check=False)
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

    return IdentityProvider(name, fetch, detected=f"a {name} job (`{variable}` is set)")


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
    if env.get("GOOGLE_SERVICE_ACCOUNT_NAME", "").strip() or _on_gcp():
        return Detection(_gcp(env), looked[:2])
    if env.get("BUILDKITE"):
        return Detection(_tool("Buildkite", "BUILDKITE", ["buildkite-agent", "oidc", "request-token",
                                                          "--audience", "{audience}"], env), looked[:3])
    if env.get("GITLAB_CI"):
        return Detection(_gitlab(env), looked[:4])
    if env.get("CIRCLECI"):
        claims = json.dumps({"aud": "{audience}"})
        return Detection(_tool("CircleCI", "CIRCLECI", ["circleci", "run", "oidc", "get", "--claims",
                                                        claims, "--root-issuer"], env), looked)
    return Detection(None, looked)
