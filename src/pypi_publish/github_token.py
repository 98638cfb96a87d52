"""GitHub Actions' OIDC ID tokens: one request for a fresh token, and why a job cannot have one."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

from .errors import TrustedPublishingError
from .http import Transient, Unreachable, send
from .retry import RetryPolicy
from .wire import github_token_answer, jwt_claims, text

REQUEST_URL = "ACTIONS_ID_TOKEN_REQUEST_URL"
REQUEST_TOKEN = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"  # noqa: S105 - a variable's name, not a secret

PERMISSIONS_YAML = """```yaml
jobs:
  publish:
    permissions:
      id-token: write   # Trusted Publishing
      contents: read
```"""

# GitHub gives runs for pull requests from forks no ID token, whatever the workflow asks for.
_PULL_REQUEST_EVENTS = ("pull_request", "pull_request_review", "pull_request_review_comment")


def available(env: Mapping[str, str]) -> bool:
    """True when this process may ask GitHub for an ID token."""
    return env.get("GITHUB_ACTIONS") == "true" and bool(env.get(REQUEST_URL)) \
        and bool(env.get(REQUEST_TOKEN))


def _event_payload(env: Mapping[str, str]) -> dict[str, object]:
    path = env.get("GITHUB_EVENT_PATH", "")
    if not path:
        return {}
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return event if isinstance(event, dict) else {}


def fork_of_pull_request(env: Mapping[str, str]) -> str | None:
    """The fork a pull request run comes from (`owner/name`, or `a fork` when unnamed), else None."""
    if env.get("GITHUB_EVENT_NAME") not in _PULL_REQUEST_EVENTS:
        return None
    pull_request = _event_payload(env).get("pull_request")
    if not isinstance(pull_request, dict):
        return None
    head = pull_request.get("head")
    if not isinstance(head, dict):
        return None
    repo = head.get("repo")
    if repo is None:
        return "a deleted fork"
    if not isinstance(repo, dict):
        return None
    full_name = repo.get("full_name")
    if isinstance(full_name, str) and full_name:
        # `fork` is also true for a branch of a repository that is itself a fork: compare names.
        same = full_name.lower() == env.get("GITHUB_REPOSITORY", "").lower()
        return None if same else full_name
    return "a fork" if repo.get("fork") is True else None


def no_id_token(env: Mapping[str, str]) -> TrustedPublishingError:
    """Why this job cannot get an ID token, and what to change."""
    if env.get("GITHUB_ACTIONS") != "true":
        return TrustedPublishingError(
            "Trusted Publishing needs an OIDC ID token from GitHub Actions, and this run is not a "
            "GitHub Actions job (`GITHUB_ACTIONS` is not `true`).",
            "Run the upload in a workflow job that has the `id-token: write` permission:\n"
            f"{PERMISSIONS_YAML}\n"
            "Or pass an API token: the `password` input, or `PYPI_API_TOKEN` in the environment.",
        )
    fork = fork_of_pull_request(env)
    if fork is not None:
        return TrustedPublishingError(
            f"This run is for a pull request from a fork ({fork}), and GitHub gives such runs no "
            "OIDC ID token, so Trusted Publishing cannot work here.",
            "Publishing from forks is not possible (by design: a fork must not be able to publish "
            "your project). Publish from tags or releases of the repository itself, and skip the "
            "publish step on pull requests, e.g. `if: github.event_name == 'push'`.",
        )
    if env.get("GITHUB_ACTOR") == "dependabot[bot]":
        return TrustedPublishingError(
            "This run was started by Dependabot, and GitHub gives Dependabot's runs no OIDC ID "
            "token, as if they came from a fork, so Trusted Publishing cannot work here.",
            "Do not publish from Dependabot's runs: limit the publish job to tags or releases, "
            "e.g. `if: github.actor != 'dependabot[bot]'`.",
        )
    missing = " and ".join(f"`{name}`" for name in (REQUEST_URL, REQUEST_TOKEN)
                           if not env.get(name))
    hint = ("Give the publishing job that permission, at job level so other jobs keep none:\n"
            f"{PERMISSIONS_YAML}\n"
            "- In a reusable workflow, the calling job must grant `id-token: write` as well.\n")
    if env.get("GITHUB_EVENT_NAME") == "pull_request_target":
        hint += ("- Even with it, PyPI refuses ID tokens from `pull_request_target` runs: publish on "
                 "`push` of a tag, `release` or `workflow_dispatch`.\n")
    hint += "- Or pass an API token instead: `env: PYPI_API_TOKEN: ${{ secrets.PYPI_API_TOKEN }}`."
    return TrustedPublishingError(
        "Trusted Publishing needs an OIDC ID token from GitHub, but this job may not request one "
        f"({missing or 'the request variables'} not set): the job lacks the `id-token: write` "
        "permission.",
        hint,
    )


def _refused(status: int) -> TrustedPublishingError:
    return TrustedPublishingError(
        f"GitHub refused to hand out an ID token (HTTP {status}): it did not accept the request "
        f"token in `{REQUEST_TOKEN}`.",
        f"The runner sets `{REQUEST_URL}` and `{REQUEST_TOKEN}` for each job: do not set or "
        "override them in `env:`. Re-run the job; if it persists, check that the job has "
        "`permissions: id-token: write`.",
    )


def token_url(request_url: str, audience: str) -> str:
    # The runner's URL carries its own query (`api-version=…`); the audience joins it.
    parts = urlsplit(request_url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "audience"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("audience", audience)])))


def request_id_token(audience: str, env: Mapping[str, str], session: requests.Session,
                     policy: RetryPolicy) -> str | Transient | Unreachable:
    """One request for a fresh ID token for `audience`: the token, or why there is none yet.

    This is the request `id.detect_credential` makes on GitHub (`GET <request URL>&audience=…`
    with `Authorization: bearer <request token>`), made with the run's session instead: the
    policy's timeouts bound it (`id` waits up to 30 s per try), the session's proxy and CA
    settings apply to it as to the index, and `env` is read rather than `os.environ`.
    Raises TrustedPublishingError when GitHub's answer means no retry can help.
    """
    if not available(env):
        raise no_id_token(env)
    url = token_url(env[REQUEST_URL], audience)
    sent = send(lambda: session.get(url, headers={"Authorization": f"bearer {env[REQUEST_TOKEN]}"},
                                    timeout=policy.timeout, allow_redirects=False))
    if not isinstance(sent, requests.Response):
        if isinstance(sent, Transient):
            sent.reason = (f"GitHub's token service answered {sent.reason}" if sent.response is not None
                           else f"GitHub's token service: {sent.reason}")
        return sent
    with sent:
        status = sent.status_code
        if status in (401, 403):
            raise _refused(status)
        if status == 408:
            return Transient(f"GitHub's token service answered HTTP {status}")
        if status != 200:
            raise TrustedPublishingError(
                f"GitHub's token service answered the ID token request with HTTP {status}.",
                f"Re-run the job; do not set or override `{REQUEST_URL}` in `env:`.",
            )
        try:
            answer = github_token_answer(sent.json())
        except ValueError:
            answer = None
    token = answer["value"] if answer else ""
    if token.count(".") != 2 or not jwt_claims(token):
        # Cut short or garbled on the way: a new request will do.
        return Transient("GitHub's token service answered with no readable token")
    issued_for = jwt_claims(token).get("aud")
    if issued_for != audience:
        raise TrustedPublishingError(
            f"GitHub handed out an ID token for audience `{text(issued_for)}`, not for "
            f"`{audience}` as the index asked.",
            "Something between the job and GitHub changes the request; do not set or override "
            f"`{REQUEST_URL}` in `env:`, then re-run the job.",
        )
    return token
