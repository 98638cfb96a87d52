"""Why the index refused a Trusted Publishing exchange: its reasons, the claims it matched on, the fix."""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from . import tp_providers
from .errors import TrustedPublishingError
from .index import Index
from .wire import MintAnswer, text

# The claims the index matches a publisher on (PyPI's GitHub publisher), in the order shown.
CLAIMS_SHOWN = ("repository", "repository_owner", "repository_owner_id", "job_workflow_ref",
                "workflow_ref", "ref", "environment", "event_name")

# The workflow file in a `job_workflow_ref`, as the index extracts it (a file name may hold `@`).
_WORKFLOW_FILE = re.compile(r"[^/]+\.(?:yml|yaml)(?=@)")


def claim(claims: Mapping[str, object], name: str) -> str | None:
    value = claims.get(name)
    return None if value is None else text(value)


def render_claims(claims: Mapping[str, object], names: tuple[str, ...] = CLAIMS_SHOWN) -> str:
    lines = []
    for name in names:
        value = claim(claims, name)
        lines.append(f"- `{name}`: " + ("MISSING" if value is None else f"`{value}`"))
    return "\n".join(lines)


def workflow_file(ref: str | None) -> str | None:
    """`o/r/.github/workflows/release.yml@refs/tags/v1` -> `release.yml`, as the index reads it."""
    found = _WORKFLOW_FILE.search(ref or "")
    return found.group(0) if found else None


def when(value: object) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        moment = datetime.datetime.fromtimestamp(value, tz=datetime.timezone.utc)
        return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    return "MISSING"


@dataclass(frozen=True)
class PublisherFields:
    """The GitHub publisher, as the index would have to hold it to accept these claims."""

    owner: str
    repository: str
    workflow: str
    environment: str  # empty: the job has no environment

    @classmethod
    def from_claims(cls, claims: Mapping[str, object]) -> PublisherFields:
        repository = claim(claims, "repository") or "MISSING/MISSING"
        owner, _, name = repository.partition("/")
        return cls(
            owner=claim(claims, "repository_owner") or owner,
            repository=name or repository,
            workflow=workflow_file(claim(claims, "job_workflow_ref")) or "MISSING",
            environment=claim(claims, "environment") or "",
        )

    def form_query(self) -> str:
        params = {"provider": "github", "owner": self.owner, "repository": self.repository,
                  "workflow_filename": self.workflow}
        if self.environment:
            params["environment"] = self.environment
        return urlencode(params)

    def identity(self) -> str:
        shown = f"`{self.owner}/{self.repository}` `{self.workflow}`"
        return shown + (f" (environment `{self.environment}`)" if self.environment else "")


def publisher_fields(provider: str, claims: Mapping[str, object]
                     ) -> PublisherFields | tp_providers.GitLabFields | tp_providers.GoogleFields | None:
    """The publisher the index would need for these claims; None for a provider it has none for."""
    if provider == "GitHub":
        return PublisherFields.from_claims(claims)
    return tp_providers.fields(provider, claims)


def publisher_links(index: Index, claims: Mapping[str, object], project: str,
                    provider: str = "GitHub") -> str | None:
    """Where to register this workflow on PyPI or TestPyPI; None for any other index.

    PyPI pre-fills the publisher form of an existing project from the query string; the
    account's pending-publisher form (for a project not yet on the index) takes no query.
    """
    pending = index.pending_publishers_page()
    fields = publisher_fields(provider, claims)
    if pending is None or fields is None:
        return None
    what = {"GitHub": "workflow", "GitLab": "pipeline"}.get(provider, "service account")
    if not project:
        return (f"To register this {what} as a pending publisher (for a new project), open "
                f"{pending} and enter the values above.")
    existing = f"{index.publishing_page(project)}?{fields.form_query()}"
    return (f"To add this {what} as a publisher of `{project}`, open (pre-filled): {existing}\n"
            f"- If `{project}` is not on the index yet, add a pending publisher for it at "
            f"{pending} with the values above.")


def user_warning(user: str) -> str | None:
    """The warning for a `user` input that Trusted Publishing is going to ignore, if any."""
    if user.strip() in ("", "__token__"):
        return None
    return (f"`user` is `{user}`, but no `password` or `PYPI_API_TOKEN` was given, so the upload "
            "uses Trusted Publishing, which always uploads as `__token__`: `user` is ignored. "
            "Remove `user` from the step, or pass the password that goes with it in `password`.")


def _invalid_publisher_hints(claims: Mapping[str, object], index: Index, project: str) -> list[str]:
    fields = PublisherFields.from_claims(claims)
    environment = (f"`{fields.environment}` (or empty, to allow any environment)"
                   if fields.environment else "empty (this job has no `environment:`)")
    hints = [
        "No Trusted Publisher on the index matches these claims. The project's GitHub publisher "
        f"must read exactly: owner `{fields.owner}`, repository name `{fields.repository}`, "
        f"workflow name `{fields.workflow}`, environment name {environment}.",
        "The index also matches the owner's numeric id (`repository_owner_id` "
        f"`{claim(claims, 'repository_owner_id') or 'MISSING'}`), saved when the publisher was "
        "added: if the repository moved to another owner, or the owner's account was re-created, "
        "remove the publisher and add it again.",
    ]
    job_ref = claim(claims, "job_workflow_ref")
    caller_ref = claim(claims, "workflow_ref")
    if job_ref and caller_ref and job_ref != caller_ref:
        reusable_repo = job_ref.split("/.github/", 1)[0]
        repository = claim(claims, "repository") or ""
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
    if claim(claims, "event_name") == "pull_request_target":
        hints.append(
            "PyPI refuses ID tokens from `pull_request_target` runs (claim `event_name`): publish "
            "on `push` of a tag, `release` or `workflow_dispatch` instead."
        )
    link = publisher_links(index, claims, project)
    if link:
        hints.append(link)
    return hints


def _code_hint(code: str, description: str, claims: Mapping[str, object],
               provider: str = "GitHub") -> str | None:
    if provider != "GitHub":
        return tp_providers.code_hint(provider, code, description, claims)
    if code == "invalid-payload" and "issuer" in description:
        return (f"The index does not accept ID tokens from issuer `{claim(claims, 'iss')}` (claim "
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
                f"not know (token: audience `{claim(claims, 'aud')}`, issuer "
                f"`{claim(claims, 'iss')}`, issued {when(claims.get('iat'))}, expires "
                f"{when(claims.get('exp'))}). Re-run the job: each attempt gets a fresh token.")
    if code == "invalid-reuse-token":
        return ("The index had seen this ID token before; each is accepted once. pypi-publish "
                "asks for a fresh one per attempt, so something between the job and GitHub handed "
                "out the same token twice (a cache, or another step). Re-run the job.")
    if code == "invalid-pending-publisher":
        return ("A pending publisher matched this workflow, but its project already exists on the "
                "index, so the pending publisher was dropped: add the publisher on the existing "
                "project's publishing settings instead.")
    return None


def explain_refusal(answer: MintAnswer, claims: Mapping[str, object], index: Index,
                    project: str = "", provider: str = "GitHub",
                    detected: str = "") -> TrustedPublishingError:
    """The diagnostic for a refused exchange: every reason, the claims, and what to change.

    `provider` names where the ID token came from; `detected`, how that was found (not GitHub).
    """
    reasons = [(error["code"], error["description"]) for error in answer.get("errors", [])]
    summary = answer.get("message")
    listing = "\n".join(f"- `{code}`: {description}" for code, description in reasons)
    shown = CLAIMS_SHOWN if provider == "GitHub" else tp_providers.claims_shown(provider)
    message = (f"The index refused to exchange this job's {provider} ID token for an upload token: "
               f"{text(summary) if summary else 'no reason given'}.\n"
               + (f"{listing}\n" if listing else "")
               + f"The claims the index matched on:\n{render_claims(claims, shown)}"
               + (f"\nDetected: {detected}." if detected else ""))
    codes = [code for code, _ in reasons]
    hints = [hint for code, description in reasons
             if (hint := _code_hint(code, description, claims, provider)) is not None]
    if "invalid-publisher" in codes and provider != "GitHub":
        hints += tp_providers.invalid_publisher_hints(provider, claims)
        link = publisher_links(index, claims, project, provider)
        hints += [link] if link else []
    elif "invalid-publisher" in codes:
        hints += _invalid_publisher_hints(claims, index, project)
    elif "invalid-pending-publisher" in codes:
        link = publisher_links(index, claims, project, provider)
        if link:
            hints.append(link)
    if not hints:
        hints.append("The index gave no reason pypi-publish knows; check the publisher on the "
                     "index against the claims above, or use an API token.")
    return TrustedPublishingError(message, hints[0] + "".join(f"\n- {h}" for h in hints[1:]))
