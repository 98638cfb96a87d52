"""Trusted Publishing: a GitHub OIDC ID token exchanged at the index for a short-lived upload token."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypedDict
from urllib.parse import urlencode, urlsplit

import requests

from .errors import TrustedPublishingError
from .gha import Console
from .http import describe_error, with_retries
from .retry import RetryPolicy

PERMISSIONS_YAML = """jobs:
  publish:
    permissions:
      id-token: write   # Trusted Publishing
      contents: read"""

CLAIMS_SHOWN = ("repository", "repository_owner", "repository_owner_id", "job_workflow_ref",
                "workflow_ref", "ref", "environment", "event_name")

_PUBLISHING_PAGES = {"upload.pypi.org": "https://pypi.org", "pypi.org": "https://pypi.org",
                     "test.pypi.org": "https://test.pypi.org"}

_CODE_HINTS = {
    "invalid-payload": "The index could not read the request; this is a bug in pypi-publish or "
                       "the index, please report it.",
    "not-enabled": "Trusted Publishing is switched off on the index; use an API token "
                   "(`PYPI_API_TOKEN`) until it is back.",
    "invalid-token": "The index did not accept the ID token (expired, wrong audience or not "
                     "signed by GitHub). Re-run the job; if it persists, check the runner's clock.",
    "invalid-reuse-token": "This ID token was used before; each is single-use. Re-run the job.",
    "invalid-pending-publisher": "A pending publisher matched but its project could not be "
                                 "created (the name may be taken or too similar to another). "
                                 "Check the pending publisher's project name on the index.",
}


class AudienceAnswer(TypedDict):
    audience: str


class MintError(TypedDict):
    code: str
    description: str


class MintAnswer(TypedDict, total=False):
    success: bool
    token: str
    expires: int
    message: str
    errors: list[MintError]


def index_root(upload_url: str) -> str:
    parts = urlsplit(upload_url)
    return f"{parts.scheme}://{parts.netloc}"


def user_warning(user: str) -> str | None:
    if user in ("", "__token__"):
        return None
    return (f"`user` is `{user}`, but Trusted Publishing always uploads as `__token__`; the input "
            "is ignored. Remove `user` from the step.")


# -- the ID token ----------------------------------------------------------------------------------


def claims_of(jwt: str) -> dict[str, object]:
    """The JWT's payload, unverified: only to explain a refusal, never to decide anything."""
    try:
        payload = jwt.split(".")[1]
        decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error):
        return {}
    return decoded if isinstance(decoded, dict) else {}


def _fork_pull_request(env: Mapping[str, str]) -> bool:
    if env.get("GITHUB_EVENT_NAME") not in ("pull_request", "pull_request_review",
                                            "pull_request_review_comment"):
        return False
    try:
        event = json.loads(Path(env.get("GITHUB_EVENT_PATH", "")).read_text(encoding="utf-8"))
        head = event["pull_request"]["head"]["repo"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return bool(head.get("fork")) or head.get("full_name") != env.get("GITHUB_REPOSITORY")


def _no_permission(env: Mapping[str, str]) -> TrustedPublishingError:
    if _fork_pull_request(env):
        return TrustedPublishingError(
            "This run is for a pull request from a fork, and GitHub gives such runs no OIDC ID "
            "token, so Trusted Publishing cannot work here.",
            "Publishing from forks is not possible (by design: a fork must not publish your "
            "project). Publish from tags or branches of the repository itself; skip the publish "
            "step on pull requests, e.g. `if: github.event_name == 'push'`.",
        )
    return TrustedPublishingError(
        "Trusted Publishing needs an OIDC ID token from GitHub, but this job may not request one "
        "(`ACTIONS_ID_TOKEN_REQUEST_URL` is not set): the job lacks the `id-token: write` "
        "permission.",
        "Give the publishing job that permission, at job level so other jobs keep none:\n"
        f"{PERMISSIONS_YAML}\n"
        "Or pass an API token instead (`env: PYPI_API_TOKEN: ${{ secrets.PYPI_API_TOKEN }}`).",
    )


def request_id_token(audience: str, env: Mapping[str, str]) -> str:
    """A fresh ID token from the runner, via `id` (which reads the runner's variables)."""
    if not env.get("ACTIONS_ID_TOKEN_REQUEST_URL") or not env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN"):
        raise _no_permission(env)
    import id as oidc_id

    try:
        token = oidc_id.detect_credential(audience)
    except oidc_id.GitHubOidcPermissionCredentialError:
        raise _no_permission(env) from None
    except oidc_id.AmbientCredentialError as error:
        text = str(error)
        transient = "timed out" in text or "code=5" in text
        raise _IdTokenFailure(text.split(", body=")[0], transient) from None
    if not token:
        raise _no_permission(env)
    return str(token)


class _IdTokenFailure(Exception):
    def __init__(self, reason: str, transient: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient


# -- the exchange -----------------------------------------------------------------------------------


def discover_audience(root: str, session: requests.Session, policy: RetryPolicy,
                      console: Console) -> str:
    url = f"{root}/_/oidc/audience"
    host = urlsplit(root).netloc
    attempt = with_retries(lambda: session.get(url, timeout=policy.timeout, allow_redirects=False),
                           policy, _retry_note(console, "audience"))
    response = attempt.response
    if response is None:
        raise TrustedPublishingError(
            f"Could not reach {host} to start Trusted Publishing: "
            f"{describe_error(attempt.error or Exception())}.",
            "Check `repository-url` and the index's status; transient failures were retried.",
        )
    with response:
        if response.status_code == 403:
            raise TrustedPublishingError(
                f"Trusted Publishing is disabled on {host} (its audience endpoint answered 403).",
                "Use an API token for now: store it as the `PYPI_API_TOKEN` secret and pass it "
                "in `env:`.",
            )
        if response.status_code == 404:
            raise TrustedPublishingError(
                f"{host} has no Trusted Publishing (no `/_/oidc/audience` endpoint).",
                "Use an API token for this index: set `password` or the `PYPI_API_TOKEN` "
                "environment variable.",
            )
        try:
            answer: AudienceAnswer = response.json()
            audience = answer["audience"]
            if response.status_code != 200 or not isinstance(audience, str):
                raise ValueError(audience)
        except (ValueError, KeyError, TypeError):
            raise TrustedPublishingError(
                f"{host} answered the audience request with HTTP {response.status_code} and no "
                "audience.",
                "The index does not speak Trusted Publishing as PyPI does; use an API token.",
            ) from None
    return audience


def _retry_note(console: Console, what: str) -> Callable[[int, str, float], None]:
    def note(attempt: int, reason: str, wait: float) -> None:
        console.info(f"Trusted Publishing {what}: {reason}; retrying in {wait:.1f} s")

    return note


def render_claims(claims: Mapping[str, object]) -> str:
    lines = [f"  {name}: {claims.get(name, 'MISSING')}" for name in CLAIMS_SHOWN]
    return "\n".join(lines)


def _workflow_path(ref: object) -> str:
    """`o/r/.github/workflows/release.yml@refs/tags/v1` -> `o/r/.github/workflows/release.yml`."""
    return str(ref).split("@", 1)[0] if ref else ""


def pending_publisher_link(upload_url: str, claims: Mapping[str, object], project: str) -> str | None:
    page = _PUBLISHING_PAGES.get(urlsplit(upload_url).hostname or "")
    if page is None:
        return None
    repository = str(claims.get("repository", ""))
    owner, _, name = repository.partition("/")
    workflow = _workflow_path(claims.get("job_workflow_ref") or claims.get("workflow_ref"))
    params = {"provider": "github", "owner": owner, "repository": name,
              "workflow_filename": workflow.rsplit("/", 1)[-1],
              "environment": str(claims.get("environment", "")), "project_name": project}
    return f"{page}/manage/account/publishing/?" + urlencode({k: v for k, v in params.items() if v})


def explain_refusal(answer: MintAnswer, claims: Mapping[str, object], upload_url: str,
                    project: str) -> TrustedPublishingError:
    errors = answer.get("errors") or []
    codes = [e.get("code", "?") for e in errors if isinstance(e, dict)]
    listing = "\n".join(f"  - `{e.get('code', '?')}`: {e.get('description', '')}"
                        for e in errors if isinstance(e, dict))
    message = ("The index refused to exchange this job's GitHub ID token for an upload token: "
               f"{answer.get('message', 'no reason given')}.\n{listing}\n"
               f"The claims the index matched on:\n{render_claims(claims)}")
    hints: list[str] = [_CODE_HINTS[c] for c in codes if c in _CODE_HINTS]
    if "invalid-publisher" in codes or not hints:
        job_workflow = _workflow_path(claims.get("job_workflow_ref"))
        workflow = _workflow_path(claims.get("workflow_ref"))
        repository = str(claims.get("repository", "MISSING"))
        hints.append(
            "No Trusted Publisher on the index matches these claims. In the project's publishing "
            f"settings check, exactly: owner `{claims.get('repository_owner', 'MISSING')}`, "
            f"repository `{repository.partition('/')[2] or repository}`, workflow file "
            f"`{(job_workflow or workflow).rsplit('/', 1)[-1] or 'MISSING'}` and environment "
            f"`{claims.get('environment', '(none)')}`."
        )
        if job_workflow and workflow and job_workflow != workflow:
            hints.append(
                f"This job runs in a reusable workflow (`job_workflow_ref` is `{job_workflow}`, "
                f"`workflow_ref` is `{workflow}`): the index matches `job_workflow_ref`, so the "
                "publisher must name the reusable workflow's file, and a reusable workflow from "
                "another repository cannot publish."
            )
        if "environment" not in claims:
            hints.append(
                "The job has no `environment:` (claim `environment` is MISSING). If the publisher "
                "names an environment, add `environment: <that name>` to the publishing job."
            )
        link = pending_publisher_link(upload_url, claims, project)
        if link:
            hints.append(f"To register this workflow as a (pending) publisher, open: {link}")
    return TrustedPublishingError(message, "\n".join(hints))


def mint_upload_token(
    upload_url: str,
    *,
    env: Mapping[str, str],
    session: requests.Session,
    policy: RetryPolicy,
    console: Console,
    project: str = "",
) -> str:
    root = index_root(upload_url)
    host = urlsplit(root).netloc
    audience = discover_audience(root, session, policy, console)
    sent: list[str] = []

    def mint_once() -> requests.Response:
        # ID tokens are single-use at the index: every attempt asks the runner for a new one.
        try:
            jwt = request_id_token(audience, env)
        except _IdTokenFailure as failure:
            if failure.transient:
                raise requests.ConnectionError(failure.reason) from None
            raise TrustedPublishingError(
                f"GitHub did not hand out an ID token: {failure.reason}.",
                "The runner's `ACTIONS_ID_TOKEN_REQUEST_TOKEN` was refused; re-run the job. If it "
                "persists, check that the job has `permissions: id-token: write`.",
            ) from None
        console.add_secret(jwt)
        sent.append(jwt)
        return session.post(f"{root}/_/oidc/mint-token", json={"token": jwt},
                            timeout=policy.timeout, allow_redirects=False)

    attempt = with_retries(mint_once, policy, _retry_note(console, "token exchange"))
    response = attempt.response
    if response is None:
        raise TrustedPublishingError(
            f"Could not exchange the ID token at {host}: "
            f"{describe_error(attempt.error or Exception())} (after retries).",
            "Re-run the job; if it persists, check the index's status page.",
        )
    with response:
        try:
            answer: MintAnswer = response.json()
        except ValueError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        token = answer.get("token")
        if response.status_code == 200 and isinstance(token, str) and token:
            # Masked before anything else can print it.
            console.add_secret(token)
            return token
    claims = claims_of(sent[-1]) if sent else {}
    if response.status_code == 422 or answer.get("errors"):
        raise explain_refusal(answer, claims, upload_url, project)
    raise TrustedPublishingError(
        f"The index answered the token exchange with HTTP {response.status_code} and no token.",
        "Re-run the job; if it persists, use an API token for this index.",
    )
