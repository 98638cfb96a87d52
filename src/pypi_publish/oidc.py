"""Trusted Publishing: a GitHub OIDC ID token exchanged at the index for a short-lived upload token."""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import requests

from .errors import TrustedPublishingError
from .gha import Console
from .http import Attempt, describe_error, with_retries
from .retry import RETRYABLE_STATUS, RetryPolicy

REQUEST_URL = "ACTIONS_ID_TOKEN_REQUEST_URL"
REQUEST_TOKEN = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"  # noqa: S105 - a variable's name, not a secret

PERMISSIONS_YAML = """```yaml
jobs:
  publish:
    permissions:
      id-token: write   # Trusted Publishing
      contents: read
```"""

# The claims the index matches a publisher on (PyPI's GitHub publisher), in the order shown.
CLAIMS_SHOWN = ("repository", "repository_owner", "repository_owner_id", "job_workflow_ref",
                "workflow_ref", "ref", "environment", "event_name")

# Where PyPI and TestPyPI keep their publisher forms.
_PUBLISHING_SITES = {"upload.pypi.org": "https://pypi.org", "pypi.org": "https://pypi.org",
                     "test.pypi.org": "https://test.pypi.org"}

# GitHub gives runs for pull requests from forks no ID token, whatever the workflow asks for.
_PULL_REQUEST_EVENTS = ("pull_request", "pull_request_review", "pull_request_review_comment")

# The workflow file in a `job_workflow_ref`, as the index extracts it (a file name may hold `@`).
_WORKFLOW_FILE = re.compile(r"[^/]+\.(?:yml|yaml)(?=@)")

_MAX_REASONS = 10
_MAX_TEXT = 500


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


# -- answers -------------------------------------------------------------------------------------------


class _Transient(requests.ConnectionError):
    """A failure worth another attempt that is not a socket error: an answer cut short or
    garbled in transit, or GitHub's token service failing for the moment."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _require_json(response: requests.Response) -> None:
    """A 200 whose JSON does not parse was cut short or garbled on the way: worth a retry."""
    if response.status_code != 200:
        return
    try:
        response.json()
    except ValueError:
        if "json" in response.headers.get("Content-Type", "").lower():
            raise _Transient(f"HTTP {response.status_code} with an unreadable JSON body") from None


def _json_object(response: requests.Response) -> dict[str, object]:
    try:
        value = response.json()
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + "…"


# -- inputs ------------------------------------------------------------------------------------------


def index_root(upload_url: str) -> str:
    parts = urlsplit(upload_url)
    return f"{parts.scheme}://{parts.netloc}"


def user_warning(user: str) -> str | None:
    """The warning for a `user` input that Trusted Publishing is going to ignore, if any."""
    if user.strip() in ("", "__token__"):
        return None
    return (f"`user` is `{user}`, but no `password` or `PYPI_API_TOKEN` was given, so the upload "
            "uses Trusted Publishing, which always uploads as `__token__`: `user` is ignored. "
            "Remove `user` from the step, or pass the password that goes with it in `password`.")


# -- the ID token ------------------------------------------------------------------------------------


def claims_of(jwt: str) -> dict[str, object]:
    """The JWT's payload, unverified: only to explain a refusal, never to decide anything."""
    try:
        payload = jwt.split(".")[1]
        decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error):
        return {}
    return decoded if isinstance(decoded, dict) else {}


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


def _refused_by_github(status: int) -> TrustedPublishingError:
    return TrustedPublishingError(
        f"GitHub refused to hand out an ID token (HTTP {status}): it did not accept the request "
        f"token in `{REQUEST_TOKEN}`.",
        f"The runner sets `{REQUEST_URL}` and `{REQUEST_TOKEN}` for each job: do not set or "
        "override them in `env:`. Re-run the job; if it persists, check that the job has "
        "`permissions: id-token: write`.",
    )


def _id_token_url(request_url: str, audience: str) -> str:
    # The runner's URL carries its own query (`api-version=…`); the audience joins it.
    parts = urlsplit(request_url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "audience"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("audience", audience)])))


def ask_github(audience: str, env: Mapping[str, str], session: requests.Session,
               policy: RetryPolicy) -> requests.Response:
    """GitHub's answer to a request for a fresh ID token for `audience`.

    This is the request `id.detect_credential` makes on GitHub (`GET <request URL>&audience=…`
    with `Authorization: bearer <request token>`), made with the run's session instead: the
    policy's timeouts bound it (`id` waits up to 30 s per try, four tries), the session's proxy
    and CA settings apply to it as to the index, and `env` is read rather than `os.environ`.
    A connection error or timeout propagates, for `with_retries` to retry.
    """
    if env.get("GITHUB_ACTIONS") != "true" or not env.get(REQUEST_URL) or not env.get(REQUEST_TOKEN):
        raise no_id_token(env)
    url = _id_token_url(env[REQUEST_URL], audience)
    try:
        return session.get(url, headers={"Authorization": f"bearer {env[REQUEST_TOKEN]}"},
                           timeout=policy.timeout, allow_redirects=False)
    except requests.RequestException as error:
        if Attempt(None, error).transient:
            raise
        raise TrustedPublishingError(
            f"Could not ask GitHub for an ID token: {describe_error(error)}.",
            "Check the runner's network path to GitHub (a proxy or TLS-inspecting firewall needs "
            "its CA in `REQUESTS_CA_BUNDLE`), then re-run the job.",
        ) from None


def id_token_from(response: requests.Response, audience: str) -> str:
    """The ID token in GitHub's answer (`{"value": <JWT>}`), checked as `id` checks it."""
    with response:
        status = response.status_code
        if status in (401, 403):
            raise _refused_by_github(status)
        if status == 408:
            raise _Transient(f"GitHub's token service answered HTTP {status}")
        if status != 200:
            raise TrustedPublishingError(
                f"GitHub's token service answered the ID token request with HTTP {status}.",
                f"Re-run the job; do not set or override `{REQUEST_URL}` in `env:`.",
            )
        value = _json_object(response).get("value")
    if not isinstance(value, str) or value.count(".") != 2 or not claims_of(value):
        raise _Transient("GitHub's token service answered with no readable token")
    issued_for = claims_of(value).get("aud")
    if issued_for != audience:
        raise TrustedPublishingError(
            f"GitHub handed out an ID token for audience `{_text(issued_for)}`, not for "
            f"`{audience}` as the index asked.",
            "Something between the job and GitHub changes the request; do not set or override "
            f"`{REQUEST_URL}` in `env:`, then re-run the job.",
        )
    return value


# -- talking to the index ------------------------------------------------------------------------------


@dataclass
class _Attempts:
    """What the attempts at one step saw: for the retry notes and the final diagnostic."""

    stage: str
    count: int = 0
    reason: str = ""  # why the last attempt raised, when that is more than a socket error
    claims: dict[str, object] = field(default_factory=dict)

    def run(self, send: Callable[[], requests.Response]) -> Callable[[], requests.Response]:
        def attempt() -> requests.Response:
            self.count += 1
            self.reason = ""
            try:
                return send()
            except _Transient as error:
                self.reason = error.reason
                raise

        return attempt

    def note(self, console: Console) -> Callable[[int, str, float], None]:
        def say(attempt: int, reason: str, wait: float) -> None:
            console.info(f"Trusted Publishing {self.stage}: {self.reason or reason}; "
                         f"retrying in {wait:.1f} s")

        return say

    def failure(self, error: BaseException | None) -> str:
        return self.reason or describe_error(error or Exception())


def discover_audience(root: str, session: requests.Session, policy: RetryPolicy,
                      console: Console) -> str:
    """The audience the index wants in ID tokens (`GET /_/oidc/audience`)."""
    url = f"{root}/_/oidc/audience"
    host = urlsplit(root).netloc
    attempts = _Attempts("audience")

    def ask() -> requests.Response:
        response = session.get(url, timeout=policy.timeout, allow_redirects=False)
        _require_json(response)
        return response

    attempt = with_retries(attempts.run(ask), policy, attempts.note(console))
    response = attempt.response
    if response is None:
        raise TrustedPublishingError(
            f"Could not reach {host} to start Trusted Publishing: {attempts.failure(attempt.error)} "
            f"({attempts.count} attempt{'s' if attempts.count > 1 else ''}).",
            "Check `repository-url` and the index's status; transient failures were retried.",
        )
    with response:
        status = response.status_code
        if status == 403:
            raise TrustedPublishingError(
                f"Trusted Publishing is disabled on {host} (its audience endpoint answered 403), "
                "usually for a while during an incident.",
                "Use an API token for now: store it as the `PYPI_API_TOKEN` secret and pass it in "
                "`env:`, or retry later.",
            )
        if status == 404:
            raise TrustedPublishingError(
                f"{host} has no Trusted Publishing (no `/_/oidc/audience` endpoint).",
                "Use an API token for this index: set `password` or the `PYPI_API_TOKEN` "
                "environment variable.",
            )
        audience = _json_object(response).get("audience")
        if status == 200 and isinstance(audience, str) and audience:
            return audience
        if status in RETRYABLE_STATUS:
            raise TrustedPublishingError(
                f"{host} answered the audience request with HTTP {status} "
                f"{attempts.count} time{'s' if attempts.count > 1 else ''}.",
                "The index is having trouble: re-run the job later, or use an API token.",
            )
        raise TrustedPublishingError(
            f"{host} answered the audience request with HTTP {status} and no audience.",
            "The index does not speak Trusted Publishing as PyPI does; use an API token for this "
            "index: set `password` or the `PYPI_API_TOKEN` environment variable.",
        )


# -- explaining a refusal ------------------------------------------------------------------------------


def _claim(claims: Mapping[str, object], name: str) -> str | None:
    value = claims.get(name)
    return None if value is None else _text(value)


def render_claims(claims: Mapping[str, object]) -> str:
    lines = []
    for name in CLAIMS_SHOWN:
        value = _claim(claims, name)
        lines.append(f"- `{name}`: " + ("MISSING" if value is None else f"`{value}`"))
    return "\n".join(lines)


def workflow_file(ref: str | None) -> str | None:
    """`o/r/.github/workflows/release.yml@refs/tags/v1` -> `release.yml`, as the index reads it."""
    found = _WORKFLOW_FILE.search(ref or "")
    return found.group(0) if found else None


def refusal_reasons(answer: Mapping[str, object]) -> list[tuple[str, str]]:
    """(code, description) of each error in a refusal, whatever shape the index gave them."""
    errors = answer.get("errors")
    if not isinstance(errors, list):
        return []
    reasons = []
    for error in errors[:_MAX_REASONS]:
        if isinstance(error, dict):
            reasons.append((_text(error.get("code", "?")), _text(error.get("description", ""))))
        else:
            reasons.append(("?", _text(error)))
    return reasons


@dataclass(frozen=True)
class PublisherFields:
    """The GitHub publisher, as the index would have to hold it to accept these claims."""

    owner: str
    repository: str
    workflow: str
    environment: str  # empty: the job has no environment

    @classmethod
    def from_claims(cls, claims: Mapping[str, object]) -> PublisherFields:
        repository = _claim(claims, "repository") or "MISSING/MISSING"
        owner, _, name = repository.partition("/")
        return cls(
            owner=_claim(claims, "repository_owner") or owner,
            repository=name or repository,
            workflow=workflow_file(_claim(claims, "job_workflow_ref")) or "MISSING",
            environment=_claim(claims, "environment") or "",
        )

    def form_query(self) -> str:
        params = {"provider": "github", "owner": self.owner, "repository": self.repository,
                  "workflow_filename": self.workflow}
        if self.environment:
            params["environment"] = self.environment
        return urlencode(params)


def publisher_links(upload_url: str, claims: Mapping[str, object], project: str) -> str | None:
    """Where to register this workflow on PyPI or TestPyPI; None for any other index.

    PyPI pre-fills the publisher form of an existing project from the query string; the
    account's pending-publisher form (for a project not yet on the index) takes no query.
    """
    site = _PUBLISHING_SITES.get(urlsplit(upload_url).hostname or "")
    if site is None:
        return None
    fields = PublisherFields.from_claims(claims)
    pending = f"{site}/manage/account/publishing/"
    if not project:
        return (f"To register this workflow as a pending publisher (for a new project), open "
                f"{pending} and enter the values above.")
    existing = (f"{site}/manage/project/{quote(project, safe='')}/settings/publishing/?"
                + fields.form_query())
    return (f"To add this workflow as a publisher of `{project}`, open (pre-filled): {existing}\n"
            f"- If `{project}` is not on the index yet, add a pending publisher for it at "
            f"{pending} with the values above.")


def _when(value: object) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        moment = datetime.datetime.fromtimestamp(value, tz=datetime.timezone.utc)
        return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    return "MISSING"


def _invalid_publisher_hints(claims: Mapping[str, object], upload_url: str,
                             project: str) -> list[str]:
    fields = PublisherFields.from_claims(claims)
    environment = (f"`{fields.environment}` (or empty, to allow any environment)"
                   if fields.environment else "empty (this job has no `environment:`)")
    hints = [
        "No Trusted Publisher on the index matches these claims. The project's GitHub publisher "
        f"must read exactly: owner `{fields.owner}`, repository name `{fields.repository}`, "
        f"workflow name `{fields.workflow}`, environment name {environment}.",
        "The index also matches the owner's numeric id (`repository_owner_id` "
        f"`{_claim(claims, 'repository_owner_id') or 'MISSING'}`), saved when the publisher was "
        "added: if the repository moved to another owner, or the owner's account was re-created, "
        "remove the publisher and add it again.",
    ]
    job_ref = _claim(claims, "job_workflow_ref")
    caller_ref = _claim(claims, "workflow_ref")
    if job_ref and caller_ref and job_ref != caller_ref:
        reusable_repo = job_ref.split("/.github/", 1)[0]
        repository = _claim(claims, "repository") or ""
        if reusable_repo.lower() != repository.lower():
            where = (f"it lives in `{reusable_repo}`, not in `{repository}`, so it cannot publish: "
                     "move the publish step into a workflow of this repository")
        else:
            where = (f"the publisher must name `{fields.workflow}`, and the workflow must be called "
                     "at the same ref as the caller (`uses: ./.github/workflows/…`)")
        hints.append(
            f"This job runs in a reusable workflow (`job_workflow_ref` is `{job_ref}`, "
            f"`workflow_ref` is `{caller_ref}`): the index matches the reusable workflow; {where}."
        )
    if "environment" not in claims:
        hints.append(
            "The job has no `environment:` (claim `environment` is MISSING). If the publisher on "
            "the index names an environment, add `environment: <that name>` to the publishing job, "
            "beside `runs-on:`."
        )
    if _claim(claims, "event_name") == "pull_request_target":
        hints.append(
            "PyPI refuses ID tokens from `pull_request_target` runs (claim `event_name`): publish "
            "on `push` of a tag, `release` or `workflow_dispatch` instead."
        )
    link = publisher_links(upload_url, claims, project)
    if link:
        hints.append(link)
    return hints


def _code_hint(code: str, description: str, claims: Mapping[str, object]) -> str | None:
    if code == "invalid-payload" and "issuer" in description:
        return (f"The index does not accept ID tokens from issuer `{_claim(claims, 'iss')}` (claim "
                "`iss`): PyPI accepts GitHub's `https://token.actions.githubusercontent.com` only, "
                "not GitHub Enterprise Server or an enterprise's own issuer. Use an API token.")
    if code == "invalid-payload":
        return ("The index could not read the token request. Re-run the job; if it persists, "
                "report it to pypi-publish with this log.")
    if code == "not-enabled":
        return ("Trusted Publishing with GitHub is switched off on the index for now (usually "
                "during an incident): use an API token (`PYPI_API_TOKEN`) until it is back.")
    if code == "invalid-token":
        return ("The index could not verify the ID token: expired or not yet valid (check the "
                "runner's clock), made for another audience, or signed with a key the index does "
                f"not know (token: audience `{_claim(claims, 'aud')}`, issuer "
                f"`{_claim(claims, 'iss')}`, issued {_when(claims.get('iat'))}, expires "
                f"{_when(claims.get('exp'))}). Re-run the job: each attempt gets a fresh token.")
    if code == "invalid-reuse-token":
        return ("The index had seen this ID token before; each is accepted once. pypi-publish "
                "asks for a fresh one per attempt, so something between the job and GitHub handed "
                "out the same token twice (a cache, or another step). Re-run the job.")
    if code == "invalid-pending-publisher":
        return ("A pending publisher matched this workflow, but its project already exists on the "
                "index, so the pending publisher was dropped: add the publisher on the existing "
                "project's publishing settings instead.")
    return None


def explain_refusal(answer: Mapping[str, object], claims: Mapping[str, object], upload_url: str,
                    project: str = "") -> TrustedPublishingError:
    """The diagnostic for a refused exchange: every reason, the claims, and what to change."""
    reasons = refusal_reasons(answer)
    summary = answer.get("message")
    listing = "\n".join(f"- `{code}`: {description}" for code, description in reasons)
    message = ("The index refused to exchange this job's GitHub ID token for an upload token: "
               f"{_text(summary) if isinstance(summary, str) and summary else 'no reason given'}.\n"
               + (f"{listing}\n" if listing else "")
               + f"The claims the index matched on:\n{render_claims(claims)}")
    codes = [code for code, _ in reasons]
    hints = [hint for code, description in reasons
             if (hint := _code_hint(code, description, claims)) is not None]
    if "invalid-publisher" in codes:
        hints += _invalid_publisher_hints(claims, upload_url, project)
    elif "invalid-pending-publisher" in codes:
        link = publisher_links(upload_url, claims, project)
        if link:
            hints.append(link)
    if not hints:
        hints.append("The index gave no reason pypi-publish knows; check the publisher on the "
                     "index against the claims above, or use an API token.")
    return TrustedPublishingError(message, hints[0] + "".join(f"\n- {h}" for h in hints[1:]))


# -- the exchange ----------------------------------------------------------------------------------------


def _publisher_identity(claims: Mapping[str, object]) -> str:
    fields = PublisherFields.from_claims(claims)
    text = f"`{fields.owner}/{fields.repository}` `{fields.workflow}`"
    return text + (f" (environment `{fields.environment}`)" if fields.environment else "")


def mint_upload_token(
    upload_url: str,
    *,
    env: Mapping[str, str],
    session: requests.Session,
    policy: RetryPolicy,
    console: Console,
    project: str = "",
) -> str:
    """Exchange a fresh GitHub ID token at the index of `upload_url` for an upload token.

    The token is masked (`console.add_secret`) before this returns or prints anything else.
    Raises `TrustedPublishingError` with the whole diagnostic when the exchange fails.
    """
    started = time.monotonic()
    root = index_root(upload_url)
    host = urlsplit(root).netloc
    audience = discover_audience(root, session, policy, console)
    attempts = _Attempts("token exchange")

    def mint_once() -> requests.Response:
        # The index accepts each ID token once: every attempt asks the runner for a new one.
        attempts.stage = "ID token"
        github = ask_github(audience, env, session, policy)
        if github.status_code in RETRYABLE_STATUS:
            # Returned rather than raised, so that `with_retries` honours its `Retry-After`.
            attempts.reason = f"GitHub's token service answered HTTP {github.status_code}"
            return github
        jwt = id_token_from(github, audience)
        console.add_secret(jwt)
        attempts.claims = claims_of(jwt)
        attempts.stage = "token exchange"
        response = session.post(f"{root}/_/oidc/mint-token", json={"token": jwt},
                                timeout=policy.timeout, allow_redirects=False)
        _require_json(response)
        return response

    attempt = with_retries(attempts.run(mint_once), policy, attempts.note(console))
    response = attempt.response
    tries = f"{attempts.count} attempt{'s' if attempts.count > 1 else ''}"
    if attempts.stage == "ID token":
        if response is not None:
            response.close()
        raise TrustedPublishingError(
            f"Could not get an ID token from GitHub: {attempts.failure(attempt.error)} ({tries}).",
            "GitHub's token service is having trouble: re-run the job later (see "
            "https://www.githubstatus.com).",
        )
    if response is None:
        raise TrustedPublishingError(
            f"Could not exchange the ID token at {host}: {attempts.failure(attempt.error)} "
            f"({tries}).",
            "Re-run the job; if it persists, check the index's status page.",
        )
    with response:
        answer = _json_object(response)
        token = answer.get("token")
        if response.status_code == 200 and isinstance(token, str) and token:
            # Masked before anything else can print it.
            console.add_secret(token)
            expires = answer.get("expires")
            until = f" until {_when(expires)}" if isinstance(expires, int) else ""
            console.info(f"Trusted Publishing: {host} accepted the ID token of "
                         f"{_publisher_identity(attempts.claims)}; upload token valid{until}.")
            console.debug(f"Trusted Publishing: exchange done in {time.monotonic() - started:.3f} s "
                          f"({tries} at the ID token and mint).")
            return token
        status = response.status_code
    if status == 422 or "errors" in answer:
        raise explain_refusal(answer, attempts.claims, upload_url, project)
    if status in RETRYABLE_STATUS:
        raise TrustedPublishingError(
            f"The index answered the token exchange with HTTP {status} ({tries}).",
            "The index is having trouble: re-run the job later, or use an API token.",
        )
    raise TrustedPublishingError(
        f"The index answered the token exchange with HTTP {status} and no token.",
        "Re-run the job; if it persists, use an API token for this index.",
    )
